import type { IncomingMessage } from 'node:http';
import { ReplayRequest, StandInRequest } from './replay-request.ts';

/** The body crossed the size limit mid-stream; whoever was reading it (a proxy) must give up. */
export class RequestTooLargeError extends Error {
  override readonly name = 'RequestTooLargeError';
  readonly code = 'request_too_large';
  readonly status = 413;
  readonly expose = true;
  constructor(readonly limitBytes: number) {
    super(`Request body exceeds the limit of ${limitBytes} bytes.`);
  }
}

const noop = () => {};

/** Whether `error`, or one of its causes, is a `RequestTooLargeError` (undici wraps body errors). */
export function isRequestTooLarge(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    if (current instanceof RequestTooLargeError) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The body of `req` as one buffer when errorEnrichment holds all of it unread (see `takeWhole`). */
export function takeWholeBody(req: unknown): Buffer | null {
  if (req instanceof ReplayRequest) return req.takeWhole();
  return req instanceof CapturingRequest ? req.takeWhole() : null;
}

export type CaptureState = 'streaming' | 'ended' | 'too_large' | 'aborted';

/**
 * The request on `ctx.req` while the middleware watches its body: it yields the original's bytes
 * as they arrive, with back-pressure (the original is paused while nobody reads), and keeps a
 * reference to each chunk, not a copy, for a diagnosis. `release()` lets go of the chunks; the
 * bytes still flow. Past `limit` bytes the stream fails with `RequestTooLargeError`, so a proxy
 * reading it aborts its upstream request before an oversize body is ever complete.
 */
export class CapturingRequest extends StandInRequest {
  state: CaptureState = 'streaming';
  received = 0;
  private chunks: Buffer[] | null;
  private listening = false;
  /** While a diagnosis waits for the rest of the body, read on even if nobody downstream does. */
  private draining = false;
  private settled: (() => void)[] = [];

  constructor(
    original: IncomingMessage,
    private readonly limit: number,
    /** Whether to keep the chunks at all (false: only count and forward them). */
    keep = true,
  ) {
    super(original);
    this.chunks = keep ? [] : null;
    // A refusal or a departed client fails this stream; when no route downstream reads it, the
    // failure must not become an uncaught 'error' event.
    this.on('error', noop);
  }

  get complete(): boolean {
    return this.original.complete;
  }

  override _read(): void {
    this.listen();
    this.original.resume();
  }

  /** The bytes kept so far, in one buffer; null once released or refused. */
  bytes(): Buffer | null {
    if (!this.chunks) return null;
    const bytes = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.received);
    return bytes ?? Buffer.alloc(0);
  }

  /**
   * The whole body as one buffer when it has all arrived and nobody has read any of it yet, for a
   * proxy to send as a buffer rather than a stream (cheaper for small bodies); null otherwise.
   * Reading it this way consumes the stream.
   */
  takeWhole(): Buffer | null {
    if (this.state !== 'ended' || !this.chunks || this.readableDidRead) return null;
    const bytes = this.bytes();
    // What this stream buffered is now handed over as `bytes`; it must not be read twice.
    this.resume();
    return bytes;
  }

  /** Stop keeping the body (the bytes still flow to whoever reads). */
  release(): void {
    this.chunks = null;
  }

  /**
   * Resolves once the whole body was received (or refused, or the client left), reading it even
   * when nobody downstream does: a route that answered 403 without reading the body still gets it
   * diagnosed.
   */
  finished(): Promise<void> {
    if (this.state !== 'streaming') return Promise.resolve();
    this.draining = true;
    this.listen();
    this.original.resume();
    return new Promise((resolve) => this.settled.push(resolve));
  }

  private listen(): void {
    if (this.listening) return;
    this.listening = true;
    this.original.on('data', this.onData);
    this.original.once('end', this.onEnd);
    this.original.once('error', this.onError);
    this.original.once('aborted', this.onAborted);
  }

  private settle(state: CaptureState): void {
    this.state = state;
    this.original.off('data', this.onData);
    this.original.off('end', this.onEnd);
    this.original.off('error', this.onError);
    this.original.off('aborted', this.onAborted);
    for (const resolve of this.settled.splice(0)) resolve();
  }

  private readonly onData = (chunk: Buffer): void => {
    this.received += chunk.length;
    if (this.received > this.limit) {
      this.chunks = null;
      // Nothing more is read here; the refusal's lingering close discards the rest.
      this.original.pause();
      this.settle('too_large');
      this.destroy(new RequestTooLargeError(this.limit));
      return;
    }
    this.chunks?.push(chunk);
    if (!this.push(chunk) && !this.draining) this.original.pause();
  };

  private readonly onEnd = (): void => {
    this.settle('ended');
    this.push(null);
  };

  private readonly onError = (error: Error): void => {
    this.settle('aborted');
    this.destroy(error);
  };

  private readonly onAborted = (): void => {
    this.settle('aborted');
    this.destroy(new Error('client aborted the upload'));
  };
}

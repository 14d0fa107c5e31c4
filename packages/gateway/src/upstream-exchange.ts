import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Context } from 'koa';
import { type Dispatcher, errors } from 'undici';
import { endToEndHeaders } from './hop-by-hop.ts';
import { REQUEST_ID_HEADER } from './request-id.ts';
import type { UpstreamResult } from './request-tracing.ts';

/** What every exchange of one proxy shares: set once, when the middleware is made. */
export interface ExchangeSettings {
  logger: { debug(fields: object, message: string): void };
  onUpstreamResponse: (event: { status: number; seconds: number }) => void;
}

/** Error bodies up to this size that have arrived whole with their headers are passed on as one buffer. */
const BUFFERED_ERROR_MAX_BYTES = 64 * 1024;

/** Response headers the client must not get from the upstream: the gateway's request id wins. */
const RESPONSE_DROP: ReadonlySet<string> = new Set([REQUEST_ID_HEADER]);

type Phase =
  /** No response head yet. */
  | 'waiting'
  /** A success, written straight to the client. */
  | 'piping'
  /** An error's body, kept until the middleware takes it (the chunks of the current socket read). */
  | 'collecting'
  /** An error's body, handed to Koa as a stream. */
  | 'streaming'
  /** An error's body, handed to Koa as one buffer. */
  | 'taken';

/**
 * One proxied request, as an undici dispatch handler. A success (2xx) is written to the client as
 * its chunks arrive, with the upstream paused while the client's socket is full: no response
 * stream and no pipe stand between the two sockets. An error stays a Koa body, for error
 * enrichment and the error headers to work on (see `errorBody`).
 *
 * The exchange also owns the client's `close`: a client that leaves cancels the upstream request,
 * before its headers or in the middle of its body.
 */
export class UpstreamExchange implements Dispatcher.DispatchHandler {
  /** The client left before its response was complete. */
  aborted = false;
  /** The upstream's status, once its head arrived. */
  status = 0;
  /** Whether the upstream's response said what its content type is. */
  typed = true;
  private phase: Phase = 'waiting';
  private controller: Dispatcher.DispatchController | null = null;
  private resolve: ((piped: boolean) => void) | null = null;
  private reject: ((error: Error) => void) | null = null;
  private chunks: Buffer[] = [];
  private received = 0;
  private ended = false;
  private failure: Error | null = null;
  private body: UpstreamErrorBody | null = null;
  private waitingForDrain = false;
  /** Made the first time the client's socket fills: most responses never need it. */
  private onDrain: (() => void) | null = null;
  private readonly started = performance.now();
  private readonly res: ServerResponse;

  constructor(
    private readonly ctx: Context,
    private readonly settings: ExchangeSettings,
    private readonly requestId: string | null,
    private endSpan: ((result: UpstreamResult) => void) | undefined,
  ) {
    this.res = ctx.res;
    this.res.once('close', this.onClientClose);
  }

  /**
   * Send the request. Resolves once the response head is in: true when it was a success, already
   * on its way to the client (nothing is left to do), false for an error, whose body `errorBody`
   * gives. Rejects when no response came (the failure is the caller's to answer).
   */
  start(dispatcher: Dispatcher, options: Dispatcher.DispatchOptions): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      dispatcher.dispatch(options, this);
    });
  }

  /** Seconds since the request was sent. */
  seconds(): number {
    return (performance.now() - this.started) / 1000;
  }

  /** End the upstream call's span, once. */
  finishSpan(result: UpstreamResult): void {
    const end = this.endSpan;
    this.endSpan = undefined;
    end?.(result);
  }

  /**
   * The error's body, once the response head was in: one buffer when it is small and arrived
   * whole (passing it on is a plain write, and the upstream connection is kept), else a stream of
   * what is left, which is never waited for here (an upstream that stalls mid-body would hold the
   * answer until the body timeout). Koa destroys a stream that error enrichment replaces, which
   * cancels the upstream request and releases its connection.
   */
  errorBody(): Buffer | Readable {
    // Not for HEAD: Koa sets a buffer's own length (0), where the upstream's content-length must stand.
    if (this.ended && this.received <= BUFFERED_ERROR_MAX_BYTES && this.ctx.method !== 'HEAD') {
      this.phase = 'taken';
      const chunks = this.chunks;
      this.chunks = [];
      return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.received);
    }
    const body = new UpstreamErrorBody(this);
    this.body = body;
    this.phase = 'streaming';
    for (const chunk of this.chunks) body.push(chunk);
    this.chunks = [];
    if (this.failure) body.destroy(this.failure);
    else if (this.ended) body.push(null);
    return body;
  }

  /** Cancel the upstream request (a stream of its body was destroyed, or the client left). */
  cancel(reason: Error): void {
    if (this.ended || this.failure) return;
    if (this.controller) this.controller.abort(reason);
  }

  /** Ask for more of the body (a stream of it was read). */
  resumeUpstream(): void {
    this.controller?.resume();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.aborted) controller.abort(new errors.RequestAbortedError());
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx informational answers (`103 Early Hints`) are not the response.
    if (statusCode < 200) return;
    this.status = statusCode;
    this.controller = controller;
    this.settings.onUpstreamResponse({ status: statusCode, seconds: this.seconds() });
    const ctx = this.ctx;
    const res = this.res;
    const kept = endToEndHeaders(headers, RESPONSE_DROP);
    // Straight onto the response (what ctx.set does, less its per-call checks): undici hands out
    // strings and arrays of strings only.
    for (const name in kept) res.setHeader(name, kept[name] as string | string[]);
    if (statusCode >= 300) {
      ctx.status = statusCode;
      this.phase = 'collecting';
      this.typed = kept['content-type'] !== undefined;
      this.settle(false);
      return;
    }
    // A success is the upstream's to the last byte: no middleware rewrites it, so it bypasses
    // Koa's response handling (a stream body would cost an AbortController and a pipeline).
    // The headers set on `ctx` so far are on `res` already (ctx.set writes through), and
    // `ctx.status` reads the status writeHead sets.
    this.phase = 'piping';
    ctx.respond = false;
    res.writeHead(statusCode);
    this.settle(true);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    switch (this.phase) {
      case 'piping':
        if (!this.res.write(chunk) && !this.waitingForDrain) {
          // The client's socket is full: the upstream waits until it drains.
          this.waitingForDrain = true;
          controller.pause();
          this.onDrain ??= () => {
            this.waitingForDrain = false;
            this.controller?.resume();
          };
          this.res.once('drain', this.onDrain);
        }
        return;
      case 'collecting':
        this.chunks.push(chunk);
        this.received += chunk.length;
        return;
      case 'streaming':
        if (!this.body?.push(chunk)) controller.pause();
        return;
      default:
        return;
    }
  }

  onResponseEnd(): void {
    this.ended = true;
    if (this.phase === 'piping') this.res.end();
    else if (this.phase === 'streaming') this.body?.push(null);
    this.finishSpan({ status: this.status });
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.phase === 'waiting') {
      // No response: the caller answers (502, 504, 413, 400) or, when the client left, nobody does.
      const reject = this.reject;
      this.resolve = null;
      this.reject = null;
      this.res.off('close', this.onClientClose);
      reject?.(error);
      return;
    }
    this.failure = error;
    this.settings.logger.debug(
      { requestId: this.requestId, err: (error as { code?: string }).code ?? error.message },
      'upstream body ended early',
    );
    this.finishSpan({ status: this.status });
    // A body cut mid-way cuts the client's connection, so a truncated response is never mistaken
    // for a complete one.
    if (this.phase === 'piping') this.res.destroy();
    else if (this.phase === 'streaming') this.body?.destroy(error);
  }

  private settle(piped: boolean): void {
    const resolve = this.resolve;
    this.resolve = null;
    this.reject = null;
    resolve?.(piped);
  }

  private readonly onClientClose = (): void => {
    if (this.res.writableFinished) return;
    this.aborted = true;
    // Before the response head, the request is cancelled (or, still queued for a connection,
    // cancelled as it starts); after it, so is the body being read.
    this.cancel(new errors.RequestAbortedError());
  };
}

/** An upstream error's body as a stream, read with back-pressure; destroying it cancels the request. */
class UpstreamErrorBody extends Readable {
  constructor(private readonly exchange: UpstreamExchange) {
    super();
    // A body destroyed with an error (the client left, a body timeout) must not become an
    // uncaught 'error' event when nobody reads it any more.
    this.on('error', ignore);
  }

  override _read(): void {
    this.exchange.resumeUpstream();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.exchange.cancel(error ?? new errors.RequestAbortedError());
    callback(error);
  }
}

function ignore(): void {}

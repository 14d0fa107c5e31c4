import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';

// What Koa, body parsers and proxies read off a request besides its body.
const DELEGATED = [
  'headers',
  'headersDistinct',
  'rawHeaders',
  'trailers',
  'trailersDistinct',
  'rawTrailers',
  'method',
  'url',
  'httpVersion',
  'httpVersionMajor',
  'httpVersionMinor',
  'socket',
  'connection',
  'aborted',
] as const;

/**
 * A stream that stands in for a request on `ctx.req`: headers, method, URL and socket are read
 * through to the original; the body is whatever the subclass yields.
 */
export abstract class StandInRequest extends Readable {
  constructor(readonly original: IncomingMessage) {
    super();
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.original.setTimeout(ms, callback);
    return this;
  }
}

// Accessors on the prototype, defined once, rather than per request.
for (const name of DELEGATED) {
  Object.defineProperty(StandInRequest.prototype, name, {
    get(this: StandInRequest) {
      return this.original[name];
    },
    set(this: StandInRequest, value: unknown) {
      (this.original as unknown as Record<string, unknown>)[name] = value;
    },
    enumerable: true,
    configurable: true,
  });
}

/**
 * The body a parser that ran first consumed cannot be given back as the client's bytes. Speaks
 * Koa's error protocol: a 400 the client is told about.
 */
export class UnforwardableBodyError extends Error {
  override readonly name = 'UnforwardableBodyError';
  readonly status = 400;
  readonly expose = true;
  constructor(readonly reason: string) {
    super(
      'The request body cannot be forwarded byte for byte: a body parser read it first and ' +
        reason.replace(/^it /, ''),
    );
  }
}

/** Whether `error` (or an error it wraps, as undici does) is an `UnforwardableBodyError`. */
export function isUnforwardableBody(error: unknown): error is UnforwardableBodyError {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    if (current instanceof UnforwardableBodyError) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * A stand-in for a request whose body was already read (by a body parser, or whole by the
 * middleware): its body stream yields the bytes again, pushed only when somebody reads it.
 */
export class ReplayRequest extends StandInRequest {
  readonly complete = true;

  constructor(
    original: IncomingMessage,
    private bytes: Buffer | null,
    private readonly failure: UnforwardableBodyError | null,
  ) {
    super(original);
  }

  override _read(): void {
    if (this.failure) {
      this.destroy(this.failure);
      return;
    }
    if (this.bytes && this.bytes.length > 0) this.push(this.bytes);
    this.bytes = null;
    this.push(null);
  }

  /**
   * The body as one buffer, for a proxy to send as a buffer rather than a stream, when nobody has
   * read any of it yet; null otherwise. Taking it consumes the stream: a later read finds it empty.
   */
  takeWhole(): Buffer | null {
    if (this.failure || this.readableDidRead) return null;
    const bytes = this.bytes;
    this.bytes = null;
    return bytes;
  }
}

/**
 * Let code after the middleware read `ctx.req` as if nobody had read it before: a request whose
 * body stream yields `bytes` again (or fails with `failure`), and whose everything else is the
 * original's.
 */
export function replayRequest(original: IncomingMessage, body: Buffer | UnforwardableBodyError): IncomingMessage {
  return (Buffer.isBuffer(body)
    ? new ReplayRequest(original, body, null)
    : new ReplayRequest(original, null, body)) as unknown as IncomingMessage;
}

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
 * A stand-in for an already-read request: the same headers, method, URL and socket (read through
 * to the original), and a body stream that yields the captured bytes again.
 */
class ReplayRequest extends Readable {
  readonly complete = true;

  constructor(
    readonly original: IncomingMessage,
    private bytes: Buffer | null,
  ) {
    super();
  }

  override _read(): void {
    if (this.bytes && this.bytes.length > 0) this.push(this.bytes);
    this.bytes = null;
    this.push(null);
  }

  setTimeout(ms: number, callback?: () => void): this {
    this.original.setTimeout(ms, callback);
    return this;
  }
}

// Accessors on the prototype, defined once, rather than per request.
for (const name of DELEGATED) {
  Object.defineProperty(ReplayRequest.prototype, name, {
    get(this: ReplayRequest) {
      return this.original[name];
    },
    set(this: ReplayRequest, value: unknown) {
      (this.original as unknown as Record<string, unknown>)[name] = value;
    },
    enumerable: true,
    configurable: true,
  });
}

/**
 * Let code after the middleware read `ctx.req` as if nobody had read it before: a request whose
 * body stream yields `bytes` again, and whose everything else is the original's.
 */
export function replayRequest(original: IncomingMessage, bytes: Buffer): IncomingMessage {
  return new ReplayRequest(original, bytes) as unknown as IncomingMessage;
}

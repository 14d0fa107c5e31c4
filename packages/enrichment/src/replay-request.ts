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
 * A stand-in for an already-read request: the same headers, method, URL and socket, and a body
 * stream that yields `bytes` again. Lets code after the middleware read `ctx.req` as if nobody
 * had read it before.
 */
export function replayRequest(original: IncomingMessage, bytes: Buffer): IncomingMessage {
  const replay = new Readable({
    read() {
      if (bytes.length > 0) this.push(bytes);
      this.push(null);
    },
  });
  for (const name of DELEGATED) {
    Object.defineProperty(replay, name, {
      get: () => original[name],
      set: (value: unknown) => {
        (original as unknown as Record<string, unknown>)[name] = value;
      },
      enumerable: true,
    });
  }
  Object.defineProperty(replay, 'complete', { value: true, enumerable: true });
  Object.defineProperty(replay, 'setTimeout', {
    value: (ms: number, callback?: () => void) => {
      original.setTimeout(ms, callback);
      return replay;
    },
  });
  return replay as unknown as IncomingMessage;
}

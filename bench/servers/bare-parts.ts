/**
 * What the bare reference servers (bare-proxy.ts, bare-explainer.ts) share: the headers they
 * leave out, and how they pass an upstream's answer on. Kept minimal on purpose: these servers
 * measure what Node and undici cost, not a product.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';

/** Headers of one connection or of the body's framing: never passed on as they are. */
const DROP: ReadonlySet<string> = new Set(['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

/** The client's headers as they go upstream (undici frames the body and sets the host itself). */
export function upstreamHeaders(headers: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !DROP.has(name)) out[name] = value;
  return out;
}

/** The upstream's answer, piped to the client unchanged; its length stands, as the body is not altered. */
export function passOn(res: ServerResponse, answer: Dispatcher.ResponseData): void {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(answer.headers))
    if (value !== undefined && (!DROP.has(name) || name === 'content-length')) out[name] = value;
  res.writeHead(answer.statusCode, out);
  answer.body.pipe(res);
}

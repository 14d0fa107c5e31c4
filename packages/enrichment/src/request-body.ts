import type { IncomingMessage } from 'node:http';

/** Whether a request carries a body at all (RFC 9112 §6.3): a length above zero, or chunked. */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

import { connect } from 'node:net';

export interface RawExchange {
  /** 0 when the server closed the connection without answering. */
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** True when no complete answer came within the time allowed: a hang. */
  hung: boolean;
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < body.length) {
    const lineEnd = body.indexOf('\r\n', offset);
    if (lineEnd < 0) break;
    const size = Number.parseInt(body.subarray(offset, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/**
 * Send bytes exactly as given (malformed HTTP included) and read one response, the connection
 * closing after it. `halfClose` ends the write side after sending, like a client that stops
 * mid-body. A response that does not arrive within `timeoutMs` counts as a hang.
 */
export function rawExchange(
  port: number,
  request: Buffer | string,
  options: { timeoutMs?: number; halfClose?: boolean } = {},
): Promise<RawExchange> {
  const { timeoutMs = 5000, halfClose = false } = options;
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let settled = false;
    const finish = (hung: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(chunks);
      const headerEnd = data.indexOf('\r\n\r\n');
      if (headerEnd < 0) {
        resolve({ status: 0, headers: {}, body: data, hung });
        return;
      }
      const [statusLine = '', ...lines] = data.subarray(0, headerEnd).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body: Buffer = data.subarray(headerEnd + 4);
      if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
      else if (headers['content-length'] !== undefined) body = body.subarray(0, Number(headers['content-length']));
      resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body, hung });
    };
    const timer = setTimeout(() => finish(true), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      // One response is all we want: stop once it is complete, whatever the connection does.
      const data = Buffer.concat(chunks);
      const headerEnd = data.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const head = data.subarray(0, headerEnd).toString('latin1').toLowerCase();
      const length = /\r\ncontent-length:\s*(\d+)/.exec(head)?.[1];
      if (length !== undefined && data.length >= headerEnd + 4 + Number(length)) finish(false);
      if (head.includes('transfer-encoding: chunked') && data.subarray(headerEnd).includes('\r\n0\r\n\r\n'))
        finish(false);
    });
    socket.on('end', () => finish(false));
    socket.on('close', () => finish(false));
    socket.on('error', () => finish(false));
    socket.write(request, () => {
      if (halfClose) socket.end();
    });
  });
}

/** A request in wire form; `Connection: close` unless the headers say otherwise. */
export function wire(
  method: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer | string = '',
): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const all: Record<string, string> = { host: '127.0.0.1', connection: 'close', ...headers };
  if (all['content-length'] === undefined && all['transfer-encoding'] === undefined && bytes.length > 0) {
    all['content-length'] = String(bytes.length);
  }
  const head = `${method} ${path} HTTP/1.1\r\n${Object.entries(all)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), bytes]);
}

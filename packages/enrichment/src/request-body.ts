import type { IncomingMessage } from 'node:http';

export type BodyCapture =
  | { kind: 'captured'; bytes: Buffer }
  | { kind: 'too_large' }
  | { kind: 'aborted'; error: Error };

/** Whether a request carries a body at all (RFC 9112 §6.3): a length above zero, or chunked. */
export function hasBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Read the whole body, refusing early past `limit` bytes: at once when the declared length says
 * so, else as soon as the running total does, so a huge upload costs at most `limit` in memory.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyCapture> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve({ kind: 'too_large' });
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (result: BodyCapture) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        // Stop buffering; the 413 goes out with `connection: close` so the rest is never read.
        req.pause();
        finish({ kind: 'too_large' });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => finish({ kind: 'captured', bytes: Buffer.concat(chunks, received) });
    const onError = (error: Error) => finish({ kind: 'aborted', error });
    const onAborted = () => finish({ kind: 'aborted', error: new Error('client aborted the upload') });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

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
 * With a declared length the body is copied once into a buffer of that size.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<BodyCapture> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve({ kind: 'too_large' });
  const exact = Number.isSafeInteger(declared) && declared > 0 ? Buffer.allocUnsafe(declared) : null;
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
      if (received + chunk.length > limit) {
        finish({ kind: 'too_large' });
        return;
      }
      if (exact) chunk.copy(exact, received);
      else chunks.push(chunk);
      received += chunk.length;
    };
    // Node's parser never delivers more or fewer bytes than a declared length.
    const onEnd = () =>
      finish({ kind: 'captured', bytes: exact ? exact.subarray(0, received) : Buffer.concat(chunks, received) });
    const onError = (error: Error) => finish({ kind: 'aborted', error });
    const onAborted = () => finish({ kind: 'aborted', error: new Error('client aborted the upload') });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

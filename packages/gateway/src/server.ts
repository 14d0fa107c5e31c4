import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { onClientError } from './error-responses.ts';

/**
 * Listen on `port` (0 picks a free one) and resolve once bound, with the URL to reach it.
 * Rejects with the bind error (EADDRINUSE, EACCES) instead of crashing.
 *
 * @example
 * const { server, url } = await listen(app, 0, '127.0.0.1');
 */
export function listen(
  app: Koa | RequestListener,
  port: number,
  host: string,
): Promise<{ server: Server; url: string }> {
  return new Promise((resolve, reject) => {
    const server = createServer(typeof app === 'function' ? app : app.callback());
    server.listen(port, host);
    server.on('clientError', onClientError);
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      const { address, port: bound } = server.address() as AddressInfo;
      const hostname = address.includes(':') ? `[${address}]` : address;
      resolve({ server, url: `http://${hostname}:${bound}` });
    });
  });
}

/**
 * Stop accepting connections and let in-flight requests finish, for at most `timeoutMs`; then
 * cut whatever is still open. Resolves true when everything finished in time.
 */
export function drain(server: Server, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    // A kept-alive connection turns idle once its response is done; close it then, rather than
    // waiting for the client to send another request or hang up.
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    const deadline = setTimeout(() => {
      server.closeAllConnections();
      finish(false);
    }, timeoutMs);
    const finish = (drained: boolean) => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve(drained);
    };
    server.close(() => finish(true));
    server.closeIdleConnections();
  });
}

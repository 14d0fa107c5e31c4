import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

function json(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/**
 * What the port answers while the database is being opened, migrated or seeded: the process is
 * alive (`/healthz` 200) but cannot serve yet (`/readyz` 503 `starting`); any other request waits
 * for the gateway and is then handled by it.
 *
 * @example
 * const { server } = await listen(startingListener(gatewayReady), port, host);
 */
export function startingListener(gateway: Promise<RequestListener>): RequestListener {
  return function starting(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') json(res, 200, { status: 'ok' });
    else if (req.method === 'GET' && path === '/readyz') json(res, 503, { status: 'starting' });
    else void gateway.then((serve) => serve(req, res));
  };
}

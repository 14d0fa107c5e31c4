import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { type MetricsSource, PROMETHEUS_CONTENT_TYPE } from './metrics.ts';

function json(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

/**
 * What the port answers while the database is being opened, migrated or seeded: the process is
 * alive (`/healthz` 200) but cannot serve yet (`/readyz` 503 `starting`); `/metrics` answers from
 * `metrics` when given (a cluster worker: the other workers' sum, so a scrape is not held up by
 * one worker's start); any other request waits for the gateway and is then handled by it.
 *
 * @example
 * const { server } = await listen(startingListener(gatewayReady), port, host);
 */
export function startingListener(gateway: Promise<RequestListener>, metrics?: MetricsSource): RequestListener {
  return function starting(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') json(res, 200, { status: 'ok' });
    else if (req.method === 'GET' && path === '/readyz') json(res, 503, { status: 'starting' });
    else if (req.method === 'GET' && path === '/metrics' && metrics) {
      metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' }).end(text);
        },
        (error: Error) => {
          res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
          res.end(`metrics unavailable: ${error.message}\n`);
        },
      );
    } else void gateway.then((serve) => serve(req, res));
  };
}

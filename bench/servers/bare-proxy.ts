/**
 * The floor of a proxy written on Node: `node:http` in front of an undici pool, nothing else (no
 * Koa, no middleware, no enrichment, no metrics). It reads the small request body whole, sends it
 * upstream as one buffer and pipes the answer back. Only a reference for what Node itself costs per
 * exchange; it validates nothing and is not part of the product.
 * Usage: UPSTREAM_URL=http://… bare-proxy.ts
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { passOn, upstreamHeaders } from './bare-parts.ts';

const upstreamUrl = process.env.UPSTREAM_URL;
if (!upstreamUrl) {
  console.error('usage: UPSTREAM_URL=http://… bare-proxy.ts');
  process.exit(2);
}
const pool = new Pool(upstreamUrl, { connections: 256 });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    pool
      .request({
        path: (req.url ?? '/').replace(/^\/ai/, ''),
        method: req.method as 'POST',
        headers: upstreamHeaders(req.headers),
        body: Buffer.concat(chunks),
      })
      .then((answer) => passOn(res, answer))
      .catch(() => res.writeHead(502).end());
  });
});
server.listen(0, '127.0.0.1', () => {
  console.log(`LISTENING http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
// A normal exit, so that --cpu-prof writes its profile.
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close();
  void pool.destroy().finally(() => process.exit(0));
});

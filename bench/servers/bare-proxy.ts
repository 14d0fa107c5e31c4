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

const upstreamUrl = process.env.UPSTREAM_URL;
if (!upstreamUrl) {
  console.error('usage: UPSTREAM_URL=http://… bare-proxy.ts');
  process.exit(2);
}
const pool = new Pool(upstreamUrl, { connections: 256 });
const DROP = new Set(['host', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(req.headers))
      if (value !== undefined && !DROP.has(name)) headers[name] = value;
    pool
      .request({
        path: (req.url ?? '/').replace(/^\/ai/, ''),
        method: req.method as 'POST',
        headers,
        body: Buffer.concat(chunks),
      })
      .then((answer) => {
        const out: Record<string, string | string[]> = {};
        // The upstream's length stands: the body is passed on unchanged.
        for (const [name, value] of Object.entries(answer.headers))
          if (value !== undefined && (!DROP.has(name) || name === 'content-length')) out[name] = value;
        res.writeHead(answer.statusCode, out);
        answer.body.pipe(res);
      })
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

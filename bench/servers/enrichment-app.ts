/**
 * A small Koa app whose handler reads the request body from `ctx.req` and answers 200, with or
 * without `errorEnrichment` in front: the pass-through path the middleware adds to every request.
 * Usage: enrichment-app.ts on|off (DATABASE_URL: any reachable Postgres; pass-through sends no query).
 */
import { openDatabase } from '@control-layer/db';
import { errorEnrichment } from '@control-layer/enrichment';
import Koa from 'koa';

const mode = process.argv[2];
const url = process.env.DATABASE_URL;
if ((mode !== 'on' && mode !== 'off') || !url) {
  console.error('usage: DATABASE_URL=postgres://… enrichment-app.ts on|off');
  process.exit(2);
}
const { db, close } = await openDatabase(url);
const app = new Koa();
if (mode === 'on') app.use(errorEnrichment({ db }));
app.use(async (ctx) => {
  let length = 0;
  for await (const chunk of ctx.req) length += (chunk as Buffer).length;
  ctx.body = { ok: true, length };
});
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object')
    console.log(`LISTENING http://127.0.0.1:${address.port}/ai/v1/chat/completions`);
});
process.on('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void close();
});

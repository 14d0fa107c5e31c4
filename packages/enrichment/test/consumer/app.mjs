// A plain-JavaScript Koa app using the installed packages: no TypeScript, no loader.
// Usage: node app.mjs <postgres url of an empty database>; prints one JSON line of results.
import { migrate, openDatabase } from '@control-layer/db';
import { seedDenialWorld } from '@control-layer/db/testing';
import { errorEnrichment } from '@control-layer/enrichment';
import Koa from 'koa';

const { db, close } = await openDatabase(process.argv[2]);
await migrate(db);
const { keys } = await seedDenialWorld(db, 'chat-model');

const app = new Koa();
app.use(errorEnrichment({ db }));
// Stands in for the router: refuses everything with a bare 403.
app.use((ctx) => {
  ctx.status = 403;
  ctx.body = { error: { message: 'Forbidden', type: 'invalid_request_error', param: null, code: 'forbidden' } };
});
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const { port } = server.address();

async function ask(key) {
  const response = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'chat-model', messages: [{ role: 'user', content: 'hi' }] }),
  });
  return { status: response.status, retry: response.headers.get('x-should-retry'), body: await response.json() };
}

const results = { broke: await ask(keys.broke), outsider: await ask(keys.outsider), unknown: await ask('sk-unknown') };
server.close();
await close();
console.log(JSON.stringify(results));

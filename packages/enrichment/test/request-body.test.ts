import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { withTestDatabase } from '@control-layer/db/testing';
import type Koa from 'koa';
import type { Context } from 'koa';
import { koaBody } from 'koa-body';
import request from 'supertest';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SMALL_BODY_BYTES } from '../src/capture-body.ts';
import { chat, createApp, forbidding, keyHolder } from './helpers.ts';

const test = suite('request body');

async function readStream(ctx: Context): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A downstream that answers with the body bytes it read from the `ctx.req` stream. */
const echoStream = async (ctx: Context) => {
  const bytes = await readStream(ctx);
  ctx.type = 'text/plain';
  ctx.body = bytes;
};

/** Send a chunked upload (no content-length) to a listening app. */
async function chunkedUpload(app: Koa, chunks: Buffer[]): Promise<{ status: number; body: string; headers: object }> {
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await new Promise((resolve, reject) => {
      const req = httpRequest({ port, host: '127.0.0.1', method: 'POST', path: '/ai/v1/chat/completions' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        // The server may close while chunks are still being written; the answer was already read.
        if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
      });
      for (const chunk of chunks) req.write(chunk);
      req.end();
    });
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

test('refuses a declared oversize body with 413 before anything runs downstream', () =>
  withTestDatabase(async (db) => {
    const { downstream, calls } = forbidding();
    const app = createApp({ db, maxBodyBytes: 1024 }, downstream);
    const response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('content-type', 'application/json')
      .send(JSON.stringify({ model: 'm', pad: 'x'.repeat(2048) }));
    assert.is(response.status, 413);
    assert.is(response.body.error.code, 'request_too_large');
    assert.is(response.body.error.type, 'invalid_request_error');
    assert.is(response.body.error.limit_bytes, 1024);
    assert.is(response.headers['x-should-retry'], 'false');
    assert.is(calls.count, 0);
  }));

test('refuses a chunked oversize body as soon as it passes the limit, failing the downstream read', () =>
  withTestDatabase(async (db) => {
    const seen = { completed: 0, failed: 0, bytes: 0 };
    const app = createApp({ db, maxBodyBytes: 64 * 1024 }, async (ctx) => {
      try {
        seen.bytes = (await readStream(ctx)).length;
        seen.completed++;
      } catch (error) {
        seen.failed++;
        throw error;
      }
    });
    const chunks = Array.from({ length: 64 }, () => Buffer.alloc(16 * 1024, 0x61));
    const response = await chunkedUpload(app, chunks);
    assert.is(response.status, 413);
    assert.is(JSON.parse(response.body).error.code, 'request_too_large');
    assert.equal(seen, { completed: 0, failed: 1, bytes: 0 });
  }));

test('accepts a chunked body under the limit and hands on the same bytes', () =>
  withTestDatabase(async (db) => {
    const app = createApp({ db, maxBodyBytes: 64 * 1024 }, echoStream);
    const chunks = [Buffer.from('{"model":'), Buffer.from('"a",'), Buffer.from('"x":[1,2,3]}')];
    const response = await chunkedUpload(app, chunks);
    assert.is(response.status, 200);
    assert.is(response.body, '{"model":"a","x":[1,2,3]}');
  }));

test('hands the exact bytes downstream, invalid UTF-8 included, on ctx.req', () =>
  withTestDatabase(async (db) => {
    const app = createApp({ db }, echoStream);
    const bytes = Buffer.concat([
      Buffer.from('{"model":"a","x":"'),
      Buffer.from([0xff, 0xfe, 0x00]),
      Buffer.from('"}'),
    ]);
    const response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('content-type', 'application/octet-stream')
      .send(bytes)
      .buffer(true)
      .parse((res, done) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => done(null, Buffer.concat(chunks)));
      });
    assert.ok((response.body as Buffer).equals(bytes));
  }));

test('hands on byte-identical bodies with and without koa-body in front', () =>
  withTestDatabase(async (db) => {
    const payload = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'héllo  ✓' }], n: 1.5 });
    const bare = createApp({ db }, echoStream);
    const parsedFirst = createApp({ db }, echoStream, [koaBody({ includeUnparsed: true })]);
    const send = (app: Koa) =>
      request(app.callback()).post('/ai/v1/chat/completions').set('content-type', 'application/json').send(payload);
    const [a, b] = [await send(bare), await send(parsedFirst)];
    assert.is(a.text, payload);
    assert.is(b.text, payload);
  }));

test('lets a body parser after the middleware parse the replayed body', () =>
  withTestDatabase(async (db) => {
    const app = createApp({ db }, (ctx) => {
      ctx.body = { seen: (ctx.request as { body?: unknown }).body };
    });
    app.middleware.splice(1, 0, koaBody());
    const response = await request(app.callback()).post('/x').send(chat('after'));
    assert.equal(response.body.seen, chat('after'));
  }));

test('explains a denial when koa-body in front kept no raw copy, from its parsed body', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db);
    const app = createApp({ db }, forbidding().downstream, [koaBody()]);
    const response = await request(app.callback())
      .post('/x')
      .set('authorization', `Bearer ${secret}`)
      .send(chat('elsewhere'));
    assert.is(response.status, 403);
    assert.is(response.body.error.model, 'elsewhere');
  }));

test('passes GET requests and empty bodies through with an empty ctx.req', () =>
  withTestDatabase(async (db) => {
    const app = createApp({ db }, async (ctx) => {
      ctx.body = { streamed: (await readStream(ctx)).length };
    });
    assert.equal((await request(app.callback()).get('/ai/v1/models')).body, { streamed: 0 });
    assert.equal((await request(app.callback()).post('/ai/v1/chat/completions')).body, { streamed: 0 });
  }));

/** Set in front of the middleware: after the response is decided, say whether the body is still kept. */
const keptAfterwards: Koa.Middleware = async (ctx, next) => {
  await next();
  const capture = ctx.req as unknown as { bytes?: () => Buffer | null };
  ctx.set('x-kept', typeof capture.bytes !== 'function' ? 'no capture' : String(capture.bytes() !== null));
};

// A body over SMALL_BODY_BYTES streams through the capture, which keeps its chunks for a diagnosis;
// a smaller one is read whole, handed on once and kept nowhere else.
const streamedChat = { ...chat('elsewhere'), padding: 'x'.repeat(SMALL_BODY_BYTES + 1) };

test('keeps nothing of a streamed body once the response is decided, passed through or explained', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db, { credits: null });
    const reading = (status: number) => async (ctx: Context) => {
      await readStream(ctx);
      ctx.status = status;
      ctx.body = 'downstream';
    };
    const cases: [string, Koa, string | undefined, number][] = [
      ['a success', createApp({ db }, reading(200), [keptAfterwards]), secret, 200],
      ['a 403 without a token', createApp({ db }, reading(403), [keptAfterwards]), undefined, 403],
      ['a 403 for an unknown key', createApp({ db }, reading(403), [keptAfterwards]), 'sk-unknown', 403],
      ['an explained 403', createApp({ db }, reading(403), [keptAfterwards]), secret, 403],
      ['a 403 whose route read nothing', createApp({ db }, forbidding().downstream, [keptAfterwards]), secret, 403],
    ];
    for (const [name, app, token, status] of cases) {
      const r = request(app.callback()).post('/ai/v1/chat/completions').set('content-type', 'application/json');
      if (token) r.set('authorization', `Bearer ${token}`);
      const response = await r.send(JSON.stringify(streamedChat));
      assert.is(response.status, status, name);
      assert.is(response.headers['x-kept'], 'false', name);
    }
  }));

test.run();

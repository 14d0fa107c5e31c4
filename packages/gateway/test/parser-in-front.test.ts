/*
 * koa-body mounted before errorEnrichment, in front of the gateway's proxy and a real upstream
 * that records the bytes it gets: the upstream gets the client's exact bytes, or the client a 400
 * that says why (never a 502), and the log says once why such bodies cannot be forwarded.
 */
import { request as httpRequest } from 'node:http';
import { createTestDatabase } from '@control-layer/db/testing';
import { errorEnrichment } from '@control-layer/enrichment';
import Koa from 'koa';
import { koaBody } from 'koa-body';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createUpstreamPool, errorResponses, proxy } from '../src/index.ts';
import { scriptedUpstream, serve } from './helpers.ts';

const test = suite('body parser in front');

const t = await createTestDatabase();
const upstream = await scriptedUpstream();
const pool = createUpstreamPool(upstream.url);
const warnings: { fields: object; message: string }[] = [];
const logger = {
  warn: (fields: object, message: string) => warnings.push({ fields, message }),
  debug: () => {},
  error: () => {},
};

function gatewayWith(parser: Koa.Middleware) {
  const app = new Koa();
  app.silent = true;
  app.use(errorResponses({ logger }));
  app.use(parser);
  app.use(errorEnrichment({ db: t.db, logger }));
  app.use(proxy({ upstreamUrl: upstream.url, dispatcher: pool }));
  return serve(app);
}
const unparsedKept = await gatewayWith(koaBody({ includeUnparsed: true }));
const nothingKept = await gatewayWith(koaBody());

test.after(async () => {
  await unparsedKept?.close();
  await nothingKept?.close();
  await pool?.close();
  await upstream?.close();
  await t?.close();
});

/** POST `body` as is, with `content-type`, by node:http (which sends bytes unchanged). */
function post(port: number, body: Buffer, contentType: string, chunked = false) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = httpRequest(
      {
        port,
        host: '127.0.0.1',
        method: 'POST',
        path: '/ai/v1/chat/completions',
        headers: { 'content-type': contentType, ...(!chunked && { 'content-length': body.length }) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    // A write before end() makes node:http send it chunked; end(body) alone would set a length.
    if (chunked) req.write(body);
    req.end(chunked ? undefined : body);
  });
}

const json = (text: string) => Buffer.from(text, 'utf8');
const PLAIN = json('{"model":"m","messages":[{"role":"user","content":"héllo ✓"}]}');
const BOM = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), PLAIN]);
const LATIN1 = Buffer.from('{"model":"m","messages":[{"role":"user","content":"café"}]}', 'latin1');
const INVALID = Buffer.concat([json('{"model":"m","x":"'), Buffer.from([0xf0, 0x9f, 0x98]), json('"}')]);

test('forwards a UTF-8 body byte for byte from the text koa-body kept', async () => {
  const response = await post(unparsedKept.port, PLAIN, 'application/json');
  assert.is(response.status, 200);
  assert.ok(upstream.last().body.equals(PLAIN));
  assert.is(upstream.last().headers['content-length'], String(PLAIN.length));
});

const UNFORWARDABLE: [string, Buffer, string][] = [
  ['a body with a byte order mark', BOM, 'application/json'],
  ['a charset=latin1 body', LATIN1, 'application/json; charset=latin1'],
  ['a body of invalid UTF-8', INVALID, 'application/json'],
];

for (const [name, body, contentType] of UNFORWARDABLE) {
  test(`refuses ${name} with a 400 that says why, and the upstream gets nothing`, async () => {
    const before = upstream.requests.length;
    const response = await post(unparsedKept.port, body, contentType);
    assert.is(response.status, 400, response.body);
    const error = (JSON.parse(response.body) as { error: { code: string; message: string } }).error;
    assert.is(error.code, 'bad_request');
    assert.match(error.message, /cannot be forwarded byte for byte/);
    assert.is(upstream.requests.length, before);
  });
}

test('refuses a chunked body, whose bytes the kept text cannot be checked against', async () => {
  const response = await post(unparsedKept.port, PLAIN, 'application/json', true);
  assert.is(response.status, 400, response.body);
});

test('refuses a body koa-body kept no copy of, naming includeUnparsed', async () => {
  const response = await post(nothingKept.port, PLAIN, 'application/json');
  assert.is(response.status, 400, response.body);
  assert.match(response.body, /includeUnparsed/);
});

test('says why in one log line per middleware, however many bodies it refuses', () => {
  const lines = warnings.filter((w) => w.message.includes('a body parser runs before errorEnrichment'));
  assert.is(lines.length, 2, JSON.stringify(warnings));
  assert.match(JSON.stringify(lines[0]?.fields), /byte order mark/);
});

test.run();

/*
 * What the gateway must leave alone (a 403 nobody can explain, other statuses) and what it stops
 * before the upstream (an oversized body).
 */
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FORBIDDEN_BODY } from '../src/index.ts';
import { chat, scriptedUpstream, seedWorld, send, startGateway, startStack } from './helpers.ts';

const test = suite('pass-through');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
const upstream = await scriptedUpstream();
const gateway = await startGateway(t.db, upstream.url, { maxBodyBytes: 64 * 1024 });
const stack = await startStack(t.db);

test.after(async () => {
  await gateway?.close();
  await stack?.close();
  await upstream?.close();
  await t?.close();
});

const json = (key: string, body: unknown = chat()) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
  body: JSON.stringify(body),
});

test('passes a legitimate 403 through byte for byte', async () => {
  // Odd spacing, a trailing newline and a non-ASCII character: any re-serialisation would show.
  const original = Buffer.from('{ "error": {"message":"Forbidden: quota policy “night”", "code":"policy"} }\n');
  upstream.respondWith((_req, res) => {
    res
      .writeHead(403, {
        'content-type': 'application/problem+json',
        'content-length': original.length,
        'x-policy': 'night',
      })
      .end(original);
  });
  // The key has access, an allowed purpose and credits: nothing explains this 403.
  const response = await send(`${gateway.url}/ai/v1/chat/completions`, json(keys.working));
  assert.is(response.status, 403);
  assert.ok(response.body.equals(original), response.body.toString());
  assert.is(response.headers['content-type'], 'application/problem+json');
  assert.is(response.headers['content-length'], String(original.length));
  assert.is(response.headers['x-policy'], 'night');
  assert.is(response.headers['x-should-retry'], undefined);
});

test("passes the router's bare 403 for an unknown key exactly as the router sent it", async () => {
  const request = json('sk-not-a-key-anyone-made');
  const direct = await send(`${stack.stubUrl}/v1/chat/completions`, request);
  const proxied = await send(`${stack.gatewayUrl}/ai/v1/chat/completions`, request);
  assert.is(direct.body.toString(), FORBIDDEN_BODY);
  assert.is(proxied.status, 403);
  assert.ok(proxied.body.equals(direct.body));
  assert.is(proxied.headers['content-type'], direct.headers['content-type']);
});

test('passes other statuses through with their headers, even for keys it could explain', async () => {
  upstream.respondWith((_req, res) => {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' }).end('{"error":"slow down"}');
  });
  const response = await send(`${gateway.url}/ai/v1/chat/completions`, json(keys.broke));
  assert.is(response.status, 429);
  assert.is(response.headers['retry-after'], '7');
  assert.is(response.body.toString(), '{"error":"slow down"}');
});

test('refuses a body over the limit with 413 request_too_large, before the upstream sees it', async () => {
  const before = upstream.requests.length;
  const big = { ...chat(), padding: 'x'.repeat(70 * 1024) };
  const response = await send(`${gateway.url}/ai/v1/chat/completions`, json(keys.working, big));
  assert.is(response.status, 413);
  const { error } = JSON.parse(response.body.toString());
  assert.is(error.code, 'request_too_large');
  assert.is(error.type, 'invalid_request_error');
  assert.is(error.limit_bytes, 64 * 1024);
  assert.is(error.request_id, response.headers['x-request-id']);
  assert.is(response.headers['cache-control'], 'no-store');
  assert.is(upstream.requests.length, before);
});

test('marks every response with API security headers', async () => {
  for (const path of ['/healthz', '/metrics', '/ai/v1/models', '/nowhere']) {
    const response = await send(`${gateway.url}${path}`);
    assert.is(response.headers['x-content-type-options'], 'nosniff', path);
    assert.is(response.headers['x-frame-options'], 'DENY', path);
    assert.ok(response.headers['x-request-id'], path);
  }
});

test.run();

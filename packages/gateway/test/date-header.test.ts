/*
 * Every answer carries a `Date` (RFC 9110 §6.6.1: an origin server with a clock must send one):
 * explained denials, 413s, the gateway's own errors and Node's answer to unparsable requests.
 */
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { listen } from '../src/server.ts';
import { chat, closedAddress, MODEL, scriptedUpstream, seedWorld, send, startGateway } from './helpers.ts';
import { rawExchange, wire } from './raw-http.ts';

const test = suite('date header');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
const upstream = await scriptedUpstream();
// The upstream sends its own (old) date: an explained denial must not keep it, nor go without one.
const UPSTREAM_DATE = 'Mon, 01 Jan 2024 00:00:00 GMT';
upstream.respondWith((_req, res) => {
  res
    .writeHead(403, { 'content-type': 'application/json', date: UPSTREAM_DATE })
    .end('{"error":{"message":"Forbidden","type":"invalid_request_error","param":null,"code":"forbidden"}}');
});
const front = await startGateway(t.db, upstream.url, { maxBodyBytes: 1024 });
const dead = await startGateway(t.db, `http://${await closedAddress()}`);

test.after(async () => {
  await front?.close();
  await dead?.close();
  await upstream?.close();
  await t?.close();
});

function assertFreshDate(value: string | string[] | undefined, what: string): void {
  assert.type(value, 'string', `${what}: no date header`);
  const age = Math.abs(Date.now() - Date.parse(String(value)));
  assert.ok(age < 60_000, `${what}: date ${value} is not now`);
}

const post = (url: string, key: string, body: string) =>
  send(`${url}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
  });

test('dates an explained denial now, not with the upstream date', async () => {
  const response = await post(front.url, keys.outsider, JSON.stringify(chat(MODEL)));
  assert.is(JSON.parse(response.body.toString()).error.code, 'model_access_denied');
  assertFreshDate(response.headers.date, 'enriched 403');
});

test('dates a 413, declared and found while streaming', async () => {
  const declared = await post(front.url, keys.working, 'x'.repeat(4096));
  assert.is(declared.status, 413);
  assertFreshDate(declared.headers.date, 'declared 413');
  const port = Number(new URL(front.url).port);
  const chunk = 'x'.repeat(2048);
  const chunked = await rawExchange(
    port,
    wire(
      'POST',
      '/ai/v1/chat/completions',
      { authorization: `Bearer ${keys.working}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      `${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`,
    ),
  );
  assert.is(chunked.status, 413);
  assertFreshDate(chunked.headers.date, 'chunked 413');
});

test("dates the gateway's own errors: 404, 502 and an unparsable request", async () => {
  const missing = await send(`${front.url}/nowhere`);
  assert.is(missing.status, 404);
  assertFreshDate(missing.headers.date, '404');
  const unreachable = await post(dead.url, keys.working, JSON.stringify(chat(MODEL)));
  assert.is(unreachable.status, 502);
  assertFreshDate(unreachable.headers.date, '502');
  // Node's parser answers before the app: through the gateway's own listener.
  const { server, url } = await listen(front.gateway, 0, '127.0.0.1');
  const garbage = await rawExchange(Number(new URL(url).port), 'GET / HTTP/1.1\r\nbad header\r\n\r\n');
  server.close();
  assert.is(garbage.status, 400);
  assertFreshDate(garbage.headers.date, 'unparsable request');
});

test.run();

/*
 * When the upstream is down, silent or abandoned: the envelope errors the gateway answers with,
 * and the cancellation it passes on when the client leaves.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { rowsOf } from '@control-layer/db';
import { createTestDatabase, rejection } from '@control-layer/db/testing';
import { sql } from 'drizzle-orm';
import OpenAI from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  chat,
  closedAddress,
  gate,
  openaiClient,
  scriptedUpstream,
  seedWorld,
  send,
  startGateway,
  waitFor,
  within,
} from './helpers.ts';

const test = suite('upstream failures');

const t = await createTestDatabase();
const upstream = await scriptedUpstream();
// The silent upstream below never answers, so a short timeout is reached every time, never by chance.
const gateway = await startGateway(t.db, upstream.url, { upstreamHeadersTimeoutMs: 300 });
const nowhere = await startGateway(t.db, `http://${await closedAddress()}`);

test.after(async () => {
  await gateway?.close();
  await nowhere?.close();
  await upstream?.close();
  await t?.close();
});

function apiError(error: unknown): InstanceType<typeof OpenAI.APIError> {
  assert.instance(error, OpenAI.APIError);
  return error as InstanceType<typeof OpenAI.APIError>;
}

test('answers 502 upstream_unavailable when nothing listens upstream', async () => {
  const error = apiError(await rejection(() => openaiClient(nowhere.url, 'sk-any').chat.completions.create(chat())));
  assert.is(error.status, 502);
  assert.is(error.code, 'upstream_unavailable');
  assert.is(error.type, 'api_error');
  assert.ok(error.requestID);
  assert.is((error.error as { request_id?: string }).request_id, error.requestID);
  assert.not.ok(error.message.includes('127.0.0.2'), 'the upstream address must not leak to clients');
  assert.is(error.headers?.get('cache-control'), 'no-store');
  assert.is(error.headers?.get('x-should-retry'), null, 'a 502 may be retried');
});

test('answers 502 when the upstream drops the connection without a response', async () => {
  upstream.respondWith((_req, res) => res.socket?.destroy());
  const response = await send(`${gateway.url}/ai/v1/files`);
  assert.is(response.status, 502);
  assert.is(JSON.parse(response.body.toString()).error.code, 'upstream_unavailable');
});

test('answers 504 upstream_timeout when the upstream sends no headers in time', async () => {
  upstream.respondWith(() => {});
  const error = apiError(await rejection(() => openaiClient(gateway.url, 'sk-any').chat.completions.create(chat())));
  assert.is(error.status, 504);
  assert.is(error.code, 'upstream_timeout');
  assert.is(error.type, 'api_error');
  assert.is(error.param, null);
});

test('counts the failures in the metrics by code', async () => {
  const metrics = (await send(`${nowhere.url}/metrics`)).body.toString();
  assert.match(metrics, /^gateway_upstream_failures_total\{code="upstream_unavailable"\} 1$/m);
  const other = (await send(`${gateway.url}/metrics`)).body.toString();
  assert.match(other, /^gateway_upstream_failures_total\{code="upstream_timeout"\} 1$/m);
});

/** Start a request to the gateway; the returned handle can abandon it. */
function startRequest(url: string, body: string) {
  const req = httpRequest(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-any' },
    agent: false,
  });
  req.on('error', () => {});
  req.end(body);
  return req;
}

test('cancels the upstream request when the client leaves before the response starts', async () => {
  const arrived = gate();
  const cancelled = gate();
  upstream.respondWith((_req, res) => {
    res.on('close', () => cancelled.open());
    arrived.open();
  });
  const slow = await startGateway(t.db, upstream.url);
  try {
    const req = startRequest(`${slow.url}/ai/v1/chat/completions`, JSON.stringify(chat()));
    await within(arrived.promise, 'the request to reach the upstream');
    req.destroy();
    await within(cancelled.promise, 'the upstream connection to be closed');
    assert.is((await send(`${slow.url}/healthz`)).status, 200, 'the gateway survived');
  } finally {
    await slow.close();
  }
});

test('cancels the upstream stream when the client leaves in the middle of it', async () => {
  const cancelled = gate();
  upstream.respondWith((_req, res) => {
    res.on('close', () => cancelled.open());
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"n":1}\n\n');
  });
  const req = startRequest(`${gateway.url}/ai/v1/chat/completions`, JSON.stringify({ ...chat(), stream: true }));
  const [res] = (await within(
    new Promise<[IncomingMessage]>((resolve) => req.once('response', (r) => resolve([r]))),
    'the response headers',
  )) as [IncomingMessage];
  await within(new Promise((resolve) => res.once('data', resolve)), 'the first event');
  req.destroy();
  await within(cancelled.promise, 'the upstream stream to be closed');
  assert.is((await send(`${gateway.url}/healthz`)).status, 200, 'the gateway survived');
});

/** Sessions of this test database waiting on a lock. */
async function lockWaiters(): Promise<number> {
  const result = await t.db.execute(
    sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
  );
  return rowsOf<{ n: number }>(result)[0]?.n ?? 0;
}

test('survives a client leaving while a 403 is being explained, and cancels the upstream body', async () => {
  const { keys } = await seedWorld(t.db);
  const answered = gate();
  const cancelled = gate();
  upstream.respondWith((_req, res) => {
    res.on('close', () => cancelled.open());
    answered.open();
    // The body never ends: the gateway holds an unread upstream stream while it explains.
    res.writeHead(403, { 'content-type': 'application/json' }).write('{"error":');
  });
  const explaining = await startGateway(t.db, upstream.url, { enrichmentTimeoutMs: 10_000 });
  // The diagnosis reads api_keys; an exclusive lock holds it there until the client has left.
  const locked = gate();
  const release = gate();
  const holder = t.db.transaction(async (tx) => {
    await tx.execute(sql`lock table api_keys in access exclusive mode`);
    locked.open();
    await release.promise;
  });
  try {
    await within(locked.promise, 'the table lock');
    const req = httpRequest(`${explaining.url}/ai/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.outsider}` },
      agent: false,
    });
    req.on('error', () => {});
    req.end(JSON.stringify(chat()));
    await within(answered.promise, 'the upstream 403');
    // Until the diagnosis is under way (waiting on the lock), the client must not leave.
    await waitFor(async () => (await lockWaiters()) > 0, 'the diagnosis to wait on the lock');
    req.destroy();
    await within(cancelled.promise, 'the upstream body to be cancelled');
  } finally {
    release.open();
    await holder;
  }
  assert.is((await send(`${explaining.url}/healthz`)).status, 200, 'the gateway survived');
  await explaining.close();
});

test.run();

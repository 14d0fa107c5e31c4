/*
 * Compressed request bodies: their model is still found, and a small body that inflates to 10 MiB
 * (a bomb) does not stall the gateway's event loop. The gateway runs in a process of its own, so
 * its event loop carries nothing of the test's.
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chat, MODEL, seedWorld, serve } from './helpers.ts';
import { bareEnv, startProcess } from './process.ts';

const test = suite('compressed bodies');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
// The router's bare 403 for everything, after reading the body as a router does.
const upstream = await serve(async (req, res) => {
  for await (const _ of req);
  res
    .writeHead(403, { 'content-type': 'application/json' })
    .end('{"error":{"message":"Forbidden","type":"invalid_request_error","param":null,"code":"forbidden"}}');
});
const gateway = startProcess(
  process.execPath,
  ['--import', 'tsx', 'src/main.ts'],
  bareEnv({ DATABASE_URL: t.url, UPSTREAM_URL: upstream.url, PORT: '0' }),
);
const { url } = await gateway.ready();

test.after(async () => {
  gateway.stop();
  await upstream?.close();
  await t?.close();
});

const post = (key: string, body: Buffer, encoding: string) =>
  fetch(`${url}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-encoding': encoding },
    body,
  });

test('finds the model of gzip, deflate and br bodies', async () => {
  const json = JSON.stringify(chat(MODEL));
  for (const [encoding, body] of [
    ['gzip', gzipSync(json)],
    ['deflate', deflateSync(json)],
    ['br', brotliCompressSync(json)],
  ] as const) {
    const response = await post(keys.outsider, body, encoding);
    assert.is(response.status, 403, encoding);
    const error = ((await response.json()) as { error: { code: string; model: string } }).error;
    assert.is(error.code, 'model_access_denied', encoding);
    assert.is(error.model, MODEL, encoding);
  }
});

/** 10 KiB of gzip that inflates to 10 MiB of a valid chat request (the worst case: fully decoded). */
const bomb = gzipSync(
  JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'a'.repeat(10 * 1024 * 1024 - 200) }] }),
);

/**
 * 4 clients each send `body` `rounds` times (three with keys nobody knows, one with a key the
 * database knows, whose bodies are decoded after the lookup) while /healthz is asked between
 * sends; the statuses /healthz gave. How fast it answers is bench/gzip-event-loop.ts's to measure
 * (target: p99 under 20 ms).
 */
async function healthzUnderLoad(body: Buffer, encoding: string, rounds: number) {
  const sent = { unknown: 0, known: 0 };
  const health: number[] = [];
  let sending = true;
  const senders = (
    [
      ['sk-not-a-key', 'unknown'],
      ['sk-not-a-key-either', 'unknown'],
      ['sk-nor-this-one', 'unknown'],
      [keys.outsider, 'known'],
    ] as const
  ).map(async ([key, kind]) => {
    for (let i = 0; i < rounds; i++) {
      const response = await post(key, body, encoding);
      await response.arrayBuffer();
      assert.is(response.status, 403);
      sent[kind]++;
    }
  });
  const all = Promise.all(senders).finally(() => {
    sending = false;
  });
  while (sending) {
    const response = await fetch(`${url}/healthz`);
    await response.arrayBuffer();
    health.push(response.status);
  }
  await all;
  return { health, sent };
}

test('keeps /healthz answering while 4 clients send 10 KiB → 10 MiB gzip bodies', async () => {
  assert.ok(bomb.length < 16 * 1024, `${bomb.length}-byte bomb`);
  const { health, sent } = await healthzUnderLoad(bomb, 'gzip', 3);
  assert.equal(sent, { unknown: 9, known: 3 });
  assert.ok(health.length > 0);
  assert.ok(
    health.every((status) => status === 200),
    `/healthz answered ${health.join(', ')}`,
  );
});

test.run();

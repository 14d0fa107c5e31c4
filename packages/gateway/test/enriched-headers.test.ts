/*
 * An enriched response is the gateway's own: request id, security headers, content type,
 * `x-should-retry`, and none of the upstream's headers.
 */
import { apiKeys, hashSecret } from '@control-layer/db';
import { bypassLedgerGuard, createTestDatabase } from '@control-layer/db/testing';
import { eq, sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chat, MODEL, scriptedUpstream, seedWorld, send, startGateway } from './helpers.ts';

const test = suite('enriched response headers');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
const upstream = await scriptedUpstream();
const front = await startGateway(t.db, upstream.url);

test.after(async () => {
  await front?.close();
  await upstream?.close();
  await t?.close();
});

// Everything an upstream's 403 might carry that must not reach the client of an explained denial.
const UPSTREAM_HEADERS = {
  'set-cookie': 'session=upstream; Path=/',
  'www-authenticate': 'Bearer realm="upstream"',
  'retry-after': '30',
  'x-upstream-private': 'internal-host-7',
  'x-ratelimit-remaining': '0',
  'x-frame-options': 'ALLOWALL',
  'cache-control': 'public, max-age=600',
  'content-language': 'fr',
  vary: 'authorization',
  'access-control-allow-origin': '*',
};

upstream.respondWith((_req, res) => {
  res
    .writeHead(403, { 'content-type': 'application/json', ...UPSTREAM_HEADERS })
    .end('{"error":{"message":"Forbidden","type":"invalid_request_error","param":null,"code":"forbidden"}}');
});

const post = (key: string) =>
  send(`${front.url}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': 'req-headers-1' },
    body: JSON.stringify(chat(MODEL)),
  });

test('builds an explained denial from the gateway headers only', async () => {
  for (const [key, status, code] of [
    [keys.outsider, 403, 'model_access_denied'],
    [keys.batch, 403, 'modality_blocked'],
    [keys.broke, 402, 'insufficient_credits'],
    [keys.platform, 403, 'non_inference_key'],
    [keys.capped, 402, 'spend_cap_exceeded'],
  ] as const) {
    const response = await post(key);
    assert.is(response.status, status, code);
    assert.is(JSON.parse(response.body.toString()).error.code, code);
    const h = response.headers;
    for (const [name, value] of Object.entries(UPSTREAM_HEADERS)) {
      assert.ok(
        h[name] === undefined || (h[name] !== value && !String(h[name]).includes(value)),
        `${code}: ${name} leaked`,
      );
    }
    assert.is(h['x-request-id'], 'req-headers-1');
    assert.is(h['x-should-retry'], 'false');
    assert.is(h['content-type'], 'application/json; charset=utf-8');
    assert.is(h['x-frame-options'], 'DENY');
    assert.is(h['x-content-type-options'], 'nosniff');
    assert.is(h['cache-control'], 'no-store');
    assert.is(Number(h['content-length']), response.body.length);
  }
});

test('keeps its own retry-after on a pending cap reset, never the upstream one', async () => {
  // The capped key's spent one-off cap becomes a daily one whose window rolled over yesterday.
  const [capped] = await t.db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(eq(apiKeys.secretHash, hashSecret(keys.capped)));
  assert.ok(capped, 'the capped key exists');
  // The cap became daily two days ago (no trigger: a new interval would restart the window now).
  await bypassLedgerGuard(
    t.db,
    sql`update api_keys set spend_limit_interval = 'daily' where id = ${capped.id}`,
    sql`update api_key_spend_checkpoints set window_started_at = now() - interval '2 days' where api_key_id = ${capped.id}`,
  );
  const response = await post(keys.capped);
  assert.is(response.status, 429);
  assert.is(JSON.parse(response.body.toString()).error.code, 'spend_cap_reset_pending');
  const h = response.headers;
  assert.is(h['retry-after'], '5');
  assert.is(h['x-should-retry'], 'true');
  assert.is(h['x-request-id'], 'req-headers-1');
  for (const name of ['set-cookie', 'www-authenticate', 'x-upstream-private', 'x-ratelimit-remaining']) {
    assert.is(h[name], undefined, `${name} leaked`);
  }
});

test("passes an unexplained 403 through with the upstream's headers untouched", async () => {
  const response = await post('sk-unknown-key');
  assert.is(response.status, 403);
  assert.is(response.headers['www-authenticate'], UPSTREAM_HEADERS['www-authenticate']);
  assert.is(response.headers['x-upstream-private'], UPSTREAM_HEADERS['x-upstream-private']);
});

test.run();

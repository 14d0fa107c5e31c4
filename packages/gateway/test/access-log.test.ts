/*
 * The access log line of an inference request says what error enrichment did, and nothing about
 * who asked for what.
 */
import { createHash } from 'node:crypto';
import { rowsOf } from '@control-layer/db';
import { createTestDatabase } from '@control-layer/db/testing';
import { sql } from 'drizzle-orm';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { refusingRouter } from './dialect-world.ts';
import { chat, MODEL, seedWorld, send, startGateway, startStack, waitFor } from './helpers.ts';

const test = suite('access log');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
const lines: Record<string, unknown>[] = [];
const logger = pino(
  { level: 'info' },
  {
    write: (line: string) => {
      lines.push(JSON.parse(line));
    },
  },
);
const stack = await startStack(t.db, { logger });
const router = await refusingRouter();
const refusing = await startGateway(t.db, router.url, { logger });

test.after(async () => {
  await stack?.close();
  await refusing?.close();
  await router?.close();
  await t?.close();
});

const post = (key: string | null, requestId: string) =>
  send(`${stack.gatewayUrl}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-request-id': requestId,
      ...(key !== null && { authorization: `Bearer ${key}` }),
    },
    body: JSON.stringify(chat()),
  });

test('carries enriched: <code> or passthrough: <reason> on each /ai/v1 line, never a key, user or model', async () => {
  const cases: [string | null, string, number, Record<string, string>][] = [
    [keys.outsider, 'r-outsider', 403, { enriched: 'model_access_denied' }],
    [keys.batch, 'r-batch', 403, { enriched: 'modality_blocked' }],
    [keys.broke, 'r-broke', 402, { enriched: 'insufficient_credits' }],
    [keys.working, 'r-working', 200, { passthrough: 'status' }],
    ['sk-unknown-key-0123456789', 'r-unknown', 403, { passthrough: 'unknown_key' }],
    [null, 'r-anonymous', 401, { passthrough: 'status' }],
  ];
  for (const [key, requestId, status] of cases) assert.is((await post(key, requestId)).status, status, requestId);
  await waitFor(async () => lines.filter((l) => l.msg === 'request').length >= cases.length, 'every access line');

  for (const [, requestId, status, outcome] of cases) {
    const line = lines.find((l) => l.msg === 'request' && l.requestId === requestId);
    assert.ok(line, requestId);
    assert.is(line.status, status);
    assert.is(line.enriched, outcome.enriched, requestId);
    assert.is(line.passthrough, outcome.passthrough, requestId);
  }
  const users = rowsOf<{ id: string }>(await t.db.execute(sql`select id::text from users`)).map((u) => u.id);
  const secrets = [
    ...Object.values(keys),
    ...Object.values(keys).map((k) => createHash('sha256').update(k).digest('hex')),
  ];
  const text = JSON.stringify(lines.filter((l) => l.msg === 'request'));
  for (const secret of [...secrets, ...users, MODEL, 'sk-unknown']) {
    assert.not.ok(text.includes(secret), `${secret} in the access log`);
  }
  const probe = await send(`${stack.gatewayUrl}/healthz`);
  assert.is(probe.status, 200);
});

test('follows the logger level as it changes: probes at debug, traffic at info, nothing below', async () => {
  const count = (requestId: string) => lines.filter((l) => l.msg === 'request' && l.requestId === requestId).length;
  const probe = (requestId: string) => send(`${stack.gatewayUrl}/healthz`, { headers: { 'x-request-id': requestId } });
  try {
    logger.level = 'debug';
    await probe('p-debug');
    await post(keys.working, 'r-debug');
    await waitFor(async () => count('p-debug') === 1 && count('r-debug') === 1, 'debug: both lines');
    logger.level = 'info';
    await probe('p-info');
    await post(keys.working, 'r-info');
    await waitFor(async () => count('r-info') === 1, 'info: the traffic line');
    logger.level = 'warn';
    await probe('p-warn');
    await post(keys.working, 'r-warn');
    // A line at info would have been written by now: the one at info above took far less.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.is(count('p-info'), 0);
    assert.is(count('p-warn'), 0);
    assert.is(count('r-warn'), 0);
  } finally {
    logger.level = 'info';
  }
});

test('reads the outcome of a key sent in x-api-key, or in both headers, as the middleware does', async () => {
  const cases: [Record<string, string>, string, Record<string, string>][] = [
    [{ 'x-api-key': keys.outsider }, 'r-x-outsider', { enriched: 'model_access_denied' }],
    [{ 'x-api-key': keys.broke, 'anthropic-version': '2023-06-01' }, 'r-x-broke', { enriched: 'insufficient_credits' }],
    [{ authorization: 'Bearer sk-unknown-key-0', 'x-api-key': keys.broke }, 'r-x-both', { passthrough: 'unknown_key' }],
    [{ 'x-api-key': '' }, 'r-x-empty', { passthrough: 'no_token' }],
  ];
  for (const [headers, requestId] of cases) {
    await send(`${refusing.url}/ai/v1/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...headers },
      body: JSON.stringify({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] }),
    });
  }
  await waitFor(
    async () => cases.every(([, id]) => lines.some((l) => l.msg === 'request' && l.requestId === id)),
    'every access line',
  );
  for (const [headers, requestId, outcome] of cases) {
    const line = lines.find((l) => l.msg === 'request' && l.requestId === requestId) ?? {};
    assert.equal(
      { enriched: line.enriched, passthrough: line.passthrough },
      { enriched: undefined, passthrough: undefined, ...outcome },
      requestId,
    );
    const text = JSON.stringify(line);
    for (const value of Object.values(headers)) if (value.length > 12) assert.not.ok(text.includes(value), requestId);
  }
});

test.run();

/*
 * A 403 storm: concurrent diagnoses of the same key and model share one SQL statement, counted
 * with a Drizzle logger on a real Postgres; different keys or models do not share, and nothing is
 * cached once a statement is done.
 */
import type { AddressInfo } from 'node:net';
import { rowsOf } from '@control-layer/db';
import { addTestCredits, createTestDatabase } from '@control-layer/db/testing';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ErrorEnrichmentOptions } from '../src/index.ts';
import { chat, createApp, forbidding, keyHolder } from './helpers.ts';

const test = suite('coalescing');

/** Diagnosis statements sent (they read api_keys); anything else the test runs is not counted. */
let statements = 0;
const t = await createTestDatabase({
  poolSize: 20,
  logger: {
    logQuery: (query) => {
      if (query.includes('explain_denial(')) statements++;
    },
  },
});
const observer = await createTestDatabase({ poolSize: 2 });
const broke = await keyHolder(t.db, { credits: null, alias: 'storm-model' });
// Another user's key, with no access to storm-model.
const other = await keyHolder(t.db, { alias: 'storm-other' });

test.after(async () => {
  await t?.close();
  await observer?.close();
});

/** The middleware in front of an always-403 router; the lock tests hold statements far longer than the default window. */
async function serve(options: Partial<ErrorEnrichmentOptions> = { coalesceWindowMs: 60_000 }) {
  const app = createApp({ db: t.db, timeoutMs: 10_000, ...options }, forbidding().downstream);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const post = (secret: string, model = 'storm-model') =>
    fetch(`http://127.0.0.1:${port}/ai/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
      body: JSON.stringify(chat(model)),
    }).then(async (res) => {
      const text = await res.text();
      // The router's bare 403 is not JSON; an explained one is.
      const body = (text.startsWith('{') ? JSON.parse(text) : { error: { code: null } }) as { error: { code: string } };
      return { status: res.status, body };
    });
  return {
    post,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

/** Diagnoses waiting on the lock the test holds. */
async function waiting(): Promise<number> {
  const result = await observer.db.execute(
    sql`select count(*)::int as n from pg_stat_activity where datname = ${t.name} and wait_event_type = 'Lock'`,
  );
  return rowsOf<{ n: number }>(result)[0]?.n ?? 0;
}

test('64 concurrent diagnoses of one denied key and model cost one statement, and all are explained', async () => {
  const app = await serve();
  try {
    const before = statements;
    let inFlight: Promise<{ status: number; body: { error: { code: string } } }>[] = [];
    await t.db.transaction(async (tx) => {
      await tx.execute(sql`lock table api_keys in access exclusive mode`);
      inFlight = Array.from({ length: 64 }, () => app.post(broke.secret));
      await waitUntil(async () => (await waiting()) === 1, 'the first diagnosis to wait on the lock');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.is(await waiting(), 1, 'the other 63 joined it instead of sending their own');
    });
    const responses = await Promise.all(inFlight);
    assert.is(statements - before, 1);
    assert.is(responses.length, 64);
    for (const r of responses) {
      assert.is(r.status, 402);
      assert.is(r.body.error.code, 'insufficient_credits');
    }
  } finally {
    app.close();
  }
});

test('does not share a statement between different keys or models', async () => {
  const app = await serve();
  try {
    const before = statements;
    let inFlight: Promise<{ status: number; body: { error: { code: string } } }>[] = [];
    await t.db.transaction(async (tx) => {
      await tx.execute(sql`lock table api_keys in access exclusive mode`);
      inFlight = Array.from(
        { length: 48 },
        (_, i) =>
          [() => app.post(broke.secret), () => app.post(other.secret), () => app.post(broke.secret, 'elsewhere')][
            i % 3
          ]?.() ?? app.post(broke.secret),
      );
      await waitUntil(async () => (await waiting()) === 3, 'one diagnosis per key and model to wait');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.is(await waiting(), 3);
    });
    const responses = await Promise.all(inFlight);
    assert.is(statements - before, 3);
    responses.forEach((r, i) => {
      assert.is(r.body.error.code, i % 3 === 0 ? 'insufficient_credits' : 'model_access_denied');
    });
  } finally {
    app.close();
  }
});

test('keeps nothing once a statement is done: the next diagnosis sees the new state', async () => {
  const app = await serve();
  try {
    const first = await app.post(broke.secret);
    assert.is(first.status, 402);
    await addTestCredits(t.db, broke.user.id, '10.00');
    const second = await app.post(broke.secret);
    assert.is(second.status, 403, 'with credits, nothing explains the 403 any more');
  } finally {
    app.close();
  }
});

test('with coalesce: false, every diagnosis sends its own statement', async () => {
  const app = await serve({ coalesce: false });
  try {
    const before = statements;
    await Promise.all(Array.from({ length: 32 }, () => app.post(other.secret)));
    assert.is(statements - before, 32);
  } finally {
    app.close();
  }
});

test('does not share a statement that started longer ago than the window', async () => {
  // A window wide enough that the eight later requests all reach the gateway within it on a busy
  // machine (at 100 ms, one of them once arrived late and started a third statement).
  const app = await serve({ coalesceWindowMs: 1000 });
  try {
    const before = statements;
    let inFlight: Promise<{ status: number; body: { error: { code: string } } }>[] = [];
    await t.db.transaction(async (tx) => {
      await tx.execute(sql`lock table api_keys in access exclusive mode`);
      inFlight.push(app.post(other.secret));
      await waitUntil(async () => (await waiting()) === 1, 'the first diagnosis to wait');
      await new Promise((resolve) => setTimeout(resolve, 1300));
      // The first statement is 1.3 s old: a new diagnosis starts its own, which the next ones share.
      inFlight = [...inFlight, ...Array.from({ length: 8 }, () => app.post(other.secret))];
      await waitUntil(async () => (await waiting()) === 2, 'a second statement');
    });
    const responses = await Promise.all(inFlight);
    assert.is(statements - before, 2);
    for (const r of responses) assert.is(r.body.error.code, 'model_access_denied');
  } finally {
    app.close();
  }
});

async function waitUntil(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test.run();

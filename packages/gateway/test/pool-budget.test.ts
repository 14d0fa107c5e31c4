/*
 * DATABASE_POOL_MAX is a hard ceiling per process: with the database stalled (a lock every
 * diagnosis waits on) and far more denials in flight than connections, a cluster of two workers
 * holds exactly 2 × DATABASE_POOL_MAX connections, and the primary none once it has migrated.
 */

import { rowsOf } from '@control-layer/db';
import { createTestDatabase } from '@control-layer/db/testing';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chat, scriptedUpstream, seedWorld, send, waitFor, within } from './helpers.ts';
import { bareEnv, startProcess } from './process.ts';

const test = suite('connection budget');

const observer = await createTestDatabase({ poolSize: 2 });
const t = await createTestDatabase({ poolSize: 2 });
const { keys } = await seedWorld(t.db);
const upstream = await scriptedUpstream();
upstream.respondWith((_req, res) => res.writeHead(403, { 'content-type': 'application/json' }).end('{}'));
const started: ReturnType<typeof startProcess>[] = [];

test.after(async () => {
  for (const gateway of started) gateway.stop();
  await upstream?.close();
  await t?.close();
  await observer?.close();
});

/** Connections the gateway opened (it names itself through the URL's application_name). */
async function connections(): Promise<number> {
  const result = await observer.db.execute(
    sql`select count(*)::int as n from pg_stat_activity where application_name = 'budget-gateway'`,
  );
  return rowsOf<{ n: number }>(result)[0]?.n ?? 0;
}

test('holds at most DATABASE_POOL_MAX connections per worker however many denials wait', async () => {
  const gateway = startProcess(
    process.execPath,
    ['--import', 'tsx', 'src/main.ts'],
    bareEnv({
      DATABASE_URL: `${t.url}?application_name=budget-gateway`,
      UPSTREAM_URL: upstream.url,
      PORT: '0',
      WORKERS: '2',
      DATABASE_POOL_MAX: '3',
    }),
  );
  started.push(gateway);
  const { url } = await gateway.ready(90_000);

  // Every diagnosis reads api_keys; an exclusive lock held by the test makes each one wait.
  await t.db.transaction(async (tx) => {
    await tx.execute(sql`lock table api_keys in access exclusive mode`);
    // A model each, so that no two diagnoses share a statement (coalescing).
    const requests = Array.from({ length: 40 }, (_, i) =>
      send(`${url}/ai/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.outsider}` },
        body: JSON.stringify(chat(`budget-model-${i}`)),
      }),
    );
    for (const request of requests) request.catch(() => {});
    await waitFor(async () => (await connections()) >= 6, 'both pools to fill', 20_000);
    for (let i = 0; i < 5; i++) {
      assert.is(await connections(), 6, 'two workers × DATABASE_POOL_MAX=3, nothing more');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Past the enrichment deadline the 403s pass through unexplained; none is lost or fails.
    const responses = await within(Promise.all(requests), 'every response', 30_000);
    assert.ok(responses.every((r) => r.status === 403));
  });
  gateway.stop();
});

test.run();

/*
 * createReadRouter against a real streaming replica of the test cluster (pg_basebackup): reads on
 * the replica while it keeps up, the primary when it lags past the bound or goes away (mid-traffic
 * included, without a failed read), and back to the replica once it recovers.
 */
import { Decimal } from 'decimal.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createReadRouter, createTransaction, explainDenial, openDatabase } from '../src/index.ts';
import {
  canStartReplica,
  createTestDatabase,
  seedDenialWorld,
  sharedTestPostgres,
  skipSuite,
  startStreamingReplica,
} from '../src/testing/index.ts';

const test = suite('read replica');
const server = await sharedTestPostgres();

if (!canStartReplica(server.url)) {
  skipSuite(test, 'routes reads to a streaming replica', 'no local Postgres binaries or a remote test server');
} else {
  const replica = await startStreamingReplica(server.url);
  const t = await createTestDatabase();
  const { keys } = await seedDenialWorld(t.db, 'replica-model');
  const counted = { primary: 0, replica: 0 };
  const logger = (side: keyof typeof counted) => ({
    logQuery: (query: string) => {
      if (query.includes('explain_denial(')) counted[side]++;
    },
  });
  const primary = await openDatabase(t.url, { poolSize: 10, logger: logger('primary') });
  const standby = await openDatabase(replica.through(t.url), {
    poolSize: 10,
    connectionTimeoutMs: 1000,
    logger: logger('replica'),
  });
  const MAX_LAG_MS = 500;
  const transitions: string[] = [];
  const reads = createReadRouter(primary.db, standby.db, {
    maxLagMs: MAX_LAG_MS,
    probeIntervalMs: 100,
    onStateChange: (state) => transitions.push(state),
  });

  test.after(async () => {
    reads?.close();
    await standby?.close();
    await primary?.close();
    await t?.close();
    await replica?.destroy();
  });

  const waitForState = async (state: string, ms = 15_000) => {
    const deadline = Date.now() + ms;
    while (reads.state() !== state) {
      if (Date.now() > deadline) throw new Error(`the replica never became ${state} (is ${reads.state()})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const explain = (key: string) => reads.run((db) => explainDenial(db, key, 'replica-model'));

  test('sends reads to the replica while it keeps up, with the same answers as the primary', async () => {
    // The test database was created after the copy was taken; the replica gets it by replaying.
    // Fresh allows staleness within the bound; lag 0 means it has replayed the seed too.
    await waitForState('fresh');
    const deadline = Date.now() + 15_000;
    while (reads.lagMs() !== 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.is(reads.lagMs(), 0);
    const before = { ...counted };
    for (const key of Object.values(keys)) {
      assert.equal(await explain(key), await explainDenial(primary.db, key, 'replica-model'));
    }
    const keyCount = Object.keys(keys).length;
    assert.is(counted.replica - before.replica, keyCount);
    assert.is(counted.primary - before.primary, keyCount, 'only the comparison reads went to the primary');
  });

  test('sees a write on the primary within the bound, and falls back to the primary while replay is held', async () => {
    await waitForState('fresh');
    const { userId } = (await explainDenial(primary.db, keys.broke, 'replica-model')) ?? { userId: '' };
    const grant = async (amount: string) => {
      await createTransaction(primary.db, {
        userId,
        type: 'admin_grant',
        amount: new Decimal(amount),
        sourceId: `grant-${amount}-${Date.now()}`,
      });
      return Date.now();
    };

    const wrote = await grant('1');
    // The write shows (streaming replication takes milliseconds here; how long is not this test's
    // to assert: a loaded machine may take longer, and then the reads go to the primary).
    let seen = false;
    while (Date.now() - wrote < MAX_LAG_MS * 10 && !seen) seen = (await explain(keys.broke))?.balance.eq(-49) ?? false;
    assert.ok(seen, 'the write never showed');

    await replica.pauseReplay();
    try {
      const held = await grant('2');
      // Reads may lag behind the write only within the bound; past it they come from the primary.
      await waitForState('lagging', MAX_LAG_MS * 10);
      assert.ok(Date.now() - held >= MAX_LAG_MS, 'not declared lagging before the bound');
      const before = { ...counted };
      assert.ok((await explain(keys.broke))?.balance.eq(-47));
      assert.is(counted.primary - before.primary, 1);
      assert.is(counted.replica - before.replica, 0);
    } finally {
      await replica.resumeReplay();
    }
    await waitForState('fresh');
    const before = counted.replica;
    assert.ok((await explain(keys.broke))?.balance.eq(-47));
    assert.is(counted.replica - before, 1);
  });

  test('loses no read when the replica goes away mid-traffic, and returns to it once it is back', async () => {
    await waitForState('fresh');
    const expected = await explainDenial(primary.db, keys.outsider, 'replica-model');
    let failures = 0;
    let done = 0;
    const traffic = async (count: number) => {
      for (let i = 0; i < count; i++) {
        try {
          const facts = await explain(keys.outsider);
          assert.equal(facts, expected);
          done++;
        } catch {
          failures++;
        }
      }
    };
    const before = { ...counted };
    const running = Promise.all(Array.from({ length: 16 }, () => traffic(150)));
    const deadline = Date.now() + 30_000;
    while (done < 400 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
    await replica.stop();
    await running;
    assert.is(failures, 0, 'every read answered, from the primary once the replica was gone');
    assert.is(done, 16 * 150);
    assert.ok(counted.replica - before.replica >= 400, 'reads went to the replica before it stopped');
    assert.ok(counted.primary - before.primary > 0, 'and to the primary after');
    assert.is(reads.state(), 'down');
    assert.ok(transitions.includes('down'));

    await replica.start();
    await waitForState('fresh', 30_000);
    const again = counted.replica;
    assert.equal(await explain(keys.outsider), expected);
    assert.is(counted.replica - again, 1);
  });

  test.run();
}

/*
 * Through a real PgBouncer in transaction mode (Debian's 1.18: no protocol-level prepared
 * statements), with far more clients than server connections: migrations, the ledger, the
 * denial diagnosis, and why named prepared statements stay off by default.
 */
import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createTransaction, explainDenial, getUserBalance, migrate, openDatabase, rowsOf } from '../src/index.ts';
import {
  createEmptyTestDatabase,
  createTestDatabase,
  findPgBouncer,
  rejection,
  seedDenialWorld,
  sharedTestPostgres,
  skipSuite,
  startPgBouncer,
} from '../src/testing/index.ts';

const test = suite('through PgBouncer (transaction mode)');

if (!findPgBouncer()) {
  skipSuite(test, 'runs through PgBouncer', 'pgbouncer is not installed (apt-get install pgbouncer)');
} else {
  const server = await sharedTestPostgres();
  const bouncer = await startPgBouncer(server.url, { defaultPoolSize: 2 });
  const t = await createTestDatabase();
  const opened = await openDatabase(bouncer.through(t.url), { poolSize: 20 });
  const db = opened.db;

  test.after(async () => {
    await opened?.close();
    await t?.close();
    await bouncer?.stop();
  });

  test('reaches the database through the pooler, sharing 2 server connections among 20 clients', async () => {
    const backends = new Set<number>();
    await Promise.all(
      Array.from({ length: 60 }, async () => {
        const [row] = rowsOf<{ pid: number }>(await db.execute(sql`select pg_backend_pid() as pid, pg_sleep(0.01)`));
        if (row) backends.add(row.pid);
      }),
    );
    assert.ok(backends.size <= 2, `at most default_pool_size server connections, saw ${backends.size}`);
  });

  test('applies the migrations to an empty database through it, and a second run changes nothing', async () => {
    const empty = await createEmptyTestDatabase({ server, prefix: 'cl_bouncer' });
    const fresh = await openDatabase(bouncer.through(empty.url), { poolSize: 4 });
    try {
      const first = await migrate(fresh.db);
      const again = await migrate(fresh.db);
      assert.equal(again, { applied: 0, total: first.total });
      assert.is(first.applied, first.total);
      const tables = rowsOf<{ n: number }>(
        await fresh.db.execute(sql`select count(*)::int as n from pg_tables where schemaname = 'public'`),
      );
      assert.ok((tables[0]?.n ?? 0) >= 10);
      const applied = rowsOf<{ n: number }>(
        await fresh.db.execute(sql`select count(*)::int as n from drizzle.__drizzle_migrations`),
      );
      assert.is(applied[0]?.n, first.total);
    } finally {
      await fresh.close();
      await empty.close();
    }
  });

  test('runs contended ledger transactions through it with exact balances', async () => {
    const { keys } = await seedDenialWorld(db, 'bouncer-model');
    const facts = await explainDenial(db, keys.working, 'bouncer-model');
    assert.ok(facts);
    const userId = facts?.userId ?? '';
    const before = await getUserBalance(db, userId);
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        createTransaction(db, {
          userId,
          type: i % 2 === 0 ? 'purchase' : 'usage',
          amount: new Decimal('0.000000000000001'),
          sourceId: `bouncer-${i}-${randomUUID()}`,
        }),
      ),
    );
    const after = await getUserBalance(db, userId);
    assert.is(after.minus(before).toString(), '0');
  });

  test('explains every denial state through it, concurrently', async () => {
    const { keys } = await seedDenialWorld(db, 'bouncer-model-2');
    const cases = await Promise.all(
      Array.from({ length: 80 }, (_, i) => {
        const key = [keys.outsider, keys.batch, keys.broke, keys.working][i % 4] ?? '';
        return explainDenial(db, key, 'bouncer-model-2');
      }),
    );
    cases.forEach((facts, i) => {
      assert.ok(facts);
      if (i % 4 === 0) assert.is(facts?.hasModelAccess, false);
      if (i % 4 === 1) assert.is(facts?.deniedPurpose, 'batch');
      if (i % 4 === 2) assert.ok(facts?.balance.lte(0));
      if (i % 4 === 3) assert.ok(facts?.balance.gt(0) && facts.hasModelAccess && facts.deniedPurpose === null);
    });
  });

  test('named prepared statements break behind PgBouncer 1.18 in transaction mode (so they are off by default)', async () => {
    const prepared = await openDatabase(bouncer.through(t.url), { poolSize: 8, preparedStatements: true });
    try {
      const error = await rejection(async () => {
        for (let round = 0; round < 20; round++) {
          await Promise.all(Array.from({ length: 8 }, () => explainDenial(prepared.db, 'sk-nobody', 'm')));
        }
      });
      assert.match(String((error as Error).cause ?? error), /prepared statement .* (does not exist|already exists)/);
    } finally {
      await prepared.close();
    }
    // Straight to Postgres, the same setting works.
    const direct = await openDatabase(t.url, { poolSize: 8, preparedStatements: true });
    try {
      for (let round = 0; round < 5; round++) {
        const results = await Promise.all(Array.from({ length: 8 }, () => explainDenial(direct.db, 'sk-nobody', 'm')));
        assert.ok(results.every((r) => r === null));
      }
    } finally {
      await direct.close();
    }
  });

  test.run();
}

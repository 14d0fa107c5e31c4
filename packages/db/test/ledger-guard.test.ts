import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Decimal } from 'decimal.js';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createTransaction, type Database, getUserBalance, rowsOf, sumLedger } from '../src/index.ts';
import { createTestUser, rejection, sqlState, withTestDatabase } from '../src/testing/index.ts';
import { findLocalPostgresBin } from '../src/testing/local-postgres.ts';

const test = suite('ledger guard');

/** A user with a few ledger rows, so there is a checkpoint to attack. */
async function userWithLedger(db: Database): Promise<string> {
  const user = await createTestUser(db);
  await createTransaction(db, {
    userId: user.id,
    type: 'purchase',
    amount: new Decimal('150'),
    sourceId: randomUUID(),
  });
  await createTransaction(db, { userId: user.id, type: 'usage', amount: new Decimal('3.875'), sourceId: randomUUID() });
  return user.id;
}

async function assertExact(db: Database, userId: string, expected: string): Promise<void> {
  assert.is((await sumLedger(db, userId)).toFixed(), expected, 'ledger sum');
  assert.is((await getUserBalance(db, userId)).toFixed(), expected, 'checkpoint');
}

/** Refused by the guard: restrict_violation, naming the ledger as the only writer. */
function assertGuarded(error: unknown): void {
  assert.is(sqlState(error), '23001', String(error));
  const messages: string[] = [];
  for (let e: unknown = error; e instanceof Error; e = e.cause) messages.push(e.message);
  assert.match(messages.join('\n'), /user_balance_checkpoints is written only by the ledger/);
}

test('a temporary table named user_balance_checkpoints does not take a ledger insert', () =>
  withTestDatabase(async (db) => {
    const userId = await userWithLedger(db);
    // One connection throughout: a temporary table exists only in the session that made it.
    await db.transaction(async (tx) => {
      await tx.execute(sql`create temporary table user_balance_checkpoints
                           (like public.user_balance_checkpoints including all) on commit drop`);
      await tx.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id)
                           values (${userId}, 'purchase', 1000000, ${randomUUID()})`);
      const shadow = rowsOf<{ n: number }>(
        await tx.execute(sql`select count(*)::int as n from pg_temp.user_balance_checkpoints`),
      );
      assert.is(shadow[0]?.n, 0, 'the temporary table took no row');
    });
    await assertExact(db, userId, '1000146.125');
  }));

test('refuse UPDATE of a checkpoint, whoever sends it', () =>
  withTestDatabase(async (db) => {
    const userId = await userWithLedger(db);
    assertGuarded(
      await rejection(() =>
        db.execute(sql`update user_balance_checkpoints set balance = 1000000 where user_id = ${userId}`),
      ),
    );
    assertGuarded(await rejection(() => db.execute(sql`update user_balance_checkpoints set checkpoint_seq = 0`)));
    await assertExact(db, userId, '146.125');
  }));

test('refuse DELETE of a checkpoint, so the next insert cannot restart the balance from one amount', () =>
  withTestDatabase(async (db) => {
    const userId = await userWithLedger(db);
    assertGuarded(
      await rejection(() => db.execute(sql`delete from user_balance_checkpoints where user_id = ${userId}`)),
    );
    await createTransaction(db, { userId, type: 'usage', amount: new Decimal(1), sourceId: randomUUID() });
    await assertExact(db, userId, '145.125');
  }));

test('refuse TRUNCATE of the checkpoints', () =>
  withTestDatabase(async (db) => {
    const userId = await userWithLedger(db);
    assertGuarded(await rejection(() => db.execute(sql`truncate user_balance_checkpoints`)));
    assertGuarded(
      await rejection(() => db.execute(sql`truncate user_balance_checkpoints, credits_transactions cascade`)),
    );
    await assertExact(db, userId, '146.125');
  }));

test('refuse an INSERT that does not come from the ledger, in every form', () =>
  withTestDatabase(async (db) => {
    const userId = await userWithLedger(db);
    const fresh = await createTestUser(db);
    const attempts = [
      sql`insert into user_balance_checkpoints (user_id, balance) values (${fresh.id}, 1000)`,
      sql`insert into user_balance_checkpoints (user_id, balance) values (${userId}, 1000)
          on conflict (user_id) do update set balance = excluded.balance`,
      sql`insert into user_balance_checkpoints (user_id, balance) values (${fresh.id}, 1000) on conflict do nothing`,
      // Riding along a genuine ledger insert in the same statement.
      sql`with l as (insert into credits_transactions (user_id, transaction_type, amount, source_id)
                     values (${fresh.id}, 'purchase', 1, ${randomUUID()}) returning user_id)
          insert into user_balance_checkpoints (user_id, balance) select user_id, 1000 from l`,
      sql`merge into user_balance_checkpoints c using (select ${userId}::uuid as user_id) s on c.user_id = s.user_id
          when matched then update set balance = 1000`,
      sql`merge into user_balance_checkpoints c using (select ${fresh.id}::uuid as user_id) s on c.user_id = s.user_id
          when not matched then insert (user_id, balance) values (s.user_id, 1000)`,
    ];
    for (const attempt of attempts) assertGuarded(await rejection(() => db.execute(attempt)));
    await assertExact(db, userId, '146.125');
    await assertExact(db, fresh.id, '0');
  }));

test('still fold every kind of ledger insert: multi-row, multi-user, MERGE, savepoints, rolled back', () =>
  withTestDatabase(async (db) => {
    const [a, b] = [await createTestUser(db), await createTestUser(db)];
    await db.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id)
      select case when g % 2 = 0 then ${a.id}::uuid else ${b.id}::uuid end, 'admin_grant', 0.5, 'g-' || g
      from generate_series(1, 10) g`);
    await db.execute(sql`merge into credits_transactions t
      using (values (${a.id}::uuid, 'usage', 0.25::numeric, 'merged')) as s(user_id, transaction_type, amount, source_id)
      on t.source_id = s.source_id
      when not matched then insert (user_id, transaction_type, amount, source_id)
        values (s.user_id, s.transaction_type, s.amount, s.source_id)`);
    await db.transaction(async (tx) => {
      await tx.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id)
                           values (${b.id}, 'admin_grant', 1, 'kept')`);
      await rejection(() =>
        tx.transaction(async (savepoint) => {
          await savepoint.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id)
                                      values (${b.id}, 'admin_grant', 1000, 'rolled-back-to-savepoint')`);
          throw new Error('roll back to the savepoint');
        }),
      );
    });
    await rejection(() =>
      db.transaction(async (tx) => {
        await tx.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id)
                             values (${a.id}, 'purchase', 99, 'rolled-back')`);
        throw new Error('roll back');
      }),
    );
    await assertExact(db, a.id, '2.25');
    await assertExact(db, b.id, '3.5');
  }));

/** Feed `data` to `COPY … FROM STDIN` through psql (node-postgres has no COPY of its own). */
function copyWithPsql(url: string, statement: string, data: string): Promise<{ code: number | null; stderr: string }> {
  const psql = path.join(findLocalPostgresBin() ?? '', 'psql');
  const child = spawn(psql, [url, '-v', 'ON_ERROR_STOP=1', '-c', statement], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk;
  });
  child.stdin.end(data);
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

// psql comes with the local server binaries; a container-only machine has none.
(findLocalPostgresBin() || process.env.TEST_REQUIRE_ALL ? test : test.skip)(
  'fold a COPY into the ledger, and refuse a COPY into the checkpoints',
  () =>
    withTestDatabase(async (db, t) => {
      const userId = await userWithLedger(db);
      const rows = `${userId}\tpurchase\t10.5\tcopy-1\n${userId}\tusage\t0.5\tcopy-2\n`;
      const copied = await copyWithPsql(
        t.url,
        'copy credits_transactions (user_id, transaction_type, amount, source_id) from stdin',
        rows,
      );
      assert.is(copied.code, 0, copied.stderr);
      await assertExact(db, userId, '156.125');
      const refused = await copyWithPsql(
        t.url,
        'copy user_balance_checkpoints (user_id, balance) from stdin',
        `${userId}\t5\n`,
      );
      assert.is(refused.code, 1);
      assert.match(refused.stderr, /user_balance_checkpoints is written only by the ledger: INSERT is not allowed/);
      await assertExact(db, userId, '156.125');
    }),
);

test('pin the search_path of every trigger function, and keep public out of the definer ones', () =>
  withTestDatabase(async (db) => {
    const functions = rowsOf<{ name: string; config: string[] | null; definer: boolean }>(
      await db.execute(sql`select p.proname as name, p.proconfig as config, p.prosecdef as definer
                           from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                           where n.nspname = 'public' and p.prorettype = 'trigger'::regtype
                           order by 1`),
    );
    assert.ok(functions.filter((fn) => fn.definer).length >= 4, 'definer trigger functions found');
    for (const fn of functions) {
      // pg_temp is never searched for functions or operators; listed last, not for tables either.
      const pinned = fn.definer
        ? ['search_path=pg_catalog, pg_temp']
        : ['search_path=pg_catalog, public, pg_temp', 'search_path=pg_catalog, pg_temp'];
      assert.ok(
        pinned.some((p) => fn.config?.includes(p)),
        `${fn.name} runs with search_path ${JSON.stringify(fn.config)}`,
      );
    }
  }));

test.run();

import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createTransaction,
  getUserBalance,
  InvalidAmountError,
  SourceIdConflictError,
  signedAmount,
  sumLedger,
  type TransactionType,
} from '../src/index.ts';
import { createTestUser, rejection, sqlState, withTestDatabase } from '../src/testing/index.ts';

const test = suite('ledger');

test('add purchases and grants, subtract usage and removals', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const entries: [TransactionType, string][] = [
      ['purchase', '100.00'],
      ['admin_grant', '25.50'],
      ['usage', '30.25'],
      ['admin_removal', '5'],
    ];
    for (const [type, amount] of entries) {
      await createTransaction(db, { userId: user.id, type, amount: new Decimal(amount), sourceId: randomUUID() });
    }
    assert.is((await getUserBalance(db, user.id)).toFixed(2), '90.25');
    assert.is((await sumLedger(db, user.id)).toFixed(2), '90.25');
    assert.is(signedAmount('usage', new Decimal(3)).toString(), '-3');
  }));

test('report a balance of 0 for a user without ledger entries', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    assert.ok((await getUserBalance(db, user.id)).isZero());
    assert.ok((await getUserBalance(db, randomUUID())).isZero());
  }));

test('count a replayed sourceId once and return the first row', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const input = { userId: user.id, type: 'purchase' as const, amount: new Decimal('10'), sourceId: 'pay_1' };
    const first = await createTransaction(db, input);
    const replay = await createTransaction(db, { ...input, amount: new Decimal('10.000') });
    assert.ok(first.created);
    assert.not.ok(replay.created);
    assert.is(replay.transaction.id, first.transaction.id);
    assert.is((await getUserBalance(db, user.id)).toString(), '10');
  }));

test('count an identical replay once whatever the case of its userId', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const input = {
      userId: user.id.toUpperCase(),
      type: 'usage' as const,
      amount: new Decimal('2.5'),
      sourceId: 'u_1',
    };
    const first = await createTransaction(db, input);
    const replay = await createTransaction(db, input);
    const lower = await createTransaction(db, { ...input, userId: user.id });
    assert.ok(first.created);
    assert.not.ok(replay.created);
    assert.not.ok(lower.created);
    assert.is(replay.transaction.id, first.transaction.id);
    assert.is((await getUserBalance(db, user.id)).toString(), '-2.5');
    const other = await createTestUser(db);
    const error = await rejection(() => createTransaction(db, { ...input, userId: other.id.toUpperCase() }));
    assert.instance(error, SourceIdConflictError);
  }));

test('refuse a replayed sourceId with different content with a typed error', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    await createTransaction(db, { userId: user.id, type: 'purchase', amount: new Decimal(10), sourceId: 'pay_2' });
    const error = await rejection(() =>
      createTransaction(db, { userId: user.id, type: 'purchase', amount: new Decimal(11), sourceId: 'pay_2' }),
    );
    assert.instance(error, SourceIdConflictError);
    assert.is((error as SourceIdConflictError).existing.amount.toString(), '10');
    assert.is((await getUserBalance(db, user.id)).toString(), '10');
  }));

test('count concurrent replays of one sourceId once', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const input = { userId: user.id, type: 'admin_grant' as const, amount: new Decimal(7), sourceId: 'grant_x' };
    const results = await Promise.all(Array.from({ length: 20 }, () => createTransaction(db, input)));
    assert.is(results.filter((r) => r.created).length, 1);
    assert.is((await getUserBalance(db, user.id)).toString(), '7');
  }));

test('refuse amounts that are not positive, not finite or beyond the stored scale', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    for (const amount of ['0', '-1', 'NaN', 'Infinity', '0.0000000000000001', '1e30']) {
      const error = await rejection(() =>
        createTransaction(db, {
          userId: user.id,
          type: 'purchase',
          amount: new Decimal(amount),
          sourceId: randomUUID(),
        }),
      );
      assert.instance(error, InvalidAmountError, amount);
    }
    const direct = await rejection(() =>
      db.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id)
                     values (${user.id}, 'purchase', 0, 'zero')`),
    );
    assert.is(sqlState(direct), '23514');
  }));

test('reject UPDATE, DELETE and TRUNCATE on the ledger in the database', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { transaction } = await createTransaction(db, {
      userId: user.id,
      type: 'purchase',
      amount: new Decimal(5),
      sourceId: 'p',
    });
    for (const statement of [
      sql`update credits_transactions set amount = 500 where id = ${transaction.id}`,
      sql`delete from credits_transactions where id = ${transaction.id}`,
      sql`truncate credits_transactions`,
    ]) {
      assert.is(sqlState(await rejection(() => db.execute(statement))), '23001');
    }
    assert.is((await sumLedger(db, user.id)).toString(), '5');
  }));

test('keep the checkpoint exact for plain SQL inserts, multi-row ones included', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    await db.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id) values
      (${user.id}, 'purchase', 12345678.123456789012345, 'a'),
      (${user.id}, 'usage', 0.000000000000001, 'b'),
      (${user.id}, 'admin_removal', 0.1, 'c'),
      (${user.id}, 'admin_grant', 0.2, 'd')`);
    const expected = '12345678.223456789012344';
    assert.is((await getUserBalance(db, user.id)).toFixed(), expected);
    assert.is((await sumLedger(db, user.id)).toFixed(), expected);
  }));

test('fold a bulk insert spanning several users into each user checkpoint', () =>
  withTestDatabase(async (db) => {
    const [a, b] = [await createTestUser(db), await createTestUser(db)];
    await createTransaction(db, { userId: a.id, type: 'purchase', amount: new Decimal(1), sourceId: 'seed-a' });
    await db.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id)
      select case when g % 2 = 0 then ${a.id}::uuid else ${b.id}::uuid end,
             case when g % 3 = 0 then 'usage' else 'admin_grant' end, 0.001, 'bulk-' || g
      from generate_series(1, 3000) g`);
    for (const user of [a, b]) {
      assert.is((await getUserBalance(db, user.id)).toFixed(), (await sumLedger(db, user.id)).toFixed());
    }
    assert.is((await getUserBalance(db, a.id)).toFixed(), '1.5');
  }));

test('keep every checkpoint equal to its ledger sum after 200 concurrent transactions', () =>
  withTestDatabase(
    async (db) => {
      const users = [await createTestUser(db), await createTestUser(db), await createTestUser(db)];
      const types: TransactionType[] = ['purchase', 'admin_grant', 'usage', 'admin_removal'];
      const expected = new Map(users.map((u) => [u.id, new Decimal(0)]));
      const inputs = Array.from({ length: 200 }, (_, i) => {
        const user = users[i % users.length];
        const type = types[i % types.length];
        if (!user || !type) throw new Error('unreachable');
        const amount = new Decimal(i + 1).dividedBy(7).toDecimalPlaces(15);
        expected.set(user.id, (expected.get(user.id) ?? new Decimal(0)).plus(signedAmount(type, amount)));
        return { userId: user.id, type, amount, sourceId: `c_${i}` };
      });
      await Promise.all(inputs.map((input) => createTransaction(db, input)));
      for (const user of users) {
        const balance = await getUserBalance(db, user.id);
        assert.is(balance.toFixed(), (await sumLedger(db, user.id)).toFixed());
        assert.is(balance.toFixed(), expected.get(user.id)?.toFixed());
      }
    },
    { poolSize: 8 },
  ));

test.run();

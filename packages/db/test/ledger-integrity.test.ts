import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { type SQL, sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkLedger,
  createTransaction,
  type Database,
  getUserBalance,
  rebuildCheckpoints,
  rowsOf,
  signedAmount,
  sumLedger,
  type TransactionType,
} from '../src/index.ts';
import { createTestUser, rejection, sqlState, withTestDatabase } from '../src/testing/index.ts';

const test = suite('ledger integrity');

async function credit(db: Database, userId: string, type: TransactionType, amount: string): Promise<void> {
  await createTransaction(db, { userId, type, amount: new Decimal(amount), sourceId: randomUUID() });
}

/**
 * What a superuser (or a table owner disabling triggers) can still do: with
 * session_replication_role = replica no ordinary trigger fires, the guard included.
 */
async function bypassGuard(db: Database, statement: SQL): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`);
    await tx.execute(statement);
  });
}

test('report no drift when every checkpoint equals its ledger sum', () =>
  withTestDatabase(async (db) => {
    const empty = await checkLedger(db);
    assert.equal(empty, {
      ok: true,
      usersChecked: 0,
      drift: [],
      scopesChecked: 0,
      spendDrift: [],
      ledgerSeq: null,
    });
    const [a, b] = [await createTestUser(db), await createTestUser(db)];
    await credit(db, a.id, 'purchase', '10.5');
    await credit(db, b.id, 'admin_grant', '1');
    await credit(db, b.id, 'usage', '1');
    const check = await checkLedger(db);
    assert.ok(check.ok);
    assert.is(check.usersChecked, 2);
    assert.equal(check.drift, []);
    assert.type(check.ledgerSeq, 'number');
  }));

test('list each user whose checkpoint was changed, removed or invented behind the ledger', () =>
  withTestDatabase(async (db) => {
    const [changed, removed, invented, intact] = [
      await createTestUser(db),
      await createTestUser(db),
      await createTestUser(db),
      await createTestUser(db),
    ];
    for (const user of [changed, removed, intact]) await credit(db, user.id, 'purchase', '146.125');
    await bypassGuard(db, sql`update user_balance_checkpoints set balance = 1000000 where user_id = ${changed.id}`);
    await bypassGuard(db, sql`delete from user_balance_checkpoints where user_id = ${removed.id}`);
    await bypassGuard(
      db,
      sql`insert into user_balance_checkpoints (user_id, balance) values (${invented.id}, 0.000000000000001)`,
    );

    const check = await checkLedger(db);
    assert.not.ok(check.ok);
    assert.is(check.usersChecked, 4);
    const byUser = new Map(check.drift.map((d) => [d.userId, d]));
    assert.equal([...byUser.keys()].sort(), [changed.id, removed.id, invented.id].sort());
    assert.is(byUser.get(changed.id)?.checkpointBalance.toFixed(), '1000000');
    assert.is(byUser.get(changed.id)?.ledgerBalance.toFixed(), '146.125');
    assert.is(byUser.get(changed.id)?.difference.toFixed(), '-999853.875');
    assert.is(byUser.get(removed.id)?.hasCheckpoint, false);
    assert.is(byUser.get(removed.id)?.difference.toFixed(), '146.125');
    assert.is(byUser.get(invented.id)?.ledgerBalance.toFixed(), '0');
    assert.is(byUser.get(invented.id)?.checkpointBalance.toFixed(), '0.000000000000001');
  }));

test('rebuild every checkpoint from the ledger, record it, and leave nothing to repair', () =>
  withTestDatabase(async (db) => {
    const [changed, removed, invented, intact] = [
      await createTestUser(db),
      await createTestUser(db),
      await createTestUser(db),
      await createTestUser(db),
    ];
    for (const user of [changed, removed, intact]) {
      await credit(db, user.id, 'purchase', '150');
      await credit(db, user.id, 'usage', '3.875');
    }
    await bypassGuard(db, sql`update user_balance_checkpoints set balance = -1 where user_id = ${changed.id}`);
    await bypassGuard(db, sql`delete from user_balance_checkpoints where user_id = ${removed.id}`);
    await bypassGuard(db, sql`insert into user_balance_checkpoints (user_id, balance) values (${invented.id}, 5)`);

    const rebuild = await rebuildCheckpoints(db);
    assert.equal(rebuild.repaired.map((d) => d.userId).sort(), [changed.id, removed.id, invented.id].sort());
    assert.is(rebuild.checkpoints, 3);
    assert.is(rebuild.checkpointsRewritten, 3);
    assert.ok(rebuild.rebuiltBy.length > 0);
    assert.ok(await checkLedger(db).then((c) => c.ok));
    for (const user of [changed, removed, intact]) assert.is((await getUserBalance(db, user.id)).toFixed(), '146.125');
    assert.is((await getUserBalance(db, invented.id)).toFixed(), '0');

    const again = await rebuildCheckpoints(db);
    assert.equal(again.repaired, []);
    assert.is(again.checkpointsRewritten, 0);
    assert.ok(again.id > rebuild.id);
    // The record of rebuilds cannot be rewritten either.
    assert.is(sqlState(await rejection(() => db.execute(sql`delete from user_balance_rebuilds`))), '23001');
    const recorded = rowsOf<{ n: number }>(await db.execute(sql`select count(*)::int as n from user_balance_rebuilds`));
    assert.is(recorded[0]?.n, 2);
  }));

test('check and rebuild while writers insert: no false drift, no concurrent write lost or counted twice', () =>
  withTestDatabase(
    async (db) => {
      const users = [await createTestUser(db), await createTestUser(db), await createTestUser(db)];
      const types: TransactionType[] = ['purchase', 'admin_grant', 'usage', 'admin_removal'];
      const expected = new Map(users.map((u) => [u.id, new Decimal(0)]));
      let writing = true;
      const writer = async (w: number) => {
        for (let i = 0; i < 60; i++) {
          const user = users[(w + i) % users.length];
          const type = types[i % types.length];
          if (!user || !type) throw new Error('unreachable');
          const amount = new Decimal(i + 1).dividedBy(7).toDecimalPlaces(15);
          await createTransaction(db, { userId: user.id, type, amount, sourceId: `w${w}-${i}` });
          expected.set(user.id, (expected.get(user.id) ?? new Decimal(0)).plus(signedAmount(type, amount)));
        }
      };
      const writers = Promise.all([0, 1, 2, 3, 4, 5].map(writer)).finally(() => {
        writing = false;
      });
      let rebuilds = 0;
      let repaired = 0;
      // Bounded: the writers finish by themselves, and at most 200 rebuilds run meanwhile.
      let checks = 0;
      let falseDrift = 0;
      while (writing && rebuilds < 200) {
        const rebuild = await rebuildCheckpoints(db);
        rebuilds += 1;
        repaired += rebuild.repaired.length;
        // A check takes no lock: one snapshot must still never show a write half-folded.
        const check = await checkLedger(db);
        checks += 1;
        falseDrift += check.drift.length;
      }
      assert.ok(checks >= 2);
      assert.is(falseDrift, 0, 'a check saw drift while writers were inserting');
      await writers;
      assert.ok(rebuilds >= 2, `only ${rebuilds} rebuild(s) overlapped the writers`);
      assert.is(repaired, 0, 'a rebuild found drift while writers were inserting');
      const check = await checkLedger(db);
      assert.equal(check.drift, []);
      for (const user of users) {
        assert.is((await getUserBalance(db, user.id)).toFixed(), expected.get(user.id)?.toFixed());
        assert.is((await sumLedger(db, user.id)).toFixed(), expected.get(user.id)?.toFixed());
      }
    },
    { poolSize: 8 },
  ));

test('refuse a rebuild in a REPEATABLE READ transaction, whose snapshot could predate the lock', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    await credit(db, user.id, 'purchase', '2');
    const error = await rejection(() =>
      db.transaction(
        async (tx) => {
          await tx.execute(sql`select 1`);
          await tx.execute(sql`insert into user_balance_rebuilds default values`);
        },
        { isolationLevel: 'repeatable read' },
      ),
    );
    assert.is(sqlState(error), '25000');
    assert.ok((await checkLedger(db)).ok);
  }));

test.run();

import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createTransaction,
  Decimal,
  getUserBalance,
  rowsOf,
  signedAmount,
  sumLedger,
  type TransactionType,
} from '../src/index.ts';
import { createTestUser, sqlState, withTestDatabase } from '../src/testing/index.ts';

const test = suite('ledger contention');

const WORKERS = 8;
const OPERATIONS_PER_WORKER = 2000;
const TYPES: TransactionType[] = ['purchase', 'admin_grant', 'usage', 'admin_removal'];

test('keeps every checkpoint equal to its ledger sum under 8 × 2,000 mixed writes, replays counted once', () =>
  withTestDatabase(
    async (db) => {
      const users = await Promise.all(Array.from({ length: 4 }, () => createTestUser(db)));
      const expected = new Map(users.map((u) => [u.id, new Decimal(0)]));
      const written: { sourceId: string; userId: string; type: TransactionType; amount: Decimal }[] = [];
      let replays = 0;
      let bulk = 0;
      const failures: string[] = [];
      const started = performance.now();

      await Promise.all(
        Array.from({ length: WORKERS }, async (_, worker) => {
          for (let i = 0; i < OPERATIONS_PER_WORKER; i++) {
            try {
              const roll = (worker * 7919 + i * 104729) % 100;
              if (roll < 10 && written.length > 0) {
                // Replay an earlier write with the same content: must not count again.
                const earlier = written[(worker * 31 + i) % written.length];
                if (!earlier) continue;
                const { created } = await createTransaction(db, earlier);
                assert.not.ok(created);
                replays++;
              } else if (roll < 13) {
                // A multi-user bulk insert in one statement, racing the single-row writers.
                const amount = new Decimal('0.000000000000001');
                const prefix = randomUUID();
                await db.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id)
                  select u, 'admin_grant', ${amount.toFixed()}::numeric, ${prefix} || '-' || u
                  from unnest(array[${sql.join(
                    users.map((u) => sql`${u.id}::uuid`),
                    sql`, `,
                  )}]) u`);
                for (const user of users) expected.set(user.id, (expected.get(user.id) ?? new Decimal(0)).plus(amount));
                bulk++;
              } else {
                const user = users[(worker + i) % users.length];
                const type = TYPES[(worker * 3 + i) % TYPES.length];
                if (!user || !type) continue;
                const amount = new Decimal(((worker + 1) * (i + 1)) % 9973).dividedBy(1000).plus('0.000000001');
                const input = { userId: user.id, type, amount, sourceId: randomUUID() };
                await createTransaction(db, input);
                written.push(input);
                expected.set(user.id, (expected.get(user.id) ?? new Decimal(0)).plus(signedAmount(type, amount)));
              }
            } catch (error) {
              failures.push(`${sqlState(error) ?? ''} ${error instanceof Error ? error.message : String(error)}`);
            }
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `  ${written.length} writes, ${replays} replays, ${bulk} bulk statements in ${seconds.toFixed(1)} s; ${failures.length} failures`,
      );
      assert.equal(failures.slice(0, 5), []);
      for (const user of users) {
        const balance = await getUserBalance(db, user.id);
        assert.is(balance.toFixed(), (await sumLedger(db, user.id)).toFixed(), 'checkpoint = ledger sum');
        assert.is(balance.toFixed(), expected.get(user.id)?.toFixed(), 'checkpoint = expected');
      }
      const rows = await db.execute(sql`select count(*)::int as n from credits_transactions`);
      const count = rowsOf<{ n: number }>(rows)[0]?.n;
      assert.is(count, written.length + bulk * users.length, 'no replay stored twice');
    },
    { poolSize: WORKERS },
  ));

test.run();

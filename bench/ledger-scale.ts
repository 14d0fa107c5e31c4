/**
 * Scenario 3, ledger scale: does a balance read or a denial diagnosis slow down as a user's ledger
 * grows, and how fast can eight connections append to it? Reads are timed in this process
 * against a real Postgres (the test harness starts one when TEST_DATABASE_URL is unset).
 * Usage: node --import tsx bench/ledger-scale.ts [--quick]
 */
import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { sql } from 'drizzle-orm';
import type { Database } from '../packages/db/src/index.ts';
import { createTransaction, explainDenial, getUserBalance } from '../packages/db/src/index.ts';
import { createTestApiKey, createTestDatabase, createTestUser } from '../packages/db/src/testing/index.ts';
import { median, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const sizes = quick ? [0, 10_000, 200_000] : [0, 10_000, 1_000_000];
const samples = quick ? 300 : 2000;
const appendSeconds = quick ? 2 : 5;

async function timeEach(count: number, run: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 50; i++) await run(); // warm-up, excluded
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: median(times), p99: times[Math.floor(times.length * 0.99)] ?? 0 };
}

/** Append `rows` ledger rows for the user in bulk, through the same trigger as every insert. */
async function growLedger(db: Database, userId: string, rows: number): Promise<void> {
  const batch = 100_000;
  for (let done = 0; done < rows; done += batch) {
    const n = Math.min(batch, rows - done);
    await db.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id)
      select ${userId}::uuid, case when g % 3 = 0 then 'usage' else 'admin_grant' end, 0.001, ${randomUUID()} || '-' || g
      from generate_series(1, ${n}) g`);
  }
}

async function appendThroughput(db: Database, userIds: string[], connections: number): Promise<number> {
  let count = 0;
  const until = performance.now() + appendSeconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, worker) => {
      const userId = userIds[worker % userIds.length] ?? '';
      while (performance.now() < until) {
        await createTransaction(db, { userId, type: 'usage', amount: new Decimal('0.01'), sourceId: randomUUID() });
        count++;
      }
    }),
  );
  return count / appendSeconds;
}

const t = await createTestDatabase({ poolSize: 8 });
try {
  const { db } = t;
  console.log(`ledger scale: ${samples} timed reads per size, sequential, one connection at a time`);
  console.log('| ledger rows | getUserBalance p50 / p99 (ms) | explainDenial p50 / p99 (ms) |');
  console.log('|---|---|---|');
  const balanceP50: number[] = [];
  const explainP50: number[] = [];
  for (const size of sizes) {
    const user = await createTestUser(db);
    const { secret } = await createTestApiKey(db, user.id, 'batch');
    const started = performance.now();
    await growLedger(db, user.id, size);
    await db.execute(sql`analyze`);
    const grown = ((performance.now() - started) / 1000).toFixed(1);
    const balance = await timeEach(samples, () => getUserBalance(db, user.id));
    const explain = await timeEach(samples, () => explainDenial(db, secret, 'some-model'));
    balanceP50.push(balance.p50);
    explainP50.push(explain.p50);
    console.log(
      `| ${size.toLocaleString('en')} (built in ${grown} s) | ${balance.p50.toFixed(3)} / ${balance.p99.toFixed(3)} | ${explain.p50.toFixed(3)} / ${explain.p99.toFixed(3)} |`,
    );
  }
  const largest = sizes.length - 1;
  const balanceRatio = (balanceP50[largest] ?? 0) / (balanceP50[0] ?? 1);
  const explainRatio = (explainP50[largest] ?? 0) / (explainP50[0] ?? 1);
  console.log(
    `\np50 latency ratio, ${sizes[largest]?.toLocaleString('en')} rows / 0 rows: balance ${balanceRatio.toFixed(2)}, explainDenial ${explainRatio.toFixed(2)}`,
  );
  reportLine('ledger-scale', 'balance_p50_ratio_largest_over_empty', balanceRatio, '<= 1.5', balanceRatio <= 1.5);
  reportLine('ledger-scale', 'explain_p50_ratio_largest_over_empty', explainRatio, '<= 1.5', explainRatio <= 1.5);

  const one = await createTestUser(db);
  const eight = await Promise.all(Array.from({ length: 8 }, () => createTestUser(db)));
  const sameUser = await appendThroughput(db, [one.id], 8);
  const eightUsers = await appendThroughput(
    db,
    eight.map((u) => u.id),
    8,
  );
  console.log('\n| createTransaction, 8 connections | tx/s |');
  console.log('|---|---|');
  console.log(`| one user (contended checkpoint row) | ${sameUser.toFixed(0)} |`);
  console.log(`| eight users | ${eightUsers.toFixed(0)} |`);
  reportLine('ledger-scale', 'append_tps_one_user', sameUser, null, null);
  reportLine('ledger-scale', 'append_tps_eight_users', eightUsers, null, null);
} finally {
  await t.close();
}

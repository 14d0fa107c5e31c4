/**
 * Scenario 3, ledger scale: does a balance read or a denial diagnosis slow down as a user's ledger
 * grows, and how fast can eight connections append to it? One user per size (0, 10⁴, 10⁶ rows;
 * --quick stops at 10⁵), all in the same database; then timed rounds interleaved across the sizes
 * (0, 10⁴, 10⁶, 0, 10⁴, 10⁶, …) so that warm-up and machine noise fall on every size alike.
 * Reads are timed in this process against a real Postgres (the test harness starts one when
 * TEST_DATABASE_URL is unset).
 * Usage: node --import tsx bench/ledger-scale.ts [--quick]
 */
import { randomUUID } from 'node:crypto';
import { createTransaction, type Database, Decimal, explainDenial, getUserBalance } from '@control-layer/db';
import { sql } from 'drizzle-orm';
import { createTestApiKey, createTestUser } from '../packages/db/src/testing/index.ts';
import { startBenchDatabase } from './lib/database.ts';
import { interleave } from './lib/rounds.ts';
import { median, medianWithSpread, percentile, printTable, ROUNDS_LEGEND, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const SIZES = quick ? ([0, 10_000, 100_000] as const) : ([0, 10_000, 1_000_000] as const);
const rounds = quick ? 3 : 7;
const samplesPerRound = quick ? 200 : 500;
const appendRounds = quick ? 2 : 5;
const appendSeconds = quick ? 1 : 3;
const RATIO_TARGET = 1.5;

type Size = (typeof SIZES)[number];
const labelOf = (size: number) => size.toLocaleString('en');

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

/** p50 and p99, in ms, of `count` sequential calls. */
async function timeEach(count: number, run: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return { p50: median(times), p99: percentile(times, 99) };
}

/** Ledger rows appended per second by `connections` workers, spread over `userIds`. */
async function appendThroughput(db: Database, userIds: string[], connections: number): Promise<number> {
  let count = 0;
  const started = performance.now();
  const until = started + appendSeconds * 1000;
  await Promise.all(
    Array.from({ length: connections }, async (_, worker) => {
      const userId = userIds[worker % userIds.length] ?? '';
      while (performance.now() < until) {
        await createTransaction(db, { userId, type: 'usage', amount: new Decimal('0.01'), sourceId: randomUUID() });
        count++;
      }
    }),
  );
  return count / ((performance.now() - started) / 1000);
}

const database = await startBenchDatabase({ poolSize: 8 });
try {
  const { db } = database;
  const subjects = {} as Record<Size, { userId: string; secret: string; buildSeconds: number }>;
  for (const size of SIZES) {
    const user = await createTestUser(db);
    const { secret } = await createTestApiKey(db, user.id, 'batch');
    const started = performance.now();
    await growLedger(db, user.id, size);
    subjects[size] = { userId: user.id, secret, buildSeconds: (performance.now() - started) / 1000 };
  }
  await db.execute(sql`vacuum analyze`);

  const reads = await interleave(
    SIZES,
    {
      rounds,
      warmup: async (size) => {
        const { userId, secret } = subjects[size];
        for (let i = 0; i < 100; i++) {
          await getUserBalance(db, userId);
          await explainDenial(db, secret, 'some-model');
        }
      },
    },
    async (size) => {
      const { userId, secret } = subjects[size];
      return {
        balance: await timeEach(samplesPerRound, () => getUserBalance(db, userId)),
        explain: await timeEach(samplesPerRound, () => explainDenial(db, secret, 'some-model')),
      };
    },
  );

  console.log(
    `ledger scale: ${rounds} rounds × ${samplesPerRound} sequential calls per size and query, interleaved across ` +
      `sizes; ${ROUNDS_LEGEND}\n`,
  );
  printTable(
    ['ledger rows (built in)', 'getUserBalance p50 (ms)', 'p99 (ms)', 'explainDenial p50 (ms)', 'p99 (ms)'],
    SIZES.map((size) => {
      const r = reads[size];
      return [
        `${labelOf(size)} (${subjects[size].buildSeconds.toFixed(1)} s)`,
        medianWithSpread(
          r.map((x) => x.balance.p50),
          3,
        ),
        median(r.map((x) => x.balance.p99)).toFixed(3),
        medianWithSpread(
          r.map((x) => x.explain.p50),
          3,
        ),
        median(r.map((x) => x.explain.p99)).toFixed(3),
      ];
    }),
  );
  const empty = SIZES[0];
  const largest = SIZES[SIZES.length - 1] as Size;
  const p50Of = (size: Size, query: 'balance' | 'explain') => median(reads[size].map((x) => x[query].p50));
  for (const query of ['balance', 'explain'] as const) {
    for (const size of SIZES) reportLine('ledger-scale', `${query}_p50_ms_${size}`, p50Of(size, query), null, null);
    const ratio = p50Of(largest, query) / p50Of(empty, query);
    console.log(`${query} p50 ratio, ${labelOf(largest)} rows / 0 rows: ${ratio.toFixed(3)}`);
    reportLine(
      'ledger-scale',
      `${query}_p50_ratio_${largest}_over_0`,
      ratio,
      `<= ${RATIO_TARGET}`,
      ratio <= RATIO_TARGET,
    );
  }

  const one = await createTestUser(db);
  const eight = await Promise.all(Array.from({ length: 8 }, () => createTestUser(db)));
  const layouts = { 'one user': [one.id], 'eight users': eight.map((u) => u.id) };
  const appends = await interleave(['one user', 'eight users'] as const, { rounds: appendRounds }, (layout) =>
    appendThroughput(db, layouts[layout], 8),
  );
  console.log(`\ncreateTransaction from 8 connections, ${appendRounds} rounds × ${appendSeconds} s, interleaved:\n`);
  printTable(
    ['users written', 'transactions/s'],
    [
      ['one user (every writer on one checkpoint row)', medianWithSpread(appends['one user'])],
      ['eight users (one each)', medianWithSpread(appends['eight users'])],
    ],
  );
  reportLine('ledger-scale', 'append_tps_one_user', median(appends['one user']), null, null);
  reportLine('ledger-scale', 'append_tps_eight_users', median(appends['eight users']), null, null);
} finally {
  await database.close();
}

/*
 * Money arithmetic is exact over the whole numeric(38,15) range: the Decimal every package makes
 * money with, the values read back from the database, and the differences checkLedger reports.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Decimal as DecimalJs } from 'decimal.js';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkLedger, createTransaction, Decimal, getUserBalance, MONEY_PRECISION } from '../src/index.ts';
import { bypassLedgerGuard, createTestUser, withTestDatabase } from '../src/testing/index.ts';

const test = suite('money');

const MAX = '99999999999999999999999.999999999999999';
const TINY = '0.000000000000001';

test('add, subtract and negate at the edges of numeric(38,15) without rounding', () => {
  const cases: [string, string, string, string][] = [
    // a, b, a + b, a − b
    [MAX, TINY, '100000000000000000000000', '99999999999999999999999.999999999999998'],
    [MAX, MAX, '199999999999999999999999.999999999999998', '0'],
    [
      '12345678901234567890123.000000000000001',
      '0.5',
      '12345678901234567890123.500000000000001',
      '12345678901234567890122.500000000000001',
    ],
    ['12345678901.000000000000001', '0.5', '12345678901.500000000000001', '12345678900.500000000000001'],
    [TINY, MAX, '100000000000000000000000', '-99999999999999999999999.999999999999998'],
  ];
  for (const [a, b, sum, difference] of cases) {
    assert.is(new Decimal(a).plus(b).toFixed(), sum, `${a} + ${b}`);
    assert.is(new Decimal(a).minus(b).toFixed(), difference, `${a} − ${b}`);
  }
  // The default decimal.js constructor is why this exists: 20 significant digits.
  assert.is(new DecimalJs('12345678901.000000000000001').minus('0.5').toFixed(), '12345678900.5');
  assert.ok(MONEY_PRECISION >= 40);
  assert.ok(new Decimal(1) instanceof DecimalJs, 'a money Decimal is a decimal.js Decimal');
  assert.is(String(new Decimal(TINY)), TINY, 'printed positionally, never as 1e-15');
});

test('read money back from the database as exact Decimals, and report drift at the edges exactly', () =>
  withTestDatabase(async (db) => {
    const [rich, poor] = [await createTestUser(db), await createTestUser(db)];
    await createTransaction(db, {
      userId: rich.id,
      type: 'purchase',
      amount: new Decimal(MAX),
      sourceId: randomUUID(),
    });
    await createTransaction(db, {
      userId: poor.id,
      type: 'purchase',
      amount: new Decimal('12345678901.000000000000001'),
      sourceId: randomUUID(),
    });
    const balance = await getUserBalance(db, rich.id);
    assert.is(balance.toFixed(), MAX);
    assert.is(
      balance.minus(TINY).toFixed(),
      '99999999999999999999999.999999999999998',
      'read values keep the precision',
    );
    await bypassLedgerGuard(
      db,
      sql`update user_balance_checkpoints set balance = 0.5 where user_id = ${poor.id}`,
      sql`update user_balance_checkpoints set balance = -${MAX}::numeric where user_id = ${rich.id}`,
    );
    const drift = new Map((await checkLedger(db)).drift.map((d) => [d.userId, d.difference.toFixed()]));
    assert.is(drift.get(poor.id), '12345678900.500000000000001');
    assert.is(drift.get(rich.id), '199999999999999999999999.999999999999998');
  }));

test('make every money value in the packages with the exact Decimal, never decimal.js directly', () => {
  const root = path.resolve(import.meta.dirname, '../../..');
  const sources = ['packages', 'bench'].flatMap((dir) =>
    readdirSync(path.join(root, dir), { recursive: true, encoding: 'utf8' })
      .map((file) => path.join(dir, file))
      .filter(
        (file) => /\.ts$/.test(file) && !file.includes('node_modules') && !file.includes(`${path.sep}dist${path.sep}`),
      )
      .filter(
        (file) =>
          !file.includes(`${path.sep}test${path.sep}`) && file !== path.join('packages', 'db', 'src', 'money.ts'),
      ),
  );
  assert.ok(sources.length > 20, 'sources found');
  // A type-only import is fine: only a constructor decides the precision.
  const offenders = sources.filter((file) =>
    /^import \{[^}]*\bDecimal\b[^}]*\} from 'decimal\.js'/m.test(readFileSync(path.join(root, file), 'utf8')),
  );
  assert.equal(offenders, [], 'import { Decimal } from @control-layer/db (its money.ts) instead');
});

test.run();

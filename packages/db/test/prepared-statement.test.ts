import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { explainDenial, preparedStatement, rowsOf, useNamedStatements } from '../src/index.ts';
import { createTestApiKey, createTestDatabase, createTestUser, withTestDatabase } from '../src/testing/index.ts';

const test = suite('prepared statements');

/** The named statements prepared on the pool's one connection. */
async function prepared(db: Parameters<typeof useNamedStatements>[0]): Promise<string[]> {
  const result = await db.execute(sql`select name from pg_prepared_statements order by name`);
  return rowsOf<{ name: string }>(result).map((row) => row.name);
}

test('runs explainDenial unnamed by default, so a transaction-mode pooler can carry it', () =>
  withTestDatabase(
    async (db) => {
      const user = await createTestUser(db);
      const { secret } = await createTestApiKey(db, user.id, 'realtime');
      for (const alias of [null, 'm', 'x'.repeat(2000), 'm']) {
        assert.is((await explainDenial(db, secret, alias))?.userId, user.id);
      }
      assert.equal(await prepared(db), []);
    },
    { poolSize: 1 },
  ));

test('names its statements once a database opts in, with the same answers', () =>
  withTestDatabase(
    async (db) => {
      const user = await createTestUser(db);
      const { secret } = await createTestApiKey(db, user.id, 'realtime');
      useNamedStatements(db);
      for (const alias of [null, 'm', 'x'.repeat(2000), 'm']) {
        assert.is((await explainDenial(db, secret, alias))?.userId, user.id);
      }
      assert.is(await explainDenial(db, 'sk-unknown', 'm'), null);
      assert.equal(await prepared(db), ['explain_denial_alias', 'explain_denial_impossible', 'explain_denial_none']);
    },
    { poolSize: 1 },
  ));

// Every type Drizzle's driver treats apart (timestamps, dates, intervals, arrays of them and of
// numerics), and some it does not.
const typed = preparedStatement<{ at: string; n: number }>(
  () => sql`select ${sql.placeholder('at')}::timestamptz as tstz, ${sql.placeholder('at')}::timestamp as ts,
    ${sql.placeholder('at')}::date as d, interval '1 day 2 hours' as i, array[${sql.placeholder('at')}::timestamptz] as tstzs,
    array[${sql.placeholder('at')}::timestamp] as tss, array[${sql.placeholder('at')}::date] as ds,
    array[interval '3 min'] as iv, array[1.50::numeric] as nums, 2.50::numeric as num, ${sql.placeholder('n')}::int as n,
    true as b, 'x'::text as t, '{"a":1}'::jsonb as j, 9007199254740993::int8 as big`,
);

test('answers on the pool exactly as through Drizzle, and the logger still sees the statement', async () => {
  const seen: string[] = [];
  const t = await createTestDatabase({ logger: { logQuery: (query) => seen.push(query) } });
  try {
    const values = { at: '2026-11-27 12:34:56.789+00', n: 7 };
    const onPool = rowsOf<Record<string, unknown>>(await typed(t.db, values));
    // Inside a transaction the statement goes through Drizzle's own prepared query.
    const throughDrizzle = await t.db.transaction(async (tx) =>
      rowsOf<Record<string, unknown>>(await typed(tx as unknown as typeof t.db, values)),
    );
    assert.equal(onPool, throughDrizzle);
    assert.is(typeof onPool[0]?.tstz, 'string');
    assert.is(onPool[0]?.n, 7);
    assert.is(onPool[0]?.b, true);
    assert.equal(onPool[0]?.j, { a: 1 });
    assert.is(seen.filter((query) => query.includes('::timestamptz as tstz')).length, 2);
  } finally {
    await t.close();
  }
});

test.run();

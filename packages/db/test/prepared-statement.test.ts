import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { explainDenial, rowsOf, useNamedStatements } from '../src/index.ts';
import { createTestApiKey, createTestUser, withTestDatabase } from '../src/testing/index.ts';

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

test.run();

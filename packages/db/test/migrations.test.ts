import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkLedger,
  getUserBalance,
  migrate,
  NIL_UUID,
  openDatabase,
  rebuildCheckpoints,
  rowsOf,
} from '../src/index.ts';
import { rejection, sqlState, withTestDatabase } from '../src/testing/index.ts';

const test = suite('migrations');

test('create the system user and the Everyone group with the nil uuid', () =>
  withTestDatabase(async (db) => {
    const users = rowsOf<{ username: string; is_admin: boolean }>(
      await db.execute(sql`select username, is_admin from users where id = ${NIL_UUID}`),
    );
    assert.equal(users, [{ username: 'system', is_admin: true }]);
    const groups = rowsOf<{ name: string }>(await db.execute(sql`select name from groups where id = ${NIL_UUID}`));
    assert.equal(groups, [{ name: 'Everyone' }]);
  }));

test('accept inserts that name only the required columns', () =>
  withTestDatabase(async (db) => {
    await db.execute(sql`insert into users (username, email) values ('op', 'op@example.com')`);
    const [user] = rowsOf<{ id: string }>(await db.execute(sql`select id from users where username = 'op'`));
    assert.ok(user);
    await db.execute(sql`insert into groups (name) values ('ops')`);
    await db.execute(sql`insert into inference_endpoints (name, url, created_by) values ('e', 'http://e', ${user.id})`);
    await db.execute(sql`insert into deployed_models (model_name, alias, created_by) values ('m', 'a', ${user.id})`);
    await db.execute(sql`insert into api_keys (name, secret_hash, purpose, user_id, created_by)
                         values ('k', repeat('a', 64), 'realtime', ${user.id}, ${user.id})`);
    await db.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id)
                         values (${user.id}, 'purchase', 5, 's1')`);
    assert.is((await getUserBalance(db, user.id)).toString(), '5');
  }));

test('reject a key purpose outside the four known ones and a non-hex secret hash', () =>
  withTestDatabase(async (db) => {
    const insert = (purpose: string, hash: string) =>
      db.execute(sql`insert into api_keys (name, secret_hash, purpose, user_id, created_by)
                     values ('k', ${hash}, ${purpose}, ${NIL_UUID}, ${NIL_UUID})`);
    assert.is(sqlState(await rejection(() => insert('inference', 'b'.repeat(64)))), '23514');
    assert.is(sqlState(await rejection(() => insert('realtime', 'sk-plaintext'))), '23514');
    await insert('batch', 'c'.repeat(64));
  }));

test('inline the cap window functions into their callers, and pin search_path in the other new functions', () =>
  withTestDatabase(async (db) => {
    const plan = rowsOf<{ 'QUERY PLAN': string }>(
      await db.execute(sql`explain verbose select api_key_cap_window_current(now() - interval '1 day', 'weekly'),
                                                  api_key_cap_window_resets_at('monthly')`),
    )
      .map((row) => row['QUERY PLAN'])
      .join('\n');
    assert.not.ok(plan.includes('api_key_cap_window'), plan);
    const pinned = rowsOf<{ proname: string; config: string | null }>(
      await db.execute(sql`select proname, array_to_string(proconfig, ',') as config from pg_proc
        where pronamespace = 'public'::regnamespace and proname in (
          'credits_transactions_fold_into_spend',
          'credits_transactions_notify_zero_crossing', 'notify_auth_config_changed',
          'api_keys_notify_config_change', 'users_notify_deletion_change', 'explain_denial')`),
    );
    assert.is(pinned.length, 6);
    for (const { proname, config } of pinned)
      assert.match(config ?? '', /^search_path=pg_catalog, (public, )?pg_temp(,|$)/, proname);
  }));

test('apply on embedded PGlite with the same schema and seed rows', async () => {
  const { db, driver, close } = await openDatabase('memory://');
  try {
    assert.is(driver, 'pglite');
    await migrate(db);
    await migrate(db); // idempotent: nothing pending the second time
    const rows = rowsOf<{ n: number }>(
      await db.execute(sql`select count(*)::int as n from users where id = ${NIL_UUID}`),
    );
    assert.is(rows[0]?.n, 1);
    await db.execute(sql`insert into users (username, email) values ('p', 'p@example.com')`);
    const [user] = rowsOf<{ id: string }>(await db.execute(sql`select id from users where username = 'p'`));
    assert.ok(user);
    await db.execute(sql`insert into credits_transactions (user_id, transaction_type, amount, source_id)
                         values (${user.id}, 'admin_grant', 1.5, 'a'), (${user.id}, 'usage', 0.25, 'b')`);
    assert.is((await getUserBalance(db, user.id)).toString(), '1.25');
    // The checkpoint guard and the rebuild work the same on the embedded engine.
    assert.is(
      sqlState(await rejection(() => db.execute(sql`update user_balance_checkpoints set balance = 9`))),
      '23001',
    );
    assert.ok((await checkLedger(db)).ok);
    const rebuild = await rebuildCheckpoints(db);
    assert.is(rebuild.checkpoints, 1);
    assert.is(rebuild.checkpointsRewritten, 0);
  } finally {
    await close();
  }
});

test.run();

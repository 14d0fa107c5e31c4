import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApiKey, deleteApiKey, getUserIdBySecret, hashSecret, rowsOf } from '../src/index.ts';
import { createTestApiKey, createTestUser, withTestDatabase } from '../src/testing/index.ts';

const test = suite('api keys');

test('hash a key as the lowercase hex SHA-256 of the whole string', () => {
  assert.is(hashSecret('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
});

test('generate keys of the form sk- followed by 43 base64url characters', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { secret, key } = await createTestApiKey(db, user.id);
    assert.match(secret, /^sk-[A-Za-z0-9_-]{43}$/);
    assert.is(key.secretHash, hashSecret(secret));
  }));

test('store no plaintext key anywhere in the database', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { secret } = await createTestApiKey(db, user.id);
    // Every row of every table, as text, searched for the plaintext.
    const tables = rowsOf<{ name: string }>(
      await db.execute(sql`select table_name as name from information_schema.tables
                           where table_schema = 'public' and table_type = 'BASE TABLE'`),
    );
    assert.ok(tables.length >= 10);
    let everything = '';
    for (const { name } of tables) {
      const rows = await db.execute(sql`select row_to_json(t)::text as row from ${sql.identifier(name)} t`);
      everything += rowsOf<{ row: string }>(rows)
        .map((r) => r.row)
        .join('\n');
    }
    assert.ok(everything.includes(hashSecret(secret)));
    assert.not.ok(everything.includes(secret));
    assert.not.ok(everything.includes(secret.slice(3)));
  }));

test('find the owner by plaintext key, and nothing for an unknown key', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { secret } = await createTestApiKey(db, user.id, 'batch');
    assert.is(await getUserIdBySecret(db, secret), user.id);
    assert.is(await getUserIdBySecret(db, `${secret}x`), null);
    assert.is(await getUserIdBySecret(db, ''), null);
  }));

test('resolve a deleted key to nothing', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { key, secret } = await createTestApiKey(db, user.id);
    assert.ok(await deleteApiKey(db, key.id));
    assert.not.ok(await deleteApiKey(db, key.id));
    assert.is(await getUserIdBySecret(db, secret), null);
  }));

test('accept a caller-supplied plaintext and still store only its digest', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { key, secret } = await createApiKey(db, {
      userId: user.id,
      createdBy: user.id,
      name: 'demo',
      purpose: 'playground',
      secret: 'sk-demo-known-value',
    });
    assert.is(secret, 'sk-demo-known-value');
    assert.is(key.secretHash, hashSecret('sk-demo-known-value'));
    assert.is(await getUserIdBySecret(db, 'sk-demo-known-value'), user.id);
  }));

test.run();

/*
 * One definition of a live key (not deleted, owner not deleted, not expired by the database
 * clock) and of model reach, read alike by the diagnosis, the single-purpose queries and the
 * model list.
 */
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  addDeploymentToGroup,
  checkModalityBlocked,
  checkUserHasModelAccess,
  createApiKey,
  EVERYONE_GROUP_ID,
  explainDenial,
  getUserIdBySecret,
  listModelsForKey,
  openDatabase,
  rowsOf,
  setTrafficRule,
  softDeleteUser,
} from '../src/index.ts';
import {
  createTestApiKey,
  createTestEndpoint,
  createTestModel,
  createTestUser,
  withTestDatabase,
} from '../src/testing/index.ts';

const test = suite('live keys');

test("treat a deleted owner's keys as unknown everywhere, and a restored owner's as live again", () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { secret } = await createTestApiKey(db, user.id, 'batch');
    const endpoint = await createTestEndpoint(db, 'e', user.id);
    const model = await createTestModel(db, 'm', 'm', endpoint, user.id);
    await addDeploymentToGroup(db, model, EVERYONE_GROUP_ID);
    await setTrafficRule(db, { deployedModelId: model, apiKeyPurpose: 'batch', action: 'deny' });
    assert.ok(await explainDenial(db, secret, 'm'));
    assert.is(await checkModalityBlocked(db, secret, 'm'), 'batch');

    await softDeleteUser(db, user.id);
    assert.is(await explainDenial(db, secret, 'm'), null);
    assert.is(await explainDenial(db, secret, null), null);
    assert.is(await getUserIdBySecret(db, secret), null);
    assert.is(await checkModalityBlocked(db, secret, 'm'), null);
    assert.is((await listModelsForKey(db, secret)).kind, 'unknown');

    await db.execute(sql`update users set is_deleted = false where id = ${user.id}`);
    assert.is(await getUserIdBySecret(db, secret), user.id);
  }));

test('count a key as expired from the instant of expires_at on, by the database clock', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { key, secret } = await createTestApiKey(db, user.id, 'realtime', 'ci');
    // Inside one transaction now() stands still: exactly at now is expired, a microsecond later is not.
    await db.transaction(async (tx) => {
      await tx.execute(sql`update api_keys set expires_at = now() where id = ${key.id}`);
      assert.is((await explainDenial(tx, secret, null))?.expired, true);
      await tx.execute(sql`update api_keys set expires_at = now() + interval '1 microsecond' where id = ${key.id}`);
      assert.is((await explainDenial(tx, secret, null))?.expired, false);
      assert.is(await getUserIdBySecret(tx, secret), user.id);
      await tx.execute(sql`update api_keys set expires_at = now() - interval '1 microsecond' where id = ${key.id}`);
      assert.is(await getUserIdBySecret(tx, secret), null);
    });
    // An expired key is known to its holder (the diagnosis says so) but live for nothing.
    const facts = await explainDenial(db, secret, 'anything');
    assert.is(facts?.expired, true);
    assert.is(facts?.keyName, 'ci');
    assert.is(await getUserIdBySecret(db, secret), null);
    assert.is(await checkModalityBlocked(db, secret, 'anything'), null);
  }));

test('name the expiry in UTC whole seconds whatever the session time zone', () =>
  withTestDatabase(async (db, t) => {
    const user = await createTestUser(db);
    const { key, secret } = await createTestApiKey(db, user.id, 'realtime');
    await db.execute(sql`update api_keys set expires_at = '2026-03-01T10:00:00.9+05:30' where id = ${key.id}`);
    const separator = t.url.includes('?') ? '&' : '?';
    const elsewhere = await openDatabase(
      `${t.url}${separator}options=${encodeURIComponent('-c TimeZone=America/St_Johns')}`,
    );
    try {
      const zone = rowsOf<{ tz: string }>(await elsewhere.db.execute(sql`select current_setting('TimeZone') as tz`));
      assert.is(zone[0]?.tz, 'America/St_Johns');
      const facts = await explainDenial(elsewhere.db, secret, null);
      assert.is(facts?.expiresAt, '2026-03-01T04:30:00Z');
      assert.is(facts?.expired, true);
      // A future expiry set from that session is still compared as an instant.
      await elsewhere.db.execute(sql`update api_keys set expires_at = now() + interval '1 hour' where id = ${key.id}`);
      assert.is((await explainDenial(elsewhere.db, secret, null))?.expired, false);
    } finally {
      await elsewhere.close();
    }
  }));

test('refuse an expiry that names no instant', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { key } = await createTestApiKey(db, user.id, 'realtime');
    for (const bad of ['infinity', '-infinity']) {
      try {
        await db.execute(sql`update api_keys set expires_at = ${bad}::timestamptz where id = ${key.id}`);
        assert.unreachable(`${bad} was stored`);
      } catch (error) {
        assert.match(String((error as { cause?: unknown }).cause ?? error), /api_keys_expires_at_finite/);
      }
    }
  }));

test("expire a child key with its parent: the earlier of the two expiries is the child's, everywhere", () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { key: parent, secret: parentSecret } = await createTestApiKey(db, user.id, 'realtime', 'parent');
    const { key: child, secret } = await createApiKey(db, {
      userId: user.id,
      createdBy: user.id,
      name: 'flex child',
      purpose: 'batch',
      hidden: true,
      parentApiKeyId: parent.id,
    });
    const endpoint = await createTestEndpoint(db, 'e', user.id);
    const model = await createTestModel(db, 'm', 'm', endpoint, user.id);
    await addDeploymentToGroup(db, model, EVERYONE_GROUP_ID);
    await setTrafficRule(db, { deployedModelId: model, apiKeyPurpose: 'batch', action: 'deny' });
    const expiryOf = async (id: string, at: string | null) =>
      db.execute(sql`update api_keys set expires_at = ${at}::timestamptz where id = ${id}`);
    assert.is(await getUserIdBySecret(db, secret), user.id);
    assert.is((await explainDenial(db, secret, 'm'))?.expiresAt, null);

    // The parent expires; the child, which never expires on its own, goes with it.
    await expiryOf(parent.id, '2026-01-02T03:04:05Z');
    const facts = await explainDenial(db, secret, 'm');
    assert.is(facts?.expired, true);
    assert.is(facts?.expiresAt, '2026-01-02T03:04:05Z');
    assert.is(facts?.keyName, 'flex child');
    assert.is(await getUserIdBySecret(db, secret), null);
    assert.is(await checkModalityBlocked(db, secret, 'm'), null);
    const listing = await listModelsForKey(db, secret);
    assert.ok(listing.kind === 'refused' && listing.key.expired);

    // A child's own earlier expiry stands; a later one does not outlive the parent.
    await expiryOf(parent.id, '2099-01-01T00:00:00Z');
    await expiryOf(child.id, '2026-01-01T00:00:00Z');
    assert.is((await explainDenial(db, secret, 'm'))?.expiresAt, '2026-01-01T00:00:00Z');
    await expiryOf(child.id, '2099-06-01T00:00:00Z');
    assert.is((await explainDenial(db, secret, 'm'))?.expiresAt, '2099-01-01T00:00:00Z');
    assert.is(await getUserIdBySecret(db, secret), user.id);

    // A child's expiry is its own: the parent lives on.
    await expiryOf(child.id, '2026-01-01T00:00:00Z');
    assert.is(await getUserIdBySecret(db, secret), null);
    assert.is(await getUserIdBySecret(db, parentSecret), user.id);
    assert.is((await explainDenial(db, parentSecret, 'm'))?.expiresAt, '2099-01-01T00:00:00Z');
  }));

test('give the model list, the access query and the diagnosis one answer on reach', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const system = '00000000-0000-0000-0000-000000000000';
    const { secret } = await createTestApiKey(db, user.id, 'realtime');
    const endpoint = await createTestEndpoint(db, 'e', user.id);
    const granted = await createTestModel(db, 'g', 'granted', endpoint, user.id);
    await createTestModel(db, 'n', 'not-granted', endpoint, user.id);
    await addDeploymentToGroup(db, granted, EVERYONE_GROUP_ID);
    const listing = await listModelsForKey(db, secret);
    const listed = listing.kind === 'listed' ? listing.models.map((m) => m.alias) : [];
    for (const alias of ['granted', 'not-granted', 'unknown']) {
      const reach = await checkUserHasModelAccess(db, user.id, alias);
      assert.is((await explainDenial(db, secret, alias))?.hasModelAccess, reach, alias);
      assert.is(listed.includes(alias), reach, alias);
      // Everyone holds every user but the system user.
      assert.is(await checkUserHasModelAccess(db, system, alias), false, alias);
    }
  }));

test.run();

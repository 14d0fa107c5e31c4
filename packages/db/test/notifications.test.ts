/*
 * What a router listening on `auth_config_changed` is told: `<table>:<epoch micros>` for the
 * tables it reads, api_keys only when a column it reads changed, and the ledger's zero crossings
 * and cap crossings.
 */
import { Decimal } from 'decimal.js';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  addDeploymentToGroup,
  addUserToGroup,
  createTransaction,
  type Database,
  recordUsage,
  setApiKeySpendCap,
  setModelTariff,
  setTrafficRule,
  setUserFeatureFlag,
  softDeleteUser,
} from '../src/index.ts';
import {
  createTestApiKey,
  createTestEndpoint,
  createTestGroup,
  createTestModel,
  createTestUser,
  listenNotifications,
  type NotificationListener,
  withTestDatabase,
} from '../src/testing/index.ts';

const test = suite('notifications');
const CHANNEL = 'auth_config_changed';

/** Run `change`, then the tables named by the notifications it caused (a marker notify ends the wait). */
async function tablesNotified(db: Database, listener: NotificationListener, change: () => Promise<unknown>) {
  listener.clear();
  await change();
  const marker = `marker:${Math.random()}`;
  await db.execute(sql`select pg_notify(${CHANNEL}, ${marker})`);
  await listener.waitFor(marker);
  // An upsert fires the statement triggers of INSERT and of UPDATE; a router reloads once either way.
  return [...new Set(listener.payloads.filter((p) => p !== marker).map((p) => p.replace(/:\d+$/, '')))];
}

test('name each table the router reads, with the epoch in microseconds', () =>
  withTestDatabase(async (db, t) => {
    const listener = await listenNotifications(t.url, CHANNEL);
    try {
      const user = await createTestUser(db);
      const group = await createTestGroup(db);
      let endpoint = '';
      let model = '';
      assert.equal(
        await tablesNotified(db, listener, async () => {
          endpoint = await createTestEndpoint(db, 'e', user.id);
        }),
        ['inference_endpoints'],
      );
      assert.equal(
        await tablesNotified(db, listener, async () => {
          model = await createTestModel(db, 'm', 'm', endpoint, user.id);
        }),
        ['deployed_models'],
      );
      assert.equal(await tablesNotified(db, listener, () => addUserToGroup(db, user.id, group.id)), ['user_groups']);
      assert.equal(await tablesNotified(db, listener, () => addDeploymentToGroup(db, model, group.id)), [
        'deployment_groups',
      ]);
      const rule = () => setTrafficRule(db, { deployedModelId: model, apiKeyPurpose: 'batch', action: 'deny' });
      assert.equal(await tablesNotified(db, listener, rule), ['model_traffic_rules']);
      const tariff = () =>
        setModelTariff(db, {
          deployedModelId: model,
          name: 't',
          inputPricePerToken: new Decimal(1),
          outputPricePerToken: new Decimal(1),
        });
      assert.equal(await tablesNotified(db, listener, tariff), ['model_tariffs']);
      assert.equal(await tablesNotified(db, listener, () => setUserFeatureFlag(db, user.id, 'X', true)), [
        'user_feature_flags',
      ]);
      assert.equal(await tablesNotified(db, listener, () => softDeleteUser(db, user.id)), ['users']);
      const micros = Number(listener.payloads[0]?.split(':')[1] ?? 0);
      assert.ok(
        Number.isSafeInteger(micros) && Math.abs(micros / 1000 - Date.now()) < 60_000,
        `epoch micros: ${micros}`,
      );
      assert.equal(await tablesNotified(db, listener, () => db.execute(sql`update users set display_name = 'x'`)), []);
    } finally {
      await listener.close();
    }
  }));

test('tell about api_keys only when rows come or go or a column the router reads changes', () =>
  withTestDatabase(async (db, t) => {
    const listener = await listenNotifications(t.url, CHANNEL);
    try {
      const user = await createTestUser(db);
      let keyId = '';
      assert.equal(
        await tablesNotified(db, listener, async () => {
          keyId = (await createTestApiKey(db, user.id)).key.id;
        }),
        ['api_keys'],
      );
      const update = (set: ReturnType<typeof sql>) => () =>
        db.execute(sql`update api_keys set ${set} where id = ${keyId}`);
      assert.equal(await tablesNotified(db, listener, update(sql`name = 'renamed', last_used = now()`)), []);
      assert.equal(await tablesNotified(db, listener, update(sql`description = 'd'`)), []);
      // A new cap also starts its window, which re-arms the key (the restart's own payload).
      assert.equal(await tablesNotified(db, listener, update(sql`spend_limit = 5`)), [
        'api_key_spend_cap_rearm',
        'api_keys',
      ]);
      assert.equal(await tablesNotified(db, listener, update(sql`purpose = 'batch'`)), ['api_keys']);
      assert.equal(await tablesNotified(db, listener, update(sql`expires_at = now() + interval '1 day'`)), [
        'api_keys',
      ]);
      assert.equal(await tablesNotified(db, listener, update(sql`expires_at = null`)), ['api_keys']);
      assert.equal(await tablesNotified(db, listener, update(sql`expires_at = null`)), []);
      assert.equal(await tablesNotified(db, listener, update(sql`is_deleted = true`)), ['api_keys']);
      assert.equal(
        await tablesNotified(db, listener, () => db.execute(sql`update api_keys set name = 'n' where false`)),
        [],
      );
      assert.equal(
        await tablesNotified(db, listener, () => db.execute(sql`delete from api_keys where id = ${keyId}`)),
        ['api_keys'],
      );
    } finally {
      await listener.close();
    }
  }));

test('tell when a balance crosses zero either way, and when a scope reaches its cap', () =>
  withTestDatabase(async (db, t) => {
    const listener = await listenNotifications(t.url, CHANNEL);
    try {
      const user = await createTestUser(db);
      const { key } = await createTestApiKey(db, user.id);
      await tablesNotified(db, listener, () =>
        setApiKeySpendCap(db, key.id, { limit: new Decimal(10), interval: 'daily' }),
      );
      let n = 0;
      const ledger = (type: 'admin_grant' | 'usage', amount: string) => () =>
        createTransaction(db, { userId: user.id, type, amount: new Decimal(amount), sourceId: `n-${n++}` });
      const spend = (amount: string) => () =>
        recordUsage(db, { apiKeyId: key.id, amount: new Decimal(amount), sourceId: `u-${n++}` });
      assert.equal(await tablesNotified(db, listener, ledger('admin_grant', '20')), ['credits_transactions']);
      assert.equal(await tablesNotified(db, listener, ledger('admin_grant', '5')), []);
      assert.equal(await tablesNotified(db, listener, spend('9.5')), []);
      assert.equal(await tablesNotified(db, listener, spend('0.5')), ['api_key_spend_cap']);
      assert.equal(await tablesNotified(db, listener, spend('1')), []);
      assert.equal(await tablesNotified(db, listener, ledger('usage', '14')), ['credits_transactions']);
      assert.equal(await tablesNotified(db, listener, ledger('usage', '1')), []);
      assert.equal(await tablesNotified(db, listener, ledger('admin_grant', '1.000000000000001')), [
        'credits_transactions',
      ]);
    } finally {
      await listener.close();
    }
  }));

test.run();

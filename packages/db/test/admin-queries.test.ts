/*
 * The typed queries an admin tool runs: caps (set, remove, reset), tariffs (set, end) and
 * feature flags.
 */
import { randomUUID } from 'node:crypto';
import { Decimal } from 'decimal.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  activeTariffs,
  createApiKey,
  deleteApiKey,
  endModelTariff,
  getSpendCheckpoint,
  hasUserFeatureFlag,
  InvalidPriceError,
  InvalidSpendCapError,
  isModelFree,
  recordUsage,
  removeApiKeySpendCap,
  resetApiKeySpendWindow,
  setApiKeySpendCap,
  setModelTariff,
  setUserFeatureFlag,
  UnknownApiKeyError,
} from '../src/index.ts';
import {
  createTestApiKey,
  createTestEndpoint,
  createTestModel,
  createTestUser,
  listenNotifications,
  rejection,
  sqlState,
  withTestDatabase,
} from '../src/testing/index.ts';

const test = suite('admin queries');

test('start a fresh window for a new cap, an interval change or a reset, and keep it for a new limit', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { key } = await createTestApiKey(db, user.id);
    const spend = (amount: string) =>
      recordUsage(db, { apiKeyId: key.id, amount: new Decimal(amount), sourceId: randomUUID() });
    const state = async () => {
      const row = await getSpendCheckpoint(db, key.id);
      return [row?.totalSpend.toFixed(), row?.windowSpend.toFixed()];
    };
    const capped = await setApiKeySpendCap(db, key.id, { limit: new Decimal(10), interval: 'daily' });
    assert.equal([capped.spendLimit?.toFixed(), capped.spendLimitInterval], ['10', 'daily']);
    assert.equal(await state(), ['0', '0']);
    await spend('4');
    await setApiKeySpendCap(db, key.id, { limit: new Decimal(20), interval: 'daily' });
    assert.equal(await state(), ['4', '4']);
    await setApiKeySpendCap(db, key.id, { limit: new Decimal(20), interval: 'weekly' });
    assert.equal(await state(), ['4', '0']);
    await spend('3');
    await setApiKeySpendCap(db, key.id, { limit: new Decimal(20), interval: 'weekly', resetWindow: true });
    assert.equal(await state(), ['7', '0']);
    await spend('1');
    assert.ok(await removeApiKeySpendCap(db, key.id));
    assert.not.ok(await removeApiKeySpendCap(db, key.id));
    await spend('100');
    assert.equal(await state(), ['108', '1'], 'the checkpoint stays; uncapped, only the total grows');
  }));

test('reset a window at a given instant, only forward, and tell the router to readmit the key', () =>
  withTestDatabase(async (db, t) => {
    const user = await createTestUser(db);
    const { key } = await createTestApiKey(db, user.id);
    const child = await createApiKey(db, {
      userId: user.id,
      createdBy: user.id,
      name: 'c',
      purpose: 'batch',
      hidden: true,
      parentApiKeyId: key.id,
    });
    await setApiKeySpendCap(db, key.id, { limit: new Decimal(1), interval: 'monthly' });
    const cappedAt = (await getSpendCheckpoint(db, key.id))?.windowStartedAt;
    await recordUsage(db, { apiKeyId: child.key.id, amount: new Decimal(2), sourceId: 'u' });
    // Earlier than the window's start: the start stays, and so does the spend in it.
    await resetApiKeySpendWindow(db, child.key.id, new Date('2020-03-01T00:00:00Z'));
    let row = await getSpendCheckpoint(db, key.id);
    assert.equal([row?.windowSpend.toFixed(), row?.windowStartedAt.toISOString()], ['2', cappedAt?.toISOString()]);
    const listener = await listenNotifications(t.url, 'auth_config_changed');
    const resetAt = new Date();
    try {
      await resetApiKeySpendWindow(db, child.key.id, resetAt);
      assert.match(await listener.waitFor('api_key_spend_cap_rearm:'), /^api_key_spend_cap_rearm:\d{16}$/);
    } finally {
      await listener.close();
    }
    row = await getSpendCheckpoint(db, key.id);
    assert.equal([row?.totalSpend.toFixed(), row?.windowSpend.toFixed()], ['2', '0']);
    assert.is(row?.windowStartedAt.toISOString(), resetAt.toISOString());
    assert.is(
      sqlState(await rejection(() => resetApiKeySpendWindow(db, key.id, new Date(Date.now() + 3_600_000)))),
      '23514',
    );
  }));

test('refuse unknown, deleted and child keys and impossible caps with typed errors', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { key } = await createTestApiKey(db, user.id);
    const child = await createApiKey(db, {
      userId: user.id,
      createdBy: user.id,
      name: 'c',
      purpose: 'batch',
      hidden: true,
      parentApiKeyId: key.id,
    });
    const cap = { limit: new Decimal(1), interval: null };
    assert.instance(await rejection(() => setApiKeySpendCap(db, randomUUID(), cap)), UnknownApiKeyError);
    assert.instance(await rejection(() => setApiKeySpendCap(db, child.key.id, cap)), InvalidSpendCapError);
    assert.instance(
      await rejection(() => setApiKeySpendCap(db, key.id, { limit: new Decimal(0), interval: null })),
      InvalidSpendCapError,
    );
    assert.instance(
      await rejection(() => setApiKeySpendCap(db, key.id, { limit: new Decimal(Number.NaN), interval: null })),
      InvalidSpendCapError,
    );
    await deleteApiKey(db, key.id);
    assert.instance(await rejection(() => resetApiKeySpendWindow(db, key.id)), UnknownApiKeyError);
    assert.instance(await rejection(() => removeApiKeySpendCap(db, key.id)), UnknownApiKeyError);
  }));

test('replace the active tariff of the same purpose, end tariffs, and say whether a model is free', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const modelId = await createTestModel(db, 'm', 'priced', await createTestEndpoint(db, 'e', user.id), user.id);
    const price = (input: string, output: string, apiKeyPurpose: string | null = null) =>
      setModelTariff(db, {
        deployedModelId: modelId,
        name: `${input}/${output}`,
        inputPricePerToken: new Decimal(input),
        outputPricePerToken: new Decimal(output),
        apiKeyPurpose,
      });
    assert.ok(await isModelFree(db, 'priced'));
    await price('0', '0');
    assert.ok(await isModelFree(db, 'priced'), 'a zero tariff is free');
    await price('0.00000001', '0');
    await price('0', '0.5', 'batch');
    assert.not.ok(await isModelFree(db, 'priced'));
    const active = await activeTariffs(db, modelId);
    assert.equal(active.map((t) => t.name).sort(), ['0.00000001/0', '0/0.5']);
    assert.is(await endModelTariff(db, modelId, null), 1);
    assert.not.ok(await isModelFree(db, 'priced'), 'the batch tariff makes it paid for every key');
    assert.is(await endModelTariff(db, modelId), 1);
    assert.ok(await isModelFree(db, 'priced'));
    assert.ok(await isModelFree(db, 'no-such-model'));
    for (const [input, output] of [
      ['-1', '0'],
      ['0', '10000'],
      ['0.000000001', '0'],
    ] as const) {
      assert.instance(await rejection(() => price(input, output)), InvalidPriceError);
    }
  }));

test('set a feature flag on and off, idempotently', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    assert.not.ok(await hasUserFeatureFlag(db, user.id, 'ALLOW_NEGATIVE_BALANCE'));
    await setUserFeatureFlag(db, user.id, 'ALLOW_NEGATIVE_BALANCE', true);
    await setUserFeatureFlag(db, user.id, 'ALLOW_NEGATIVE_BALANCE', true);
    assert.ok(await hasUserFeatureFlag(db, user.id, 'ALLOW_NEGATIVE_BALANCE'));
    await setUserFeatureFlag(db, user.id, 'ALLOW_NEGATIVE_BALANCE', false);
    assert.not.ok(await hasUserFeatureFlag(db, user.id, 'ALLOW_NEGATIVE_BALANCE'));
  }));

test.run();

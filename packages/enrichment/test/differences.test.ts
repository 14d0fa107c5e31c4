/*
 * The new checks and where they differ from dwctl: free models, exempt owners, the system key,
 * non-inference keys, caps through child keys, and requests that name no model.
 */

import {
  addUserToGroup,
  createApiKey,
  type Database,
  endModelTariff,
  recordUsage,
  SYSTEM_USER_ID,
  setApiKeySpendCap,
  setUserFeatureFlag,
} from '@control-layer/db';
import { addTestTariff, withTestDatabase } from '@control-layer/db/testing';
import { Decimal } from 'decimal.js';
import request from 'supertest';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chat, createApp, forbidding, keyHolder } from './helpers.ts';

const test = suite('differences');

function poster(db: Database) {
  const app = createApp({ db }, forbidding().downstream);
  return (secret: string, body: object | null = chat('authorized-model')) => {
    const req = request(app.callback()).post('/ai/v1/chat/completions').set('authorization', `Bearer ${secret}`);
    return body === null ? req : req.send(body);
  };
}

/** A key whose $10 cap (per `interval`) is spent: $10.50 of usage recorded against it. */
async function spentCap(db: Database, keyId: string, interval: 'daily' | null = null) {
  await setApiKeySpendCap(db, keyId, { limit: new Decimal(10), interval });
  await recordUsage(db, { apiKeyId: keyId, amount: new Decimal('10.5'), sourceId: `spend-${keyId}` });
}

test('explains neither the balance nor a cap on a free model, where the router admits both', () =>
  withTestDatabase(async (db) => {
    const broke = await keyHolder(db, { credits: null, paid: false });
    const post = poster(db);
    let response = await post(broke.secret);
    assert.is(response.status, 403);
    assert.is(response.text, 'Forbidden');

    // Any active paid tariff makes the model paid for every key, whatever its purpose.
    await addTestTariff(db, broke.deploymentId, { purpose: 'batch' });
    response = await post(broke.secret);
    assert.is(response.status, 402);
    assert.is(response.body.error.code, 'insufficient_credits');

    // An ended tariff, or one priced at zero, leaves it free.
    await endModelTariff(db, broke.deploymentId);
    await addTestTariff(db, broke.deploymentId, { input: 0, output: 0 });
    assert.is((await post(broke.secret)).text, 'Forbidden');

    const capped = await keyHolder(db, { alias: 'free-capped', paid: false });
    await spentCap(db, capped.key.id);
    assert.is((await post(capped.secret, chat('free-capped'))).text, 'Forbidden');
  }));

test('explains a spent cap with exact amounts, the next reset and dwctl message', () =>
  withTestDatabase(async (db) => {
    const daily = await keyHolder(db);
    await spentCap(db, daily.key.id, 'daily');
    const post = poster(db);
    let response = await post(daily.secret);
    assert.is(response.status, 402);
    assert.is(response.headers['x-should-retry'], 'false');
    const tomorrow = new Date();
    tomorrow.setUTCHours(24, 0, 0, 0);
    const resetsAt = tomorrow.toISOString().replace('.000Z', 'Z');
    assert.equal(response.body.error, {
      message: `API key has reached its spending cap of $10.00 (spent $10.50 this period; resets ${resetsAt}). Raise or remove the cap to resume.`,
      type: 'insufficient_quota',
      code: 'spend_cap_exceeded',
      param: null,
      spend_limit: '10.00',
      window_spend: '10.50',
      resets_at: resetsAt,
      request_id: null,
    });

    const oneOff = await keyHolder(db, { alias: 'one-off' });
    await setApiKeySpendCap(db, oneOff.key.id, { limit: new Decimal('0.125'), interval: null });
    await recordUsage(db, { apiKeyId: oneOff.key.id, amount: new Decimal('0.125'), sourceId: 'x' });
    response = await post(oneOff.secret, chat('one-off'));
    assert.is(
      response.body.error.message,
      'API key has reached its spending cap of $0.12 (spent $0.12 this period). Raise or remove the cap to resume.',
    );
    assert.is(response.body.error.spend_limit, '0.125');
    assert.is(response.body.error.resets_at, null);
  }));

test('explains a hidden child key with its parent cap, and applies balance and cap without a model', () =>
  withTestDatabase(async (db) => {
    const parent = await keyHolder(db);
    await spentCap(db, parent.key.id);
    const child = await createApiKey(db, {
      userId: parent.user.id,
      createdBy: parent.user.id,
      name: 'child',
      purpose: 'batch',
      hidden: true,
      parentApiKeyId: parent.key.id,
    });
    const post = poster(db);
    assert.is((await post(child.secret)).body.error.code, 'spend_cap_exceeded');
    assert.is((await post(parent.secret, null)).body.error.code, 'spend_cap_exceeded');
    assert.is((await post(parent.secret, { messages: [] })).body.error.code, 'spend_cap_exceeded');
    const broke = await keyHolder(db, { credits: null, alias: 'other', paid: false });
    assert.is((await post(broke.secret, { prompt: 'no model' })).body.error.code, 'insufficient_credits');
  }));

test('never stops an exempt owner with the balance, but still with the cap; the flag off restores the balance', () =>
  withTestDatabase(async (db) => {
    const holder = await keyHolder(db, { credits: null });
    await setUserFeatureFlag(db, holder.user.id, 'ALLOW_NEGATIVE_BALANCE', true);
    const post = poster(db);
    assert.is((await post(holder.secret)).text, 'Forbidden');
    await spentCap(db, holder.key.id);
    assert.is((await post(holder.secret)).body.error.code, 'spend_cap_exceeded');
    await setUserFeatureFlag(db, holder.user.id, 'ALLOW_NEGATIVE_BALANCE', false);
    assert.is((await post(holder.secret)).body.error.code, 'insufficient_credits');
  }));

test('answers a platform key with non_inference_key before anything else', () =>
  withTestDatabase(async (db) => {
    const holder = await keyHolder(db, { purpose: 'platform', credits: null, grant: false });
    const response = await poster(db)(holder.secret);
    assert.is(response.status, 403);
    assert.is(response.headers['x-should-retry'], 'false');
    assert.equal(response.body.error, {
      message: "API keys with purpose 'platform' cannot be used for inference requests.",
      type: 'invalid_request_error',
      code: 'non_inference_key',
      param: null,
      purpose: 'platform',
      request_id: null,
    });
  }));

test('exempts the system key from the purpose gate and from the balance, as the router admits it', () =>
  withTestDatabase(async (db) => {
    const holder = await keyHolder(db, { credits: null });
    await addUserToGroup(db, SYSTEM_USER_ID, holder.group.id);
    const system = await createApiKey(db, {
      userId: SYSTEM_USER_ID,
      createdBy: SYSTEM_USER_ID,
      name: 'system',
      purpose: 'platform',
    });
    const post = poster(db);
    assert.is((await post(system.secret)).text, 'Forbidden');
    assert.is((await post(system.secret, chat('elsewhere'))).body.error.code, 'model_access_denied');
  }));

test.run();

import {
  addDeploymentToGroup,
  deleteApiKey,
  EVERYONE_GROUP_ID,
  openDatabase,
  setTrafficRule,
  softDeleteDeployedModel,
} from '@control-layer/db';
import { createTestModel, withTestDatabase } from '@control-layer/db/testing';
import type { Logger } from 'drizzle-orm';
import request from 'supertest';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateApiKeyModelAccess } from '../src/index.ts';
import { chat, createApp, denyPurpose, forbidding, keyHolder } from './helpers.ts';

const test = suite('verdicts');

const post = (app: ReturnType<typeof createApp>, secret: string, model: string) =>
  request(app.callback()).post('/ai/v1/chat/completions').set('authorization', `Bearer ${secret}`).send(chat(model));

test('checks access before modality and modality before balance', () =>
  withTestDatabase(async (db) => {
    // Every condition at once: no credits, a deny rule on the key's purpose, and no access.
    const { secret, deploymentId } = await keyHolder(db, { purpose: 'batch', credits: null, grant: false });
    await denyPurpose(db, deploymentId, 'batch');
    const app = createApp({ db }, forbidding().downstream);
    assert.is((await post(app, secret, 'authorized-model')).body.error.code, 'model_access_denied');
    await addDeploymentToGroup(db, deploymentId, EVERYONE_GROUP_ID);
    assert.is((await post(app, secret, 'authorized-model')).body.error.code, 'modality_blocked');
    await setTrafficRule(db, { deployedModelId: deploymentId, apiKeyPurpose: 'realtime', action: 'deny' });
    await setTrafficRule(db, {
      deployedModelId: deploymentId,
      apiKeyPurpose: 'batch',
      action: 'redirect',
      redirectTargetId: deploymentId,
    });
    assert.is((await post(app, secret, 'authorized-model')).status, 402);
  }));

test('enriches nothing for unknown or deleted keys, and tells such callers nothing', () =>
  withTestDatabase(async (db) => {
    const { key, secret } = await keyHolder(db, { credits: null });
    const app = createApp({ db }, forbidding().downstream);
    assert.is((await post(app, 'sk-not-a-key', 'authorized-model')).text, 'Forbidden');
    await deleteApiKey(db, key.id);
    const response = await post(app, secret, 'nowhere');
    assert.is(response.status, 403);
    assert.is(response.text, 'Forbidden');
  }));

test('reports a deleted model as no access, and ignores its rules', () =>
  withTestDatabase(async (db) => {
    const { secret, deploymentId } = await keyHolder(db, { purpose: 'batch' });
    await denyPurpose(db, deploymentId, 'batch');
    await softDeleteDeployedModel(db, deploymentId);
    const app = createApp({ db }, forbidding().downstream);
    const response = await post(app, secret, 'authorized-model');
    assert.is(response.body.error.code, 'model_access_denied');
  }));

test('counts a zero balance as too low, as the router does', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db, { credits: null });
    const app = createApp({ db }, forbidding().downstream);
    const response = await post(app, secret, 'authorized-model');
    assert.is(response.status, 402);
    assert.is(response.body.error.balance, '0.00');
  }));

test('sends exactly one SQL statement per explained or unexplained 403, and none otherwise', async () => {
  const statements: string[] = [];
  const logger: Logger = { logQuery: (query) => statements.push(query) };
  await withTestDatabase(
    async (db) => {
      const { secret, deploymentId } = await keyHolder(db, { purpose: 'batch' });
      const broke = await keyHolder(db, { credits: null, alias: 'other-model' });
      await denyPurpose(db, deploymentId, 'batch');
      const app = createApp({ db }, forbidding().downstream);
      const ok = createApp({ db }, (ctx) => {
        ctx.body = 'fine';
      });
      const cases: [ReturnType<typeof createApp>, string, string, number][] = [
        [app, secret, 'nowhere', 1],
        [app, secret, 'authorized-model', 1],
        [app, broke.secret, 'other-model', 1],
        [app, 'sk-unknown', 'authorized-model', 1],
        [ok, secret, 'nowhere', 0],
      ];
      for (const [target, key, model, expected] of cases) {
        statements.length = 0;
        await post(target, key, model);
        assert.is(statements.length, expected, `${model} ${key.slice(0, 8)}`);
      }
      statements.length = 0;
      await request(app.callback()).post('/x').send(chat('nowhere'));
      assert.is(statements.length, 0, 'no token');
    },
    { logger },
  );
});

test('validateApiKeyModelAccess answers every verdict without throwing', () =>
  withTestDatabase(async (db) => {
    const { key, secret, deploymentId, user, endpointId } = await keyHolder(db, { purpose: 'batch', credits: null });
    assert.equal(await validateApiKeyModelAccess(db, secret, 'authorized-model'), { ok: true });
    assert.equal(await validateApiKeyModelAccess(db, secret, 'nowhere'), {
      ok: false,
      code: 'model_access_denied',
      message: "You do not have access to 'nowhere'. Please contact your administrator to request access.",
    });
    const open = await createTestModel(db, 'o', 'open-model', endpointId, user.id);
    await addDeploymentToGroup(db, open, EVERYONE_GROUP_ID);
    await denyPurpose(db, open, 'realtime');
    assert.equal(await validateApiKeyModelAccess(db, secret, 'open-model'), { ok: true });
    await denyPurpose(db, deploymentId, 'batch');
    const blocked = await validateApiKeyModelAccess(db, secret, 'authorized-model');
    assert.is(blocked.ok ? null : blocked.code, 'modality_blocked');
    assert.equal(await validateApiKeyModelAccess(db, 'sk-nope', 'authorized-model'), {
      ok: false,
      code: 'invalid_api_key',
      message: 'Invalid API key',
    });
    await deleteApiKey(db, key.id);
    const deleted = await validateApiKeyModelAccess(db, secret, 'authorized-model');
    assert.is(deleted.ok ? null : deleted.message, 'Invalid API key');
  }));

test('validateApiKeyModelAccess turns a database failure into a lookup_failed verdict', async () => {
  const down = await openDatabase('postgres://postgres@127.0.0.1:1/none', { connectionTimeoutMs: 500 });
  try {
    const verdict = await validateApiKeyModelAccess(down.db, 'sk-x', 'm');
    assert.is(verdict.ok, false);
    if (verdict.ok) return;
    assert.is(verdict.code, 'lookup_failed');
    assert.not.match(verdict.message, /ECONNREFUSED|127\.0\.0\.1/);
    assert.instance(verdict.cause, Error);
  } finally {
    await down.close();
  }
});

test.run();

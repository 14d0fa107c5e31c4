import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Database } from '../src/index.ts';
import {
  addDeploymentToGroup,
  addUserToGroup,
  checkModalityBlocked,
  checkUserHasModelAccess,
  deleteApiKey,
  EVERYONE_GROUP_ID,
  explainDenial,
  SYSTEM_USER_ID,
  setTrafficRule,
  softDeleteDeployedModel,
} from '../src/index.ts';
import {
  createTestApiKey,
  createTestEndpoint,
  createTestGroup,
  createTestModel,
  createTestUser,
  withTestDatabase,
} from '../src/testing/index.ts';

const test = suite('access');

/** A user, an endpoint and one model `alias`, not yet granted to anyone. */
async function world(db: Database, alias = 'model-a') {
  const user = await createTestUser(db);
  const endpointId = await createTestEndpoint(db, 'test-endpoint', user.id);
  const modelId = await createTestModel(db, `${alias}-name`, alias, endpointId, user.id);
  return { user, endpointId, modelId };
}

test('grant access through a group the user belongs to', () =>
  withTestDatabase(async (db) => {
    const { user, modelId } = await world(db);
    const group = await createTestGroup(db);
    assert.not.ok(await checkUserHasModelAccess(db, user.id, 'model-a'));
    await addDeploymentToGroup(db, modelId, group.id, user.id);
    assert.not.ok(await checkUserHasModelAccess(db, user.id, 'model-a'));
    await addUserToGroup(db, user.id, group.id);
    assert.ok(await checkUserHasModelAccess(db, user.id, 'model-a'));
  }));

test('grant access to every user through the Everyone group without membership rows', () =>
  withTestDatabase(async (db) => {
    const { user, modelId } = await world(db);
    const stranger = await createTestUser(db);
    await addDeploymentToGroup(db, modelId, EVERYONE_GROUP_ID);
    assert.ok(await checkUserHasModelAccess(db, user.id, 'model-a'));
    assert.ok(await checkUserHasModelAccess(db, stranger.id, 'model-a'));
  }));

test('leave the system user out of Everyone', () =>
  withTestDatabase(async (db) => {
    const { modelId } = await world(db);
    await addDeploymentToGroup(db, modelId, EVERYONE_GROUP_ID);
    assert.not.ok(await checkUserHasModelAccess(db, SYSTEM_USER_ID, 'model-a'));
    const group = await createTestGroup(db);
    await addUserToGroup(db, SYSTEM_USER_ID, group.id);
    await addDeploymentToGroup(db, modelId, group.id);
    assert.ok(await checkUserHasModelAccess(db, SYSTEM_USER_ID, 'model-a'));
  }));

test('deny access to a deleted model and to an unknown alias', () =>
  withTestDatabase(async (db) => {
    const { user, modelId } = await world(db);
    await addDeploymentToGroup(db, modelId, EVERYONE_GROUP_ID);
    assert.not.ok(await checkUserHasModelAccess(db, user.id, 'no-such-model'));
    assert.ok(await softDeleteDeployedModel(db, modelId));
    assert.not.ok(await checkUserHasModelAccess(db, user.id, 'model-a'));
  }));

test('match a deny rule only against the presented key own purpose', () =>
  withTestDatabase(async (db) => {
    const { user, modelId } = await world(db);
    const batch = await createTestApiKey(db, user.id, 'batch');
    const realtime = await createTestApiKey(db, user.id, 'realtime');
    await setTrafficRule(db, { deployedModelId: modelId, apiKeyPurpose: 'batch', action: 'deny' });
    assert.is(await checkModalityBlocked(db, batch.secret, 'model-a'), 'batch');
    assert.is(await checkModalityBlocked(db, realtime.secret, 'model-a'), null);
    assert.is(await checkModalityBlocked(db, batch.secret, 'other-model'), null);
  }));

test('ignore redirect rules', () =>
  withTestDatabase(async (db) => {
    const { user, endpointId, modelId } = await world(db);
    const targetId = await createTestModel(db, 'target-name', 'target', endpointId, user.id);
    const batch = await createTestApiKey(db, user.id, 'batch');
    await setTrafficRule(db, {
      deployedModelId: modelId,
      apiKeyPurpose: 'batch',
      action: 'redirect',
      redirectTargetId: targetId,
    });
    assert.is(await checkModalityBlocked(db, batch.secret, 'model-a'), null);
    // Replacing the redirect by a deny on the same (model, purpose) takes effect.
    await setTrafficRule(db, { deployedModelId: modelId, apiKeyPurpose: 'batch', action: 'deny' });
    assert.is(await checkModalityBlocked(db, batch.secret, 'model-a'), 'batch');
  }));

test('ignore deny rules on deleted models and for deleted or unknown keys', () =>
  withTestDatabase(async (db) => {
    const { user, modelId } = await world(db);
    const batch = await createTestApiKey(db, user.id, 'batch');
    const other = await createTestApiKey(db, user.id, 'batch', 'other');
    await setTrafficRule(db, { deployedModelId: modelId, apiKeyPurpose: 'batch', action: 'deny' });
    assert.is(await checkModalityBlocked(db, 'sk-unknown', 'model-a'), null);
    await deleteApiKey(db, other.key.id);
    assert.is(await checkModalityBlocked(db, other.secret, 'model-a'), null);
    await softDeleteDeployedModel(db, modelId);
    assert.is(await checkModalityBlocked(db, batch.secret, 'model-a'), null);
  }));

test('answer aliases holding U+0000, which Postgres text cannot store, as unknown', () =>
  withTestDatabase(async (db) => {
    const { user, modelId } = await world(db);
    await addDeploymentToGroup(db, modelId, EVERYONE_GROUP_ID);
    const batch = await createTestApiKey(db, user.id, 'batch');
    await setTrafficRule(db, { deployedModelId: modelId, apiKeyPurpose: 'batch', action: 'deny' });
    assert.not.ok(await checkUserHasModelAccess(db, user.id, 'model-a\u0000'));
    assert.is(await checkModalityBlocked(db, batch.secret, 'model-a\u0000'), null);
    const facts = await explainDenial(db, batch.secret, '\u0000model-a');
    assert.is(facts?.hasModelAccess, false);
    assert.is(facts?.deniedPurpose, null);
    assert.is(facts?.userId, user.id);
    assert.is(await explainDenial(db, 'sk-\u0000', 'model-a'), null);
  }));

test('treat SQL-looking aliases as plain values', () =>
  withTestDatabase(async (db) => {
    const { user, modelId } = await world(db, "x' or '1'='1");
    await addDeploymentToGroup(db, modelId, EVERYONE_GROUP_ID);
    assert.ok(await checkUserHasModelAccess(db, user.id, "x' or '1'='1"));
    assert.not.ok(await checkUserHasModelAccess(db, user.id, "' or 1=1 --"));
  }));

test.run();

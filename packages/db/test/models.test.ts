import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  addDeploymentToGroup,
  addUserToGroup,
  createDeployedModel,
  EVERYONE_GROUP_ID,
  listModelsForKey,
  SYSTEM_USER_ID,
} from '../src/index.ts';
import { createTestApiKey, createTestGroup, createTestUser, withTestDatabase } from '../src/testing/index.ts';

const test = suite('listModelsForKey');

test('tell a live key that reaches nothing (an empty list) from an invalid one (null)', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { secret } = await createTestApiKey(db, user.id, 'realtime');
    assert.equal(await listModelsForKey(db, secret), []);
    assert.is(await listModelsForKey(db, 'sk-none'), null);
    assert.is(await listModelsForKey(db, 'sk-\u0000'), null);
  }));

test('list an alias once when several groups grant it', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const group = await createTestGroup(db);
    await addUserToGroup(db, user.id, group.id);
    await addUserToGroup(db, SYSTEM_USER_ID, group.id);
    const model = await createDeployedModel(db, { modelName: 'm', alias: 'm', createdBy: user.id });
    await addDeploymentToGroup(db, model.id, group.id);
    await addDeploymentToGroup(db, model.id, EVERYONE_GROUP_ID);
    const { secret } = await createTestApiKey(db, user.id, 'batch');
    const listed = await listModelsForKey(db, secret);
    assert.equal(
      listed?.map((m) => m.alias),
      ['m'],
    );
    assert.is(listed?.[0]?.created, Math.floor(model.createdAt.getTime() / 1000));
  }));

test.run();

import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  addDeploymentToGroup,
  addUserToGroup,
  createDeployedModel,
  EVERYONE_GROUP_ID,
  listModelsForKey,
  type ModelListing,
  SYSTEM_USER_ID,
  setTrafficRule,
  softDeleteUser,
} from '../src/index.ts';
import { createTestApiKey, createTestGroup, createTestUser, withTestDatabase } from '../src/testing/index.ts';

const test = suite('listModelsForKey');

const aliases = (listing: ModelListing) => (listing.kind === 'listed' ? listing.models.map((m) => m.alias) : null);

test('tell a live key that reaches nothing (an empty list) from an unknown one', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { secret } = await createTestApiKey(db, user.id, 'realtime');
    assert.equal(aliases(await listModelsForKey(db, secret)), []);
    assert.is((await listModelsForKey(db, 'sk-none')).kind, 'unknown');
    assert.is((await listModelsForKey(db, 'sk-\u0000')).kind, 'unknown');
  }));

test("treat a deleted owner's key as unknown, and refuse an expired or platform key with its facts", () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { key, secret } = await createTestApiKey(db, user.id, 'realtime');
    const platform = await createTestApiKey(db, user.id, 'platform');
    const refused = await listModelsForKey(db, platform.secret);
    assert.ok(refused.kind === 'refused' && !refused.key.expired);
    await db.execute(sql`update api_keys set expires_at = now() where id = ${key.id}`);
    const expired = await listModelsForKey(db, secret);
    assert.ok(expired.kind === 'refused' && expired.key.expired);
    await softDeleteUser(db, user.id);
    assert.is((await listModelsForKey(db, secret)).kind, 'unknown');
    assert.is((await listModelsForKey(db, platform.secret)).kind, 'unknown');
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
    assert.equal(aliases(listed), ['m']);
    assert.is(
      listed.kind === 'listed' ? listed.models[0]?.created : null,
      Math.floor(model.createdAt.getTime() / 1000),
    );
  }));

test('list any number of models, each with its own facts, in one statement', async () => {
  const statements: string[] = [];
  await withTestDatabase(
    async (db) => {
      const user = await createTestUser(db);
      for (let i = 0; i < 40; i++) {
        const model = await createDeployedModel(db, { modelName: `m${i}`, alias: `m${i}`, createdBy: user.id });
        await addDeploymentToGroup(db, model.id, EVERYONE_GROUP_ID);
        if (i % 2 === 0)
          await setTrafficRule(db, { deployedModelId: model.id, apiKeyPurpose: 'batch', action: 'deny' });
      }
      const { secret } = await createTestApiKey(db, user.id, 'batch');
      statements.length = 0;
      const listed = await listModelsForKey(db, secret);
      assert.is(statements.length, 1);
      assert.ok(listed.kind === 'listed');
      assert.is(listed.models.length, 40);
      for (const model of listed.models) {
        assert.is(model.facts.hasModelAccess, true);
        assert.is(model.facts.deniedPurpose, Number(model.alias.slice(1)) % 2 === 0 ? 'batch' : null, model.alias);
      }
    },
    { logger: { logQuery: (query) => statements.push(query) } },
  );
});

test.run();

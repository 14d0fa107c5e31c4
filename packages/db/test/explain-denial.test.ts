import type { Logger } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Database } from '../src/index.ts';
import {
  API_KEY_PURPOSES,
  addDeploymentToGroup,
  addUserToGroup,
  checkModalityBlocked,
  checkUserHasModelAccess,
  createApiKey,
  deleteApiKey,
  EVERYONE_GROUP_ID,
  explainDenial,
  getUserBalance,
  getUserIdBySecret,
  SYSTEM_USER_ID,
  setTrafficRule,
  softDeleteDeployedModel,
} from '../src/index.ts';
import {
  addTestCredits,
  createTestApiKey,
  createTestEndpoint,
  createTestGroup,
  createTestModel,
  createTestUser,
  withTestDatabase,
} from '../src/testing/index.ts';

const test = suite('explainDenial');

class CountingLogger implements Logger {
  statements: string[] = [];
  logQuery(query: string): void {
    this.statements.push(query);
  }
}

/** Users with and without access, balances above, at and below zero, rules of both kinds. */
async function fixtureWorld(db: Database) {
  const member = await createTestUser(db);
  const outsider = await createTestUser(db);
  const broke = await createTestUser(db);
  const endpoint = await createTestEndpoint(db, 'e', member.id);
  const group = await createTestGroup(db);
  await addUserToGroup(db, member.id, group.id);
  await addUserToGroup(db, broke.id, group.id);
  const privateModel = await createTestModel(db, 'p', 'private-model', endpoint, member.id);
  const publicModel = await createTestModel(db, 'q', 'public-model', endpoint, member.id);
  const goneModel = await createTestModel(db, 'g', 'gone-model', endpoint, member.id);
  await addDeploymentToGroup(db, privateModel, group.id);
  await addDeploymentToGroup(db, goneModel, group.id);
  await addDeploymentToGroup(db, publicModel, EVERYONE_GROUP_ID);
  await softDeleteDeployedModel(db, goneModel);
  await setTrafficRule(db, { deployedModelId: privateModel, apiKeyPurpose: 'batch', action: 'deny' });
  await setTrafficRule(db, { deployedModelId: publicModel, apiKeyPurpose: 'playground', action: 'deny' });
  await setTrafficRule(db, {
    deployedModelId: publicModel,
    apiKeyPurpose: 'realtime',
    action: 'redirect',
    redirectTargetId: privateModel,
  });
  await addTestCredits(db, member.id, '50.00');
  await addTestCredits(db, broke.id, '50.00');
  await addTestCredits(db, broke.id, '100.00', 'usage');
  const secrets: string[] = ['sk-unknown'];
  const keyOf: Record<string, string> = {};
  const owners = { member: member.id, outsider: outsider.id, broke: broke.id, system: SYSTEM_USER_ID };
  for (const [who, owner] of Object.entries(owners)) {
    for (const purpose of API_KEY_PURPOSES) {
      const { secret } = await createApiKey(db, { userId: owner, createdBy: owner, name: purpose, purpose });
      keyOf[`${who}:${purpose}`] = secret;
      secrets.push(secret);
    }
  }
  const deleted = await createTestApiKey(db, member.id, 'batch', 'deleted');
  await deleteApiKey(db, deleted.key.id);
  secrets.push(deleted.secret);
  const aliases = ['private-model', 'public-model', 'gone-model', 'no-such-model', null];
  /** The plaintext of `who`'s key with `purpose`, e.g. `key('broke:batch')`. */
  const key = (name: string) => keyOf[name] ?? '';
  return { secrets, aliases, key };
}

test('agree with the single-purpose queries on every key and alias of the fixtures', () =>
  withTestDatabase(async (db) => {
    const { secrets, aliases } = await fixtureWorld(db);
    let explained = 0;
    for (const secret of secrets) {
      for (const alias of aliases) {
        const facts = await explainDenial(db, secret, alias);
        const userId = await getUserIdBySecret(db, secret);
        if (userId === null) {
          assert.is(facts, null, `${secret} ${alias}`);
          continue;
        }
        explained++;
        assert.ok(facts);
        assert.is(facts.userId, userId);
        assert.is(facts.hasModelAccess, alias === null ? null : await checkUserHasModelAccess(db, userId, alias));
        assert.is(facts.deniedPurpose, alias === null ? null : await checkModalityBlocked(db, secret, alias));
        assert.is(facts.balance.toFixed(), (await getUserBalance(db, userId)).toFixed());
      }
    }
    assert.is(explained, 16 * aliases.length);
  }));

test('report the facts of the seed cases', () =>
  withTestDatabase(async (db) => {
    const { key } = await fixtureWorld(db);
    const member = await explainDenial(db, key('member:batch'), 'private-model');
    assert.equal(
      { ...member, balance: member?.balance.toFixed(2), userId: undefined, keyId: undefined },
      {
        keyId: undefined,
        userId: undefined,
        keyName: 'batch',
        purpose: 'batch',
        expired: false,
        expiresAt: null,
        isSystemKey: false,
        hasModelAccess: true,
        deniedPurpose: 'batch',
        balance: '50.00',
        balanceExempt: false,
        modelIsFree: true,
        spendCap: null,
      },
    );
    const outsider = await explainDenial(db, key('outsider:realtime'), 'private-model');
    assert.is(outsider?.hasModelAccess, false);
    const broke = await explainDenial(db, key('broke:batch'), 'public-model');
    assert.is(broke?.balance.toFixed(2), '-50.00');
    assert.is(broke?.deniedPurpose, null);
    const playground = await explainDenial(db, key('outsider:playground'), 'public-model');
    assert.is(playground?.hasModelAccess, true);
    assert.is(playground?.deniedPurpose, 'playground');
    const system = await explainDenial(db, key('system:realtime'), 'public-model');
    assert.is(system?.hasModelAccess, false);
  }));

test('answer in exactly one SQL statement', async () => {
  const logger = new CountingLogger();
  await withTestDatabase(
    async (db) => {
      const user = await createTestUser(db);
      const { secret } = await createTestApiKey(db, user.id, 'batch');
      logger.statements = [];
      await explainDenial(db, secret, 'private-model');
      await explainDenial(db, 'sk-nope', null);
      assert.is(logger.statements.length, 2);
    },
    { logger },
  );
});

test.run();

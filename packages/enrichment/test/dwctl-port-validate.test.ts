/*
 * The validateApiKeyModelAccess tests of dwctl's error_enrichment.rs at HEAD, one for one (the
 * original name above each). dwctl's Flex gate checks `batch` deny rules whatever the key's
 * purpose; here that is the `rulePurpose: FLEX_DISPATCH_PURPOSE` option.
 */
import { addDeploymentToGroup, addUserToGroup, createApiKey, type Database, SYSTEM_USER_ID } from '@control-layer/db';
import {
  createTestApiKey,
  createTestEndpoint,
  createTestGroup,
  createTestModel,
  createTestUser,
  withTestDatabase,
} from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FLEX_DISPATCH_PURPOSE, validateApiKeyModelAccess } from '../src/index.ts';
import { denyPurpose } from './helpers.ts';

const test = suite('dwctl port: validateApiKeyModelAccess');

/** A user with a key of `purpose`, in a group granted `alias`, with a deny rule for `deny` on it. */
async function ruledModel(db: Database, purpose: 'batch' | 'realtime', alias: string, deny: string) {
  const user = await createTestUser(db);
  const { secret } = await createTestApiKey(db, user.id, purpose);
  const endpointId = await createTestEndpoint(db, 'test-endpoint', user.id);
  const deploymentId = await createTestModel(db, `${alias}-name`, alias, endpointId, user.id);
  const group = await createTestGroup(db);
  await addUserToGroup(db, user.id, group.id);
  await addDeploymentToGroup(db, deploymentId, group.id, user.id);
  await denyPurpose(db, deploymentId, deny);
  return { user, secret, endpointId, group };
}

const messageOf = (verdict: Awaited<ReturnType<typeof validateApiKeyModelAccess>>) =>
  verdict.ok ? '' : verdict.message;

// test_validate_api_key_model_access_rejects_modality_blocked
test('rejects a modality-blocked key and allows a model without a rule', () =>
  withTestDatabase(async (db) => {
    const { user, secret, endpointId, group } = await ruledModel(db, 'batch', 'blocked-model', 'batch');
    const verdict = await validateApiKeyModelAccess(db, secret, 'blocked-model');
    assert.not.ok(verdict.ok, 'expected modality-blocked rejection');
    const message = messageOf(verdict);
    assert.ok(
      message.includes('Batch') && message.includes('blocked-model') && message.includes('administrator'),
      `expected modality-blocked message, got: ${message}`,
    );
    const openId = await createTestModel(db, 'open-model-name', 'open-model', endpointId, user.id);
    await addDeploymentToGroup(db, openId, group.id, user.id);
    assert.equal(await validateApiKeyModelAccess(db, secret, 'open-model'), { ok: true });
  }));

// test_validate_flex_allowed_despite_realtime_deny_rule
test('allows a request run as batch despite a realtime deny rule on a realtime key', () =>
  withTestDatabase(async (db) => {
    const { secret } = await ruledModel(db, 'realtime', 'async-only', 'realtime');
    const verdict = await validateApiKeyModelAccess(db, secret, 'async-only', { rulePurpose: FLEX_DISPATCH_PURPOSE });
    assert.equal(verdict, { ok: true }, 'Flex request must be allowed despite a realtime-only deny rule');
  }));

// test_validate_flex_blocked_by_batch_deny_rule_with_realtime_key
test('blocks a request run as batch by a batch deny rule, whatever the key purpose', () =>
  withTestDatabase(async (db) => {
    const { secret } = await ruledModel(db, 'realtime', 'no-batch', 'batch');
    const verdict = await validateApiKeyModelAccess(db, secret, 'no-batch', { rulePurpose: FLEX_DISPATCH_PURPOSE });
    assert.not.ok(verdict.ok);
    const message = messageOf(verdict);
    assert.ok(
      message.includes('Batch') && message.includes('no-batch') && message.includes('administrator'),
      `expected batch modality-blocked message, got: ${message}`,
    );
  }));

// test_validate_api_key_model_access_rejects_platform_purpose
test('rejects a platform key before any access check', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { secret } = await createTestApiKey(db, user.id, 'platform', 'Platform Key');
    const verdict = await validateApiKeyModelAccess(db, secret, 'any-model');
    assert.not.ok(verdict.ok);
    const message = messageOf(verdict);
    assert.ok(message.includes('platform') && message.includes('inference'), message);
    assert.is(verdict.ok ? null : verdict.code, 'non_inference_key');
  }));

// test_validate_api_key_model_access_exempts_system_key_from_purpose_gate
test('exempts the system key from the purpose gate', () =>
  withTestDatabase(async (db) => {
    const { secret } = await createApiKey(db, {
      userId: SYSTEM_USER_ID,
      createdBy: SYSTEM_USER_ID,
      name: 'System Key',
      purpose: 'platform',
    });
    const verdict = await validateApiKeyModelAccess(db, secret, 'any-model');
    assert.not.ok(messageOf(verdict).includes('cannot be used for inference requests'), messageOf(verdict));
  }));

test.run();

import { randomUUID } from 'node:crypto';
import type { Decimal as DecimalJs } from 'decimal.js';
import type { Database } from '../database.ts';
import { Decimal } from '../money.ts';
import {
  addDeploymentToGroup,
  addUserToGroup,
  createDeployedModel,
  createGroup,
  createInferenceEndpoint,
  setTrafficRule,
} from '../queries/access.ts';
import { type CreatedApiKey, createApiKey } from '../queries/api-keys.ts';
import { createTransaction } from '../queries/credits.ts';
import { recordUsage } from '../queries/spend.ts';
import { setApiKeySpendCap } from '../queries/spend-caps.ts';
import { setModelTariff } from '../queries/tariffs.ts';
import { createUser } from '../queries/users.ts';
import { type ApiKeyPurpose, NIL_UUID, type TransactionType } from '../schema/index.ts';
import type { Group, User } from '../types.ts';

/*
 * Fixtures mirroring dwctl's test helpers (`create_test_user`, `create_test_group`, ...), so the
 * ported tests read like the ones they come from.
 */

const suffix = () => randomUUID().replaceAll('-', '');

/** A standard user named `testuser_<hex>`, in no group and with no credits. */
export async function createTestUser(db: Database, overrides: { isAdmin?: boolean } = {}): Promise<User> {
  const username = `testuser_${suffix()}`;
  return createUser(db, {
    username,
    email: `${username}@example.com`,
    displayName: 'Test User',
    authSource: 'test',
    isAdmin: overrides.isAdmin ?? false,
  });
}

/** A native group `test_group_<hex>` created by the system user. */
export function createTestGroup(db: Database): Promise<Group> {
  return createGroup(db, { name: `test_group_${suffix()}`, description: 'Test group', createdBy: NIL_UUID });
}

export async function createTestEndpoint(db: Database, name: string, createdBy: string): Promise<string> {
  const endpoint = await createInferenceEndpoint(db, { name, url: 'http://localhost:8080', createdBy });
  return endpoint.id;
}

/** A live deployment `alias` of `modelName` on the endpoint; returns its id. */
export async function createTestModel(
  db: Database,
  modelName: string,
  alias: string,
  endpointId: string,
  createdBy: string,
): Promise<string> {
  const model = await createDeployedModel(db, { modelName, alias, hostedOn: endpointId, createdBy });
  return model.id;
}

/** A key owned and created by the user, with the given purpose. */
export function createTestApiKey(
  db: Database,
  userId: string,
  purpose: ApiKeyPurpose = 'realtime',
  name = 'Test Key',
): Promise<CreatedApiKey> {
  return createApiKey(db, { userId, createdBy: userId, name, purpose });
}

/** Record a ledger row with a random source id; `50.00` as an admin grant by default. */
export async function addTestCredits(
  db: Database,
  userId: string,
  amount: DecimalJs.Value = '50.00',
  type: TransactionType = 'admin_grant',
): Promise<void> {
  await createTransaction(db, { userId, type, amount: new Decimal(amount), sourceId: randomUUID() });
}

/**
 * Give a deployment an active paid tariff (by default $0.000001 in, $0.000002 out per token), so
 * the balance and caps apply to it: a model without one is free.
 */
export async function addTestTariff(
  db: Database,
  deploymentId: string,
  prices: { input?: DecimalJs.Value; output?: DecimalJs.Value; purpose?: string | null } = {},
): Promise<void> {
  await setModelTariff(db, {
    deployedModelId: deploymentId,
    name: 'test tariff',
    inputPricePerToken: new Decimal(prices.input ?? '0.000001'),
    outputPricePerToken: new Decimal(prices.output ?? '0.000002'),
    apiKeyPurpose: prices.purpose ?? null,
  });
}

/** Plaintext keys of `seedDenialWorld`, one per outcome a router's 403 can have. */
export interface DenialWorldKeys {
  /** A member with credits, realtime purpose: nothing to explain. */
  working: string;
  /** The same member's batch key: blocked by the deny rule. */
  batch: string;
  /** A member whose balance is -50: no credits. */
  broke: string;
  /** A user with credits in no group: no access. */
  outsider: string;
  /** The member's platform key: not an inference key. */
  platform: string;
  /** A member with credits whose key's one-off $1 cap is spent. */
  capped: string;
}

/**
 * One paid model `alias` reachable through a group, with batch keys denied on it, and a key for each
 * outcome (see `DenialWorldKeys`). Shared by the gateway's tests and the benchmarks.
 */
export async function seedDenialWorld(
  db: Database,
  alias: string,
): Promise<{ modelId: string; keys: DenialWorldKeys }> {
  const admin = await createTestUser(db, { isAdmin: true });
  const endpoint = await createTestEndpoint(db, `endpoint-${randomUUID()}`, admin.id);
  const modelId = await createTestModel(db, `upstream-${alias}`, alias, endpoint, admin.id);
  const group = await createTestGroup(db);
  await addDeploymentToGroup(db, modelId, group.id);
  await setTrafficRule(db, { deployedModelId: modelId, apiKeyPurpose: 'batch', action: 'deny' });
  // Paid, so that a balance at or below zero explains a denial.
  await addTestTariff(db, modelId);

  const member = await createTestUser(db);
  await addUserToGroup(db, member.id, group.id);
  await addTestCredits(db, member.id, '50.00');
  const broke = await createTestUser(db);
  await addUserToGroup(db, broke.id, group.id);
  await addTestCredits(db, broke.id, '50.00');
  await addTestCredits(db, broke.id, '100.00', 'usage');
  const outsider = await createTestUser(db);
  await addTestCredits(db, outsider.id, '50.00');
  const spender = await createTestUser(db);
  await addUserToGroup(db, spender.id, group.id);
  await addTestCredits(db, spender.id, '50.00');
  const capped = await createTestApiKey(db, spender.id, 'realtime');
  await setApiKeySpendCap(db, capped.key.id, { limit: new Decimal(1), interval: null });
  await recordUsage(db, { apiKeyId: capped.key.id, amount: new Decimal(1), sourceId: randomUUID() });

  return {
    modelId,
    keys: {
      working: (await createTestApiKey(db, member.id, 'realtime')).secret,
      batch: (await createTestApiKey(db, member.id, 'batch')).secret,
      broke: (await createTestApiKey(db, broke.id, 'realtime')).secret,
      outsider: (await createTestApiKey(db, outsider.id, 'realtime')).secret,
      platform: (await createTestApiKey(db, member.id, 'platform')).secret,
      capped: capped.secret,
    },
  };
}

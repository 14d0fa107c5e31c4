/*
 * The stub upstream admits like the router does after this checks, and charges what it
 * serves: so demo keys run down their balance and into their caps, and the gateway explains it.
 * (Its database failure, a 503 in the envelope, is in stub-upstream.test.ts.)
 */
import { randomUUID } from 'node:crypto';
import {
  addDeploymentToGroup,
  createApiKey,
  creditsTransactions,
  type Database,
  EVERYONE_GROUP_ID,
  getSpendCheckpoint,
  recordUsage,
  SYSTEM_USER_ID,
  setApiKeySpendCap,
  setUserFeatureFlag,
} from '@control-layer/db';
import {
  addTestCredits,
  createTestApiKey,
  createTestDatabase,
  createTestEndpoint,
  createTestModel,
  createTestUser,
  shiftSpendBack,
} from '@control-layer/db/testing';
import { Decimal } from 'decimal.js';
import { eq } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cannedUsage, FORBIDDEN_BODY } from '../src/index.ts';
import { chat, MODEL, seedWorld, send, startStack } from './helpers.ts';

const test = suite('stub admission and charging');

const t = await createTestDatabase();
const { keys, modelId } = await seedWorld(t.db);
const stack = await startStack(t.db);
const FREE = 'free-model';
const admin = await createTestUser(t.db);
const freeModel = await createTestModel(t.db, 'free', FREE, await createTestEndpoint(t.db, 'e', admin.id), admin.id);
await addDeploymentToGroup(t.db, freeModel, EVERYONE_GROUP_ID);

test.after(async () => {
  await stack?.close();
  await t?.close();
});

const post = (base: string, key: string, model = MODEL) =>
  send(`${base}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(chat(model)),
  });
const stub = (key: string, model = MODEL) => post(`${stack.stubUrl}/v1`, key, model);
const gateway = (key: string, model = MODEL) => post(`${stack.gatewayUrl}/ai/v1`, key, model);
const code = (response: { body: Buffer }) => JSON.parse(response.body.toString()).error?.code;

async function usageOf(db: Database, keyId: string) {
  return db.select().from(creditsTransactions).where(eq(creditsTransactions.apiKeyId, keyId));
}

test('admits the system key always and a platform key never', async () => {
  const system = await createApiKey(t.db, {
    userId: SYSTEM_USER_ID,
    createdBy: SYSTEM_USER_ID,
    name: 's',
    purpose: 'platform',
  });
  assert.is((await stub(system.secret)).status, 200);
  const member = await createTestUser(t.db);
  const platform = await createTestApiKey(t.db, member.id, 'platform');
  await addTestCredits(t.db, member.id, '10');
  const response = await stub(platform.secret, FREE);
  assert.is(response.status, 403);
  assert.is(response.body.toString(), FORBIDDEN_BODY);
  assert.is(code(await gateway(platform.secret, FREE)), 'non_inference_key');
});

test('admits any balance on a free model and charges nothing for it', async () => {
  const response = await stub(keys.broke, FREE);
  assert.is(response.status, 200);
  assert.is((await stub(keys.broke)).status, 403);
  assert.is(code(await gateway(keys.broke)), 'insufficient_credits');
});

test('admits an exempt owner whatever the balance', async () => {
  const user = await createTestUser(t.db);
  await addTestCredits(t.db, user.id, '5', 'usage');
  const { secret } = await createTestApiKey(t.db, user.id);
  await addDeploymentToGroup(t.db, modelId, EVERYONE_GROUP_ID);
  assert.is((await stub(secret)).status, 403);
  await setUserFeatureFlag(t.db, user.id, 'ALLOW_NEGATIVE_BALANCE', true);
  assert.is((await stub(secret)).status, 200);
});

test('charges each completion at the tariff, and a key runs into its cap: paid models only', async () => {
  const member = await createTestUser(t.db);
  await addTestCredits(t.db, member.id, '100');
  const { key, secret } = await createTestApiKey(t.db, member.id);
  // The shared fixture's tariff: $0.000001 in, $0.000002 out per token.
  const tokens = cannedUsage(chat());
  const cost = new Decimal('0.000001')
    .times(tokens.prompt_tokens)
    .plus(new Decimal('0.000002').times(tokens.completion_tokens));
  // Room for exactly three completions: the third reaches the cap.
  await setApiKeySpendCap(t.db, key.id, { limit: cost.times(3), interval: 'daily' });
  for (let i = 0; i < 3; i++) assert.is((await gateway(secret)).status, 200, `completion ${i + 1}`);
  const charged = await usageOf(t.db, key.id);
  assert.equal(
    charged.map((row) => row.amount.toFixed()),
    [cost.toFixed(), cost.toFixed(), cost.toFixed()],
  );
  assert.is((await getSpendCheckpoint(t.db, key.id))?.windowSpend.toFixed(), cost.times(3).toFixed());
  const refused = await gateway(secret);
  assert.is(refused.status, 402);
  assert.is(code(refused), 'spend_cap_exceeded');
  assert.is((await gateway(secret, FREE)).status, 200);
  assert.is((await usageOf(t.db, key.id)).length, 3);
});

test('readmits a spent scope at once when its window has rolled', async () => {
  const member = await createTestUser(t.db);
  await addTestCredits(t.db, member.id, '100');
  const { key, secret } = await createTestApiKey(t.db, member.id);
  await setApiKeySpendCap(t.db, key.id, { limit: new Decimal(1), interval: 'daily' });
  await recordUsage(t.db, { apiKeyId: key.id, amount: new Decimal(1), sourceId: randomUUID() });
  assert.is((await stub(secret)).status, 403);
  await shiftSpendBack(t.db, key.id, '1 day');
  assert.is((await stub(secret)).status, 200);
  // The first usage of the new window rolled it over: the old window's spend is gone.
  assert.ok((await getSpendCheckpoint(t.db, key.id))?.windowSpend.lt(1));
});

test.run();

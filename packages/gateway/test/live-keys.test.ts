/*
 * Only a live key (not deleted, owner not deleted, not expired) gets through the stub router:
 * a deleted user's key is refused and charged nothing, as an unknown key is; an expired key is
 * refused the same way and the gateway tells its holder it expired.
 */
import {
  addDeploymentToGroup,
  addUserToGroup,
  creditsTransactions,
  type Database,
  softDeleteUser,
} from '@control-layer/db';
import {
  addTestCredits,
  addTestTariff,
  createTestApiKey,
  createTestDatabase,
  createTestEndpoint,
  createTestGroup,
  createTestModel,
  createTestUser,
} from '@control-layer/db/testing';
import { eq, sql } from 'drizzle-orm';
import { AuthenticationError } from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FORBIDDEN_BODY } from '../src/index.ts';
import { chat, openaiClient, send, startStack } from './helpers.ts';

const test = suite('live keys through the stub router');

const t = await createTestDatabase();
const stack = await startStack(t.db);
const MODEL = 'paid-model';
const admin = await createTestUser(t.db);
const modelId = await createTestModel(t.db, 'paid', MODEL, await createTestEndpoint(t.db, 'e', admin.id), admin.id);
await addTestTariff(t.db, modelId);
const group = await createTestGroup(t.db);
await addDeploymentToGroup(t.db, modelId, group.id);

test.after(async () => {
  await stack?.close();
  await t?.close();
});

/** A member of the model's group with credits, and a realtime key. */
async function holder(name = 'Test Key') {
  const user = await createTestUser(t.db);
  await addUserToGroup(t.db, user.id, group.id);
  await addTestCredits(t.db, user.id, '50.00');
  return { user, ...(await createTestApiKey(t.db, user.id, 'realtime', name)) };
}

const post = (base: string, key: string) =>
  send(`${base}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(chat(MODEL)),
  });
const stub = (key: string) => post(`${stack.stubUrl}/v1`, key);
const gateway = (key: string) => post(`${stack.gatewayUrl}/ai/v1`, key);

async function charges(db: Database, keyId: string): Promise<number> {
  return (await db.select().from(creditsTransactions).where(eq(creditsTransactions.apiKeyId, keyId))).length;
}

test("refuses a deleted user's key as an unknown key, and charges nothing", async () => {
  const { user, key, secret } = await holder();
  assert.is((await gateway(secret)).status, 200);
  assert.is(await charges(t.db, key.id), 1);
  await softDeleteUser(t.db, user.id);
  const refused = await stub(secret);
  assert.is(refused.status, 403);
  assert.is(refused.body.toString(), FORBIDDEN_BODY);
  // The gateway explains nothing to it: the router's 403 as it came, as for a key never issued.
  const passed = await gateway(secret);
  assert.is(passed.status, 403);
  assert.is(passed.body.toString(), FORBIDDEN_BODY);
  assert.is(passed.body.toString(), (await gateway('sk-never-issued')).body.toString());
  const listed = await send(`${stack.gatewayUrl}/ai/v1/models`, { headers: { authorization: `Bearer ${secret}` } });
  assert.is(listed.status, 401);
  assert.is(JSON.parse(listed.body.toString()).error.code, 'invalid_api_key');
  assert.is(await charges(t.db, key.id), 1);
});

test('refuses a key from its expiry on exactly as an unknown key, and the gateway says it expired', async () => {
  const { key, secret } = await holder('nightly');
  await t.db.execute(sql`update api_keys set expires_at = now() + interval '1 hour' where id = ${key.id}`);
  assert.is((await stub(secret)).status, 200);
  await t.db.execute(sql`update api_keys set expires_at = '2026-02-03T04:05:06Z' where id = ${key.id}`);
  const refused = await stub(secret);
  assert.is(refused.status, 403);
  assert.is(refused.body.toString(), FORBIDDEN_BODY);
  const explained = await gateway(secret);
  assert.is(explained.status, 401);
  assert.is(explained.headers['x-should-retry'], 'false');
  const { error } = JSON.parse(explained.body.toString());
  assert.is(error.code, 'api_key_expired');
  assert.is(error.message, "API key 'nightly' expired at 2026-02-03T04:05:06Z. Create a new key to continue.");
  assert.is(await charges(t.db, key.id), 1);
});

test('surfaces the expiry through the openai SDK as an AuthenticationError it does not retry', async () => {
  const { key, secret } = await holder('sdk');
  await t.db.execute(sql`update api_keys set expires_at = now() where id = ${key.id}`);
  const client = openaiClient(stack.gatewayUrl, secret).withOptions({ maxRetries: 2 });
  let caught: unknown;
  try {
    await client.chat.completions.create(chat(MODEL));
  } catch (error) {
    caught = error;
  }
  assert.instance(caught, AuthenticationError);
  const error = caught as { status: number; code: string; type: string; message: string };
  assert.is(error.status, 401);
  assert.is(error.code, 'api_key_expired');
  assert.is(error.type, 'invalid_request_error');
  assert.match(
    error.message,
    /^401 API key 'sdk' expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\. Create a new key to continue\.$/,
  );
  assert.is(await charges(t.db, key.id), 0);
});

test.run();

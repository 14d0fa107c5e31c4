/*
 * GET /ai/v1/models answered by the gateway from the database: OpenAI's list shape, the models
 * the key's owner reaches, 401s that tell an invalid caller nothing, and the SDK's models.list().
 */
import {
  addDeploymentToGroup,
  addUserToGroup,
  createApiKey,
  createDeployedModel,
  deleteApiKey,
  EVERYONE_GROUP_ID,
  SYSTEM_USER_ID,
  setTrafficRule,
  softDeleteDeployedModel,
  softDeleteUser,
} from '@control-layer/db';
import {
  createTestApiKey,
  createTestDatabase,
  createTestEndpoint,
  createTestGroup,
  createTestUser,
} from '@control-layer/db/testing';
import { sql } from 'drizzle-orm';
import OpenAI from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { send, startGateway } from './helpers.ts';

const test = suite('models route');

const t = await createTestDatabase();
const db = t.db;
// Nothing may reach the upstream: the list is answered before the proxy.
const front = await startGateway(db, 'http://127.0.0.2:9');

const admin = await createTestUser(db);
const endpoint = await createTestEndpoint(db, 'e', admin.id);
const group = await createTestGroup(db);
const member = await createTestUser(db);
await addUserToGroup(db, member.id, group.id);
const model = async (alias: string, grant: string | null, extra: { status?: 'inactive' } = {}) => {
  const row = await createDeployedModel(db, {
    modelName: alias,
    alias,
    hostedOn: endpoint,
    createdBy: admin.id,
    ...extra,
  });
  if (grant) await addDeploymentToGroup(db, row.id, grant);
  return row.id;
};
await model('zeta', group.id);
await model('Alpha', EVERYONE_GROUP_ID);
const realtimeDenied = await model('beta', group.id);
await addDeploymentToGroup(db, realtimeDenied, EVERYONE_GROUP_ID);
await setTrafficRule(db, { deployedModelId: realtimeDenied, apiKeyPurpose: 'realtime', action: 'deny' });
await model('hidden', null);
await model('paused', group.id, { status: 'inactive' });
await softDeleteDeployedModel(db, await model('gone', group.id));
const { secret } = await createTestApiKey(db, member.id, 'batch');

test.after(async () => {
  await front?.close();
  await t?.close();
});

const list = (authorization: string | null, query = '') =>
  send(`${front.url}/ai/v1/models${query}`, { headers: authorization === null ? {} : { authorization } });
const json = (response: { body: Buffer }) => JSON.parse(response.body.toString());

test('lists the models the owner reaches, live and active, sorted by alias, in OpenAI list shape', async () => {
  const response = await list(`Bearer ${secret}`);
  assert.is(response.status, 200);
  const body = json(response);
  assert.is(body.object, 'list');
  assert.equal(
    body.data.map((m: { id: string }) => m.id),
    ['Alpha', 'beta', 'zeta'],
  );
  for (const entry of body.data) {
    assert.equal(Object.keys(entry), ['id', 'object', 'created', 'owned_by', 'availability']);
    // No tariffs: every model is free, and the batch key is denied on none.
    assert.equal(entry.availability, { status: 'available' });
    assert.is(entry.object, 'model');
    assert.is(entry.owned_by, 'control-layer');
    assert.ok(Number.isInteger(entry.created) && Math.abs(entry.created - Date.now() / 1000) < 3600);
  }
  assert.ok(response.headers['x-request-id']);
});

test('filters by realtime availability, and refuses a filter that is not true or false', async () => {
  const ids = async (query: string) =>
    json(await list(`Bearer ${secret}`, query)).data.map((m: { id: string }) => m.id);
  assert.equal(await ids('?available_for_realtime=true'), ['Alpha', 'zeta']);
  assert.equal(await ids('?available_for_realtime=false'), ['beta']);
  const bad = await list(`Bearer ${secret}`, '?available_for_realtime=yes');
  assert.is(bad.status, 400);
  assert.is(json(bad).error.code, 'invalid_query_parameter');
});

test('answers 401 missing_authorization without a token, and 401 invalid_api_key for any key that is not a live inference key', async () => {
  for (const authorization of [null, 'Bearer ', 'Basic abc', 'bearer    ']) {
    const response = await list(authorization);
    assert.is(response.status, 401, String(authorization));
    assert.equal(json(response).error.code, 'missing_authorization');
    assert.is(json(response).error.type, 'authentication_error');
    // Either header would have done, so the message names both.
    assert.is(json(response).error.message, 'Missing API key: send Authorization: Bearer <key> or x-api-key');
  }
  const deleted = await createTestApiKey(db, member.id);
  await deleteApiKey(db, deleted.key.id);
  const platform = await createTestApiKey(db, member.id, 'platform');
  const system = await createApiKey(db, {
    userId: SYSTEM_USER_ID,
    createdBy: SYSTEM_USER_ID,
    name: 's',
    purpose: 'platform',
  });
  const goneUser = await createTestUser(db);
  const orphan = await createTestApiKey(db, goneUser.id);
  await softDeleteUser(db, goneUser.id);
  for (const key of ['sk-unknown', deleted.secret, platform.secret, system.secret, orphan.secret]) {
    const response = await list(`BEARER ${key}`);
    assert.is(response.status, 401);
    assert.equal(json(response).error.message, 'Invalid API key');
    assert.equal(json(response).error.code, 'invalid_api_key');
    assert.not.ok(response.body.toString().includes('Alpha'));
  }
});

test('answers an expired key with the 401 api_key_expired a request with it gets, also through models.list()', async () => {
  const { key, secret: expiring } = await createTestApiKey(db, member.id, 'batch', 'nightly');
  await db.execute(sql`update api_keys set expires_at = '2026-05-06T07:08:09.5Z' where id = ${key.id}`);
  const response = await list(`Bearer ${expiring}`);
  assert.is(response.status, 401);
  assert.is(response.headers['x-should-retry'], 'false');
  const { error } = json(response);
  assert.is(error.code, 'api_key_expired');
  assert.is(error.type, 'invalid_request_error');
  assert.is(error.message, "API key 'nightly' expired at 2026-05-06T07:08:09Z. Create a new key to continue.");
  assert.is(error.expired_at, '2026-05-06T07:08:09Z');
  assert.not.ok(response.body.toString().includes('Alpha'));
  assert.not.ok(response.body.toString().includes(expiring));
  const client = new OpenAI({ apiKey: expiring, baseURL: `${front.url}/ai/v1` });
  try {
    await client.models.list();
    assert.unreachable('expected a 401');
  } catch (error) {
    assert.instance(error, OpenAI.AuthenticationError);
    assert.is((error as InstanceType<typeof OpenAI.AuthenticationError>).code, 'api_key_expired');
  }
  // A platform key that has expired is told it expired too: expiry is checked first.
  const platform = await createTestApiKey(db, member.id, 'platform', '');
  await db.execute(sql`update api_keys set expires_at = now() where id = ${platform.key.id}`);
  assert.match(json(await list(`Bearer ${platform.secret}`)).error.message, /^This API key expired at /);
});

test("lists only Everyone's models for a user in no group", async () => {
  const loner = await createTestUser(db);
  const { secret: lonely } = await createTestApiKey(db, loner.id, 'playground');
  const body = json(await list(`Bearer ${lonely}`));
  assert.equal(
    body.data.map((m: { id: string }) => m.id),
    ['Alpha', 'beta'],
  );
});

test('works with models.list() of the openai SDK, and the SDK raises the 401', async () => {
  const client = new OpenAI({ apiKey: secret, baseURL: `${front.url}/ai/v1`, maxRetries: 0 });
  const ids: string[] = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.equal(ids, ['Alpha', 'beta', 'zeta']);
  // The SDK keeps the added field; beta's realtime deny rule is what a realtime request to it would hit.
  const realtime = await createTestApiKey(db, member.id, 'realtime');
  const availability: Record<string, unknown> = {};
  const lister = new OpenAI({ apiKey: realtime.secret, baseURL: `${front.url}/ai/v1`, maxRetries: 0 });
  for await (const m of lister.models.list()) {
    availability[m.id] = (m as unknown as { availability: unknown }).availability;
  }
  assert.equal(availability.Alpha, { status: 'available' });
  assert.equal(availability.beta, {
    status: 'denied',
    code: 'modality_blocked',
    message:
      "Real-time access to 'beta' is blocked by a routing rule. Please contact your administrator to request access.",
  });
  const denied = new OpenAI({ apiKey: 'sk-unknown', baseURL: `${front.url}/ai/v1`, maxRetries: 0 });
  try {
    await denied.models.list();
    assert.unreachable('expected a 401');
  } catch (error) {
    assert.instance(error, OpenAI.AuthenticationError);
    assert.is((error as InstanceType<typeof OpenAI.AuthenticationError>).code, 'invalid_api_key');
  }
});

test.run();

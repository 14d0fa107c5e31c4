/*
 * The stub router admits on /v1/messages and /v1/responses exactly as on /v1/chat/completions,
 * with the key in `Authorization: Bearer` or in `x-api-key`; its own errors on the Messages API
 * use Anthropic's envelope with the same statuses.
 */

import type { OutgoingHttpHeaders } from 'node:http';
import {
  addDeploymentToGroup,
  addUserToGroup,
  createApiKey,
  deleteApiKey,
  EVERYONE_GROUP_ID,
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
  createTestGroup,
  createTestModel,
  createTestUser,
  shiftSpendBack,
} from '@control-layer/db/testing';
import { Decimal } from 'decimal.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FORBIDDEN_BODY } from '../src/index.ts';
import { MODEL, type RawResponse, seedWorld, send, startStack } from './helpers.ts';

const test = suite('stub admission on every API');

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

/** One prompt in each API's shape. */
const ROUTES = {
  'chat/completions': (model: string) => ({ model, messages: [{ role: 'user', content: 'Hello' }] }),
  messages: (model: string) => ({ model, max_tokens: 64, messages: [{ role: 'user', content: 'Hello' }] }),
  responses: (model: string) => ({ model, input: 'Hello' }),
} as const;
type Route = keyof typeof ROUTES;
const ROUTE_NAMES = Object.keys(ROUTES) as Route[];

const post = (url: string, headers: OutgoingHttpHeaders, body: unknown) =>
  send(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const stub = (route: Route, headers: OutgoingHttpHeaders, model = MODEL) =>
  post(`${stack.stubUrl}/v1/${route}`, headers, ROUTES[route](model));
const gateway = (route: Route, headers: OutgoingHttpHeaders, model = MODEL) =>
  post(`${stack.gatewayUrl}/ai/v1/${route}`, headers, ROUTES[route](model));

const json = (response: RawResponse) => JSON.parse(response.body.toString());
/** The outcome a client sees: the status and, for an error, its code (inside `error` in both envelopes). */
const outcome = (response: RawResponse) =>
  response.status === 200 ? '200' : `${response.status} ${json(response).error?.code}`;

const HOW = {
  authorization: (key: string): OutgoingHttpHeaders => ({ authorization: `Bearer ${key}` }),
  'x-api-key': (key: string): OutgoingHttpHeaders => ({ 'x-api-key': key }),
};

/** Each key state of the chat admission tests, and whether the router lets it through. */
async function keyStates(): Promise<{ state: string; key: string; model?: string; admitted: boolean }[]> {
  const members = await createTestGroup(t.db);
  await addDeploymentToGroup(t.db, modelId, members.id);
  const member = await createTestUser(t.db);
  const deleted = await createTestApiKey(t.db, member.id);
  await deleteApiKey(t.db, deleted.key.id);
  const system = (purpose: 'realtime' | 'batch' | 'platform') =>
    createApiKey(t.db, { userId: SYSTEM_USER_ID, createdBy: SYSTEM_USER_ID, name: purpose, purpose });
  const exempt = await createTestUser(t.db);
  await addTestCredits(t.db, exempt.id, '5', 'usage');
  await setUserFeatureFlag(t.db, exempt.id, 'ALLOW_NEGATIVE_BALANCE', true);
  const rolled = await createTestUser(t.db);
  for (const user of [exempt, rolled]) await addUserToGroup(t.db, user.id, members.id);
  await addTestCredits(t.db, rolled.id, '100');
  const rolledKey = await createTestApiKey(t.db, rolled.id);
  await setApiKeySpendCap(t.db, rolledKey.key.id, { limit: new Decimal(1), interval: 'daily' });
  await recordUsage(t.db, { apiKeyId: rolledKey.key.id, amount: new Decimal(1), sourceId: `rolled-${rolled.id}` });
  await shiftSpendBack(t.db, rolledKey.key.id, '1 day');
  return [
    { state: 'working key', key: keys.working, admitted: true },
    { state: 'unknown key', key: 'sk-nobody', admitted: false },
    { state: 'deleted key', key: deleted.secret, admitted: false },
    { state: 'no group access', key: keys.outsider, admitted: false },
    { state: 'denied purpose', key: keys.batch, admitted: false },
    { state: 'balance below zero, paid model', key: keys.broke, admitted: false },
    { state: 'balance below zero, free model', key: keys.broke, model: FREE, admitted: true },
    { state: 'platform key, free model', key: keys.platform, model: FREE, admitted: false },
    { state: 'spent cap, paid model', key: keys.capped, admitted: false },
    { state: 'spent cap, free model', key: keys.capped, model: FREE, admitted: true },
    { state: 'spent cap, window rolled', key: rolledKey.secret, admitted: true },
    { state: 'exempt owner below zero', key: (await createTestApiKey(t.db, exempt.id)).secret, admitted: true },
    { state: 'system key', key: (await system('realtime')).secret, admitted: true },
    { state: 'system platform key', key: (await system('platform')).secret, admitted: true },
    { state: 'system key, denied purpose', key: (await system('batch')).secret, admitted: false },
  ];
}
const states = await keyStates();

for (const [how, headers] of Object.entries(HOW)) {
  test(`admits or refuses each key state alike on every API, key in ${how}`, async () => {
    for (const { state, key, model, admitted } of states) {
      for (const route of ROUTE_NAMES) {
        const response = await stub(route, headers(key), model);
        assert.is(response.status, admitted ? 200 : 403, `${state} on ${route}`);
        if (!admitted) assert.is(response.body.toString(), FORBIDDEN_BODY, `${state} on ${route}`);
      }
    }
  });

  test(`gives a client the same outcome on every API through the gateway, key in ${how}`, async () => {
    for (const { state, key, model } of states) {
      const outcomes = [];
      for (const route of ROUTE_NAMES) outcomes.push(outcome(await gateway(route, headers(key), model)));
      assert.equal(outcomes, Array(ROUTE_NAMES.length).fill(outcomes[0]), state);
    }
  });
}

test('reads the key as onwards reads Authorization, else x-api-key, alike on every API', async () => {
  const cases: [string, OutgoingHttpHeaders, number][] = [
    ['no key', {}, 401],
    ['lower-case bearer', { authorization: `bearer ${keys.working}` }, 401],
    ['another scheme', { authorization: `Basic ${keys.working}` }, 401],
    ['an empty bearer', { authorization: 'Bearer ' }, 401],
    ['an empty x-api-key', { 'x-api-key': '' }, 401],
    ['x-api-key with spaces around', { 'x-api-key': ` ${keys.working} ` }, 200],
    ['Authorization wins over x-api-key', { authorization: `Bearer ${keys.working}`, 'x-api-key': 'sk-nobody' }, 200],
    ['an unknown Authorization wins too', { authorization: 'Bearer sk-nobody', 'x-api-key': keys.working }, 403],
    [
      'a malformed Authorization is no key',
      { authorization: `bearer ${keys.working}`, 'x-api-key': keys.working },
      401,
    ],
  ];
  for (const [name, headers, status] of cases) {
    for (const route of ROUTE_NAMES) assert.is((await stub(route, headers)).status, status, `${name} on ${route}`);
  }
});

test("answers its own errors on the Messages API in Anthropic's envelope, with chat's statuses", async () => {
  const working = HOW.authorization(keys.working);
  const cases: [string, Route | 'chat/completions', OutgoingHttpHeaders, unknown, number, string][] = [
    ['malformed JSON', 'messages', working, '{"model": ', 400, 'invalid_request_error'],
    ['no model', 'messages', working, { messages: [] }, 400, 'invalid_request_error'],
    ['unknown model', 'messages', working, ROUTES.messages('no-such-model'), 404, 'not_found_error'],
    ['no key', 'messages', {}, ROUTES.messages(MODEL), 401, 'authentication_error'],
    [
      'anthropic-version on chat',
      'chat/completions',
      { 'anthropic-version': '2023-06-01' },
      {},
      400,
      'invalid_request_error',
    ],
  ];
  for (const [name, route, headers, body, status, type] of cases) {
    const response = await post(`${stack.stubUrl}/v1/${route}`, { ...headers, 'x-request-id': 'req-1' }, body);
    assert.is(response.status, status, name);
    const envelope = json(response);
    assert.is(envelope.type, 'error', name);
    assert.is(envelope.error.type, type, name);
    assert.type(envelope.error.message, 'string', name);
    assert.is(envelope.request_id, 'req-1', name);
    const chatResponse = await post(`${stack.stubUrl}/v1/chat/completions`, headers, body);
    assert.is(chatResponse.status, status, `${name} on chat`);
  }
  const unknown = json(await stub('messages', {}, 'no-such-model'));
  assert.is(unknown.error.code, 'model_not_found');
});

test("keeps OpenAI's envelope for its own errors on the Responses API", async () => {
  const response = await stub('responses', {}, 'no-such-model');
  assert.is(response.status, 404);
  assert.equal(json(response), {
    error: {
      message: 'The model `no-such-model` does not exist or you do not have access to it.',
      type: 'invalid_request_error',
      param: null,
      code: 'model_not_found',
    },
  });
  const unauthenticated = await stub('responses', {});
  assert.is(unauthenticated.status, 401);
  assert.is(
    unauthenticated.body.toString(),
    '{"error":{"message":"Please supply an authentication token to access this resource","type":"invalid_request_error","param":null,"code":"unauthenticated"}}',
  );
});

test.run();

/*
 * Every enriched case end to end: the official `openai` SDK, the gateway, the stub upstream and
 * Postgres, all on real sockets.
 */
import { createTestDatabase, rejection } from '@control-layer/db/testing';
import OpenAI from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CANNED_REPLY } from '../src/index.ts';
import { chat, MODEL, openaiClient, seedWorld, startStack } from './helpers.ts';

const test = suite('openai SDK through the gateway');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
const stack = await startStack(t.db);

test.after(async () => {
  await stack?.close();
  await t?.close();
});

/** The error a chat completion with `key` fails with, as the SDK reports it. */
async function sdkError(key: string, model = MODEL): Promise<InstanceType<typeof OpenAI.APIError>> {
  const error = await rejection(() => openaiClient(stack.gatewayUrl, key).chat.completions.create(chat(model)));
  assert.instance(error, OpenAI.APIError);
  return error as InstanceType<typeof OpenAI.APIError>;
}

test('completes a chat for a key with access, credits and an allowed purpose', async () => {
  const completion = await openaiClient(stack.gatewayUrl, keys.working).chat.completions.create(chat());
  assert.is(completion.object, 'chat.completion');
  assert.is(completion.model, MODEL);
  assert.is(completion.choices[0]?.message.content, CANNED_REPLY);
});

test('streams a chat as chunks the SDK reassembles into the same reply', async () => {
  const stream = await openaiClient(stack.gatewayUrl, keys.working).chat.completions.create({
    ...chat(),
    stream: true,
  });
  let text = '';
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    text += chunk.choices[0]?.delta.content ?? '';
  }
  assert.ok(chunks > 3, `only ${chunks} chunks`);
  assert.is(text, CANNED_REPLY);
});

test('explains a missing model grant as a 403 model_access_denied', async () => {
  const error = await sdkError(keys.outsider);
  assert.instance(error, OpenAI.PermissionDeniedError);
  assert.is(error.status, 403);
  assert.is(error.code, 'model_access_denied');
  assert.is(error.type, 'invalid_request_error');
  assert.is(error.param, 'model');
  assert.is(
    error.message,
    `403 You do not have access to '${MODEL}'. Please contact your administrator to request access.`,
  );
  assert.is((error.error as { model?: string }).model, MODEL);
});

test("explains a deny rule on the key's purpose as a 403 modality_blocked", async () => {
  const error = await sdkError(keys.batch);
  assert.instance(error, OpenAI.PermissionDeniedError);
  assert.is(error.code, 'modality_blocked');
  assert.is(error.param, 'model');
  assert.ok(error.message.includes(`Batch access to '${MODEL}' is blocked by a routing rule.`), error.message);
  assert.equal((error.error as { purpose?: string }).purpose, 'batch');
});

test('explains an empty balance as a 402 insufficient_credits with the balance', async () => {
  const error = await sdkError(keys.broke);
  assert.is(error.status, 402);
  assert.is(error.code, 'insufficient_credits');
  assert.is(error.type, 'insufficient_quota');
  assert.is(error.param, null);
  assert.is(error.message, '402 Account balance too low. Please add credits to continue.');
  assert.is((error.error as { balance?: string }).balance, '-50.00');
});

test('tells the SDK not to retry a denial, and names the request in header and body alike', async () => {
  for (const key of [keys.outsider, keys.batch, keys.broke]) {
    const error = await sdkError(key);
    assert.is(error.headers?.get('x-should-retry'), 'false');
    assert.is(error.headers?.get('content-type'), 'application/json; charset=utf-8');
    assert.ok(error.requestID, 'no x-request-id');
    assert.is((error.error as { request_id?: string }).request_id, error.requestID);
  }
});

test('passes an unknown key the bare 403 the router sent', async () => {
  const error = await sdkError('sk-nobody-knows-this-key');
  assert.instance(error, OpenAI.PermissionDeniedError);
  assert.is(error.code, 'forbidden');
  assert.is(error.message, '403 Forbidden');
});

test("passes the router's 404 for an unknown model and its 401 without a key through", async () => {
  const notFound = await sdkError(keys.working, 'no-such-model');
  assert.instance(notFound, OpenAI.NotFoundError);
  assert.is(notFound.code, 'model_not_found');
  assert.is(notFound.message, '404 The model `no-such-model` does not exist or you do not have access to it.');

  const anonymous = await rejection(() =>
    openaiClient(stack.gatewayUrl, 'unused').chat.completions.create(chat(), { headers: { authorization: null } }),
  );
  assert.instance(anonymous, OpenAI.AuthenticationError);
  assert.is((anonymous as InstanceType<typeof OpenAI.APIError>).code, 'unauthenticated');
});

test.run();

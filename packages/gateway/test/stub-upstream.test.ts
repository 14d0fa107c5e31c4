/*
 * The stub upstream on its own: onwards' answers, decided from the database.
 */
import { deleteApiKey, NIL_UUID, openDatabase, softDeleteDeployedModel } from '@control-layer/db';
import { createTestApiKey, createTestDatabase, createTestUser } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CANNED_REPLY, createStubUpstream, FORBIDDEN_BODY } from '../src/index.ts';
import { chat, closedAddress, MODEL, seedWorld, send, serve } from './helpers.ts';

const test = suite('stub upstream');

const t = await createTestDatabase();
const { keys, modelId } = await seedWorld(t.db);
const stub = await serve(createStubUpstream({ db: t.db, chunkDelayMs: 1 }));

test.after(async () => {
  await stub?.close();
  await t?.close();
});

const completions = (authorization: string | null, body: unknown = chat()) =>
  send(`${stub.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization !== null && { authorization }) },
    body: JSON.stringify(body),
  });

test('answers 401 unauthenticated without a bearer token, as onwards does for any other scheme', async () => {
  for (const authorization of [null, `bearer ${keys.working}`, `Basic ${keys.working}`, 'Bearer ']) {
    const response = await completions(authorization);
    assert.is(response.status, 401, String(authorization));
    assert.is(JSON.parse(response.body.toString()).error.code, 'unauthenticated');
  }
});

test('answers 404 model_not_found for an unknown alias, before looking at the key', async () => {
  const response = await completions(null, chat('no-such-model'));
  assert.is(response.status, 404);
  assert.equal(JSON.parse(response.body.toString()), {
    error: {
      message: 'The model `no-such-model` does not exist or you do not have access to it.',
      type: 'invalid_request_error',
      param: null,
      code: 'model_not_found',
    },
  });
});

test('answers the bare 403 for each reason onwards leaves a key out of a model', async () => {
  const user = await createTestUser(t.db);
  const deleted = await createTestApiKey(t.db, user.id);
  await deleteApiKey(t.db, deleted.key.id);
  const cases = {
    'unknown key': 'sk-nobody',
    'deleted key': deleted.secret,
    'no group access': keys.outsider,
    'denied purpose': keys.batch,
    'balance below zero': keys.broke,
  };
  for (const [reason, key] of Object.entries(cases)) {
    const response = await completions(`Bearer ${key}`);
    assert.is(response.status, 403, reason);
    assert.is(response.body.toString(), FORBIDDEN_BODY, reason);
    assert.is(response.headers['content-type'], 'application/json; charset=utf-8', reason);
  }
});

test('answers a canned chat completion in OpenAI shape to a key onwards admits', async () => {
  const response = await completions(`Bearer ${keys.working}`);
  assert.is(response.status, 200);
  const completion = JSON.parse(response.body.toString());
  assert.is(completion.object, 'chat.completion');
  assert.is(completion.model, MODEL);
  assert.match(completion.id, /^chatcmpl-/);
  assert.equal(completion.choices[0].message, { role: 'assistant', content: CANNED_REPLY, refusal: null });
  assert.is(completion.choices[0].finish_reason, 'stop');
  assert.is(completion.usage.total_tokens, completion.usage.prompt_tokens + completion.usage.completion_tokens);
});

test('streams the completion as server-sent events ending in [DONE], with usage when asked', async () => {
  const response = await completions(`Bearer ${keys.working}`, {
    ...chat(),
    stream: true,
    stream_options: { include_usage: true },
  });
  assert.is(response.status, 200);
  assert.match(String(response.headers['content-type']), /^text\/event-stream/);
  const events = response.body.toString().split('\n\n').filter(Boolean);
  assert.is(events.at(-1), 'data: [DONE]');
  const chunks = events.slice(0, -1).map((event) => {
    assert.match(event, /^data: /);
    return JSON.parse(event.slice('data: '.length));
  });
  assert.ok(chunks.length > 3);
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk'));
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  assert.is(text, CANNED_REPLY);
  assert.ok(chunks.at(-1).usage.total_tokens > 0);
});

test('refuses a request without a model or with malformed JSON with a 400', async () => {
  assert.is((await completions(`Bearer ${keys.working}`, { messages: [] })).status, 400);
  const malformed = await send(`${stub.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.working}` },
    body: '{"model": ',
  });
  assert.is(malformed.status, 400);
  assert.is(JSON.parse(malformed.body.toString()).error.type, 'invalid_request_error');
});

test('admits the system key (nil user) without group access or credits, as onwards does', async () => {
  const system = await createTestApiKey(t.db, NIL_UUID, 'realtime');
  const admitted = await completions(`Bearer ${system.secret}`);
  assert.is(admitted.status, 200);
  assert.is(JSON.parse(admitted.body.toString()).choices[0].message.content, CANNED_REPLY);
  // A routing rule on its purpose still applies: batch keys are denied on this model.
  const batch = await createTestApiKey(t.db, NIL_UUID, 'batch');
  const denied = await completions(`Bearer ${batch.secret}`);
  assert.is(denied.status, 403);
  assert.is(denied.body.toString(), FORBIDDEN_BODY);
});

test('answers its own database failure with a 503 in the JSON error envelope', async () => {
  const down = await openDatabase(`postgres://stub:pw@${await closedAddress()}/none`, { connectionTimeoutMs: 500 });
  const broken = await serve(createStubUpstream({ db: down.db }));
  try {
    const response = await send(`${broken.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${keys.working}` },
      body: JSON.stringify(chat()),
    });
    assert.is(response.status, 503);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.equal(JSON.parse(response.body.toString()), {
      error: {
        message: 'The upstream could not reach its database. Please try again later.',
        type: 'api_error',
        param: null,
        code: 'database_unavailable',
      },
    });
  } finally {
    await broken.close();
    await down.close();
  }
});

test('treats a deleted deployment as unknown', async () => {
  await softDeleteDeployedModel(t.db, modelId);
  const response = await completions(`Bearer ${keys.working}`);
  assert.is(response.status, 404);
  assert.is(JSON.parse(response.body.toString()).error.code, 'model_not_found');
});

test.run();

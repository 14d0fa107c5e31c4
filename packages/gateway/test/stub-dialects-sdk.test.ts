/*
 * The built-in router's Anthropic Messages and OpenAI Responses answers, end to end: each official
 * SDK, the gateway, the stub upstream and Postgres on real sockets; usage and charges compared
 * with a chat completion's.
 */
import Anthropic from '@anthropic-ai/sdk';
import {
  addDeploymentToGroup,
  creditsTransactions,
  EVERYONE_GROUP_ID,
  getSpendCheckpoint,
  getUserBalance,
  setApiKeySpendCap,
} from '@control-layer/db';
import { addTestCredits, createTestApiKey, createTestDatabase, createTestUser } from '@control-layer/db/testing';
import { Decimal } from 'decimal.js';
import { eq } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CANNED_REPLY, cannedUsage } from '../src/index.ts';
import { chat, MODEL, openaiClient, seedWorld, startStack } from './helpers.ts';

const test = suite('stub dialects through the SDKs');

const t = await createTestDatabase();
const { keys, modelId } = await seedWorld(t.db);
await addDeploymentToGroup(t.db, modelId, EVERYONE_GROUP_ID);
const stack = await startStack(t.db);

test.after(async () => {
  await stack?.close();
  await t?.close();
});

/** The same one-word prompt in each API's shape, so each is charged for the same tokens. */
const PROMPT = 'Hello';
const message = { model: MODEL, max_tokens: 64, messages: [{ role: 'user' as const, content: PROMPT }] };
const responseRequest = { model: MODEL, input: PROMPT };
const chatTokens = cannedUsage(chat());
// The shared fixture's tariff: $0.000001 in, $0.000002 out per token.
const COST = new Decimal('0.000001')
  .times(chatTokens.prompt_tokens)
  .plus(new Decimal('0.000002').times(chatTokens.completion_tokens));

/**
 * The Anthropic SDK at the gateway. `x-api-key` sends the key only in that header: the decoy
 * `apiKey` would win as `Authorization: Bearer` if the SDK still sent it, and be refused.
 */
function anthropic(key: string, header: 'authorization' | 'x-api-key' = 'authorization'): Anthropic {
  const baseURL = `${stack.gatewayUrl}/ai`;
  if (header === 'authorization') return new Anthropic({ apiKey: key, baseURL, maxRetries: 0 });
  return new Anthropic({
    apiKey: 'sk-decoy',
    baseURL,
    maxRetries: 0,
    defaultHeaders: { 'x-api-key': key, authorization: null },
  });
}

/** A fresh member with $10 and a key capped at $5 a day, to see one answer's charge alone. */
async function freshMember() {
  const user = await createTestUser(t.db);
  await addTestCredits(t.db, user.id, '10');
  const { key, secret } = await createTestApiKey(t.db, user.id);
  await setApiKeySpendCap(t.db, key.id, { limit: new Decimal(5), interval: 'daily' });
  return { userId: user.id, keyId: key.id, secret };
}

async function chargesOf(keyId: string) {
  const rows = await t.db.select().from(creditsTransactions).where(eq(creditsTransactions.apiKeyId, keyId));
  return rows.map((row) => ({ amount: row.amount.toFixed(), description: row.description }));
}

for (const header of ['authorization', 'x-api-key'] as const) {
  test(`answers messages.create in the Messages shape, key in ${header}`, async () => {
    const answer = await anthropic(keys.working, header).messages.create(message);
    assert.is(answer.type, 'message');
    assert.is(answer.role, 'assistant');
    assert.is(answer.model, MODEL);
    assert.match(answer.id, /^msg_/);
    assert.equal(answer.content, [{ type: 'text', text: CANNED_REPLY }]);
    assert.is(answer.stop_reason, 'end_turn');
    assert.is(answer.stop_sequence, null);
    assert.is(answer.usage.input_tokens, chatTokens.prompt_tokens);
    assert.is(answer.usage.output_tokens, chatTokens.completion_tokens);
  });

  test(`streams a message the SDK assembles with finalMessage(), key in ${header}`, async () => {
    const stream = anthropic(keys.working, header).messages.stream(message);
    const deltas: string[] = [];
    stream.on('text', (delta) => deltas.push(delta));
    const final = await stream.finalMessage();
    assert.ok(deltas.length > 3, `only ${deltas.length} text events`);
    assert.is(deltas.join(''), CANNED_REPLY);
    assert.equal(asJson(final.content), [{ type: 'text', text: CANNED_REPLY }]);
    assert.is(final.stop_reason, 'end_turn');
    assert.is(final.usage.input_tokens, chatTokens.prompt_tokens);
    assert.is(final.usage.output_tokens, chatTokens.completion_tokens);
  });
}

/** As the wire would carry it: the SDK's assembled blocks may hold fields set to `undefined`. */
const asJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

test('yields each Messages event in order from create({ stream: true })', async () => {
  const events = await anthropic(keys.working).messages.create({ ...message, stream: true });
  const types: string[] = [];
  for await (const event of events) types.push(event.type);
  const deltas = types.filter((type) => type === 'content_block_delta').length;
  assert.ok(deltas > 3);
  assert.equal(types, [
    'message_start',
    'content_block_start',
    ...Array<string>(deltas).fill('content_block_delta'),
    'content_block_stop',
    'message_delta',
    'message_stop',
  ]);
});

test('counts a prompt for messages.countTokens as the answer is charged, and charges nothing', async () => {
  const member = await freshMember();
  const counted = await anthropic(member.secret).messages.countTokens({
    model: MODEL,
    system: 'Be brief',
    messages: message.messages,
  });
  assert.equal(counted, { input_tokens: 3 });
  assert.equal(await chargesOf(member.keyId), []);
});

test('answers responses.create in the Responses shape with usage', async () => {
  const answer = await openaiClient(stack.gatewayUrl, keys.working).responses.create(responseRequest);
  assert.is(answer.object, 'response');
  assert.is(answer.status, 'completed');
  assert.is(answer.model, MODEL);
  assert.match(answer.id, /^resp_/);
  assert.is(answer.output_text, CANNED_REPLY);
  const [item] = answer.output;
  assert.is(item?.type, 'message');
  assert.equal(item?.type === 'message' && item.content, [
    { type: 'output_text', text: CANNED_REPLY, annotations: [] },
  ]);
  assert.is(answer.usage?.input_tokens, chatTokens.prompt_tokens);
  assert.is(answer.usage?.output_tokens, chatTokens.completion_tokens);
  assert.is(answer.usage?.total_tokens, chatTokens.total_tokens);
});

test('streams a response the SDK assembles with finalResponse()', async () => {
  const stream = openaiClient(stack.gatewayUrl, keys.working).responses.stream(responseRequest);
  const deltas: string[] = [];
  stream.on('response.output_text.delta', (event) => deltas.push(event.delta));
  const final = await stream.finalResponse();
  assert.ok(deltas.length > 3, `only ${deltas.length} deltas`);
  assert.is(deltas.join(''), CANNED_REPLY);
  assert.is(final.status, 'completed');
  assert.is(final.output_text, CANNED_REPLY);
  assert.is(final.usage?.input_tokens, chatTokens.prompt_tokens);
  assert.is(final.usage?.total_tokens, chatTokens.total_tokens);
});

test('charges each API, streamed or not, at the tariff exactly as a chat completion', async () => {
  const calls = {
    chat: (key: string) => openaiClient(stack.gatewayUrl, key).chat.completions.create(chat()),
    messages: (key: string) => anthropic(key).messages.create(message),
    'messages streamed': (key: string) => anthropic(key).messages.stream(message).finalMessage(),
    'messages via x-api-key': (key: string) => anthropic(key, 'x-api-key').messages.create(message),
    responses: (key: string) => openaiClient(stack.gatewayUrl, key).responses.create(responseRequest),
    'responses streamed': (key: string) =>
      openaiClient(stack.gatewayUrl, key).responses.stream(responseRequest).finalResponse(),
  };
  const expected = [
    {
      amount: COST.toFixed(),
      description: `${MODEL}: ${chatTokens.prompt_tokens} prompt + ${chatTokens.completion_tokens} completion tokens`,
    },
  ];
  for (const [api, call] of Object.entries(calls)) {
    const member = await freshMember();
    await call(member.secret);
    assert.equal(await chargesOf(member.keyId), expected, api);
    assert.is((await getUserBalance(t.db, member.userId)).toFixed(), new Decimal(10).minus(COST).toFixed(), api);
    assert.is((await getSpendCheckpoint(t.db, member.keyId))?.windowSpend.toFixed(), COST.toFixed(), api);
  }
});

test.run();

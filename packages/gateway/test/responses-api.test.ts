/*
 * The official openai SDK's Responses API (`responses.create`) against the gateway, with a router
 * stand-in that refuses every key with onwards' bare 403: each denial in the OpenAI envelope,
 * labelled JSON, streaming or not; no retry of a denial, a retry of the cap reset.
 */
import { createTestDatabase, rejection } from '@control-layer/db/testing';
import OpenAI from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type DenialCase, refusingRouter, seedDialectWorld } from './dialect-world.ts';
import { MODEL, startGateway } from './helpers.ts';

const test = suite('openai Responses API through the gateway');

const t = await createTestDatabase();
const { denials, resetPending } = await seedDialectWorld(t.db);
const router = await refusingRouter();
const front = await startGateway(t.db, router.url);

test.after(async () => {
  await front?.close();
  await router?.close();
  await t?.close();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The SDK as a user sets it up, default retries included. */
const client = (key: string, options: { maxRetries?: number } = {}) =>
  new OpenAI({ apiKey: key, baseURL: `${front.url}/ai/v1`, ...options });

const CLASS_BY_STATUS: Record<number, new (...args: never[]) => InstanceType<typeof OpenAI.APIError>> = {
  402: OpenAI.APIError,
  403: OpenAI.PermissionDeniedError,
  429: OpenAI.RateLimitError,
};

async function expectDenial(denial: DenialCase, stream: boolean, maxRetries?: number) {
  const before = router.requests.length;
  const error = await rejection(() =>
    client(denial.key, maxRetries === undefined ? {} : { maxRetries }).responses.create({
      model: MODEL,
      input: 'Hello',
      stream,
    }),
  );
  const label = `${denial.code}${stream ? ', streaming' : ''}`;
  assert.instance(error, CLASS_BY_STATUS[denial.status], label);
  const apiError = error as InstanceType<typeof OpenAI.APIError>;
  assert.is(apiError.status, denial.status, label);
  assert.is(apiError.code, denial.code, label);
  assert.match((apiError.error as { message: string }).message, denial.message, label);
  assert.match(apiError.requestID ?? '', UUID, label);
  assert.is((apiError.error as { request_id?: string }).request_id, apiError.requestID, label);
  assert.is(apiError.headers?.get('content-type'), 'application/json; charset=utf-8', label);
  // OpenAI's envelope, not Anthropic's: nothing of the other dialect leaks in.
  assert.is(apiError.headers?.get('request-id'), null, label);
  assert.is(router.requests.length - before, 1, `${label}: requests that reached the gateway`);
  assert.is(router.last().url, '/v1/responses', label);
  return apiError;
}

test('reports every denial with its class, status, code, message and request id, streaming or not, without a retry', async () => {
  router.refuseAll();
  for (const denial of denials) {
    for (const stream of [false, true]) {
      const error = await expectDenial(denial, stream);
      assert.is(error.headers?.get('x-should-retry'), 'false');
      assert.is(error.type, denial.status === 402 ? 'insufficient_quota' : 'invalid_request_error');
    }
  }
});

test('reports a cap window that has just reset as a RateLimitError with retry-after', async () => {
  router.refuseAll();
  for (const stream of [false, true]) {
    const error = await expectDenial(resetPending, stream, 0);
    assert.is(error.type, 'rate_limit_error');
    assert.is(error.headers?.get('retry-after'), '5');
    assert.is(error.headers?.get('x-should-retry'), 'true');
  }
});

test('retries a cap window reset after retry-after, and lands once the router readmits the key', async () => {
  router.admitAfter(1);
  const before = router.requests.length;
  const started = performance.now();
  const response = await client(resetPending.key).responses.create({ model: MODEL, input: 'Hello' });
  const seconds = (performance.now() - started) / 1000;
  assert.is(response.output_text, 'readmitted');
  assert.is(router.requests.length - before, 2);
  assert.ok(seconds >= 4.5, `retried after ${seconds.toFixed(2)} s, before retry-after`);
  router.refuseAll();
});

test.run();

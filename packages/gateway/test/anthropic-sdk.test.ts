/*
 * The official Anthropic SDK against the gateway (with a router stand-in that refuses every key
 * with onwards' bare 403): each denial as the SDK reports it, with the key in `Authorization` (SDK
 * 1.x) or in `x-api-key` only (Claude Code, curl, SDK 0.x), streaming or not; no retry of a denial,
 * a retry of the cap reset; and models.list().
 */
import Anthropic from '@anthropic-ai/sdk';
import { createTestDatabase, rejection } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FORBIDDEN_BODY } from '../src/index.ts';
import { type DenialCase, refusingRouter, seedDialectWorld } from './dialect-world.ts';
import { MODEL, startGateway } from './helpers.ts';

const test = suite('anthropic SDK through the gateway');

const t = await createTestDatabase();
const { keys, denials, resetPending } = await seedDialectWorld(t.db);
const router = await refusingRouter();
const front = await startGateway(t.db, router.url);

test.after(async () => {
  await front?.close();
  await router?.close();
  await t?.close();
});

type KeyHeader = 'authorization' | 'x-api-key';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The SDK as a user sets it up, default retries included, sending the key in `via`. */
function client(key: string, via: KeyHeader, options: { maxRetries?: number } = {}): Anthropic {
  const baseURL = `${front.url}/ai`;
  if (via === 'authorization') return new Anthropic({ apiKey: key, baseURL, ...options });
  // As the README shows it; `authorization: null` also keeps ANTHROPIC_AUTH_TOKEN from the environment out.
  return new Anthropic({
    apiKey: null,
    baseURL,
    defaultHeaders: { 'x-api-key': key, authorization: null },
    ...options,
  });
}

const ask = { model: MODEL, max_tokens: 16, messages: [{ role: 'user' as const, content: 'Hello' }] };

const CLASS_BY_STATUS: Record<number, new (...args: never[]) => InstanceType<typeof Anthropic.APIError>> = {
  402: Anthropic.PaymentRequiredError,
  403: Anthropic.PermissionDeniedError,
  429: Anthropic.RateLimitError,
};

/** Check what the SDK reports against the denial, and that one request reached the router. */
async function expectDenial(denial: DenialCase, via: KeyHeader, stream: boolean, maxRetries?: number) {
  const before = router.requests.length;
  const error = await rejection(() =>
    client(denial.key, via, maxRetries === undefined ? {} : { maxRetries }).messages.create({ ...ask, stream }),
  );
  const label = `${denial.code} via ${via}${stream ? ', streaming' : ''}`;
  assert.instance(error, CLASS_BY_STATUS[denial.status], label);
  const apiError = error as InstanceType<typeof Anthropic.APIError>;
  const body = apiError.error as {
    type: string;
    error: { type: string; message: string; code: string };
    request_id: string;
  };
  assert.is(apiError.status, denial.status, label);
  assert.is(body.type, 'error', label);
  assert.is(body.error.type, denial.anthropicType, label);
  assert.is(apiError.type, denial.anthropicType, label);
  assert.is(body.error.code, denial.code, label);
  assert.match(body.error.message, denial.message, label);
  assert.match(apiError.requestID ?? '', UUID, label);
  assert.is(body.request_id, apiError.requestID, label);
  assert.is(apiError.headers?.get('x-request-id'), apiError.requestID, label);
  assert.is(router.requests.length - before, 1, `${label}: requests that reached the gateway`);
  const sent = router.last().headers;
  if (via === 'x-api-key') {
    assert.is(sent.authorization, undefined, label);
    assert.is(sent['x-api-key'], denial.key, label);
  } else {
    assert.is(sent.authorization, `Bearer ${denial.key}`, label);
  }
  return apiError;
}

test('reports every denial with its class, status, type, code, message and request id, from either key header, streaming or not, without a retry', async () => {
  router.refuseAll();
  for (const denial of denials) {
    for (const via of ['authorization', 'x-api-key'] as const) {
      for (const stream of [false, true]) {
        const error = await expectDenial(denial, via, stream);
        assert.is(error.headers?.get('x-should-retry'), 'false');
        assert.is(error.headers?.get('content-type'), 'application/json; charset=utf-8');
      }
    }
  }
});

test('reports a cap window that has just reset as a RateLimitError with retry-after, from either key header', async () => {
  router.refuseAll();
  for (const via of ['authorization', 'x-api-key'] as const) {
    for (const stream of [false, true]) {
      const error = await expectDenial(resetPending, via, stream, 0);
      assert.is(error.headers?.get('retry-after'), '5');
      assert.is(error.headers?.get('x-should-retry'), 'true');
    }
  }
});

test('retries a cap window reset after retry-after, and lands once the router readmits the key', async () => {
  for (const via of ['authorization', 'x-api-key'] as const) {
    router.admitAfter(1);
    const before = router.requests.length;
    const started = performance.now();
    const message = await client(resetPending.key, via).messages.create(ask);
    const seconds = (performance.now() - started) / 1000;
    assert.is(message.content[0]?.type === 'text' && message.content[0].text, 'readmitted');
    assert.is(router.requests.length - before, 2, via);
    assert.ok(seconds >= 4.5, `retried after ${seconds.toFixed(2)} s, before retry-after`);
  }
  router.refuseAll();
});

test('lists the models in Anthropic list shape through models.list(), from either key header', async () => {
  for (const via of ['authorization', 'x-api-key'] as const) {
    const page = await client(keys.working, via, { maxRetries: 0 }).models.list();
    assert.is(page.data.length, 1, via);
    const [model] = page.data;
    assert.is(model?.id, MODEL);
    assert.is(model?.type, 'model');
    assert.is(model?.display_name, MODEL);
    assert.match(model?.created_at ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    assert.is(page.has_more, false);
    assert.is(page.first_id, MODEL);
    assert.is(page.last_id, MODEL);
    const ids: string[] = [];
    for await (const m of client(keys.working, via, { maxRetries: 0 }).models.list()) ids.push(m.id);
    assert.equal(ids, [MODEL]);
  }
});

test('raises an unknown key on models.list() as an AuthenticationError in the Anthropic envelope', async () => {
  for (const via of ['authorization', 'x-api-key'] as const) {
    const error = await rejection(() => client('sk-nobody-knows-this-key', via).models.list());
    assert.instance(error, Anthropic.AuthenticationError);
    const apiError = error as InstanceType<typeof Anthropic.AuthenticationError>;
    assert.equal(apiError.error, {
      type: 'error',
      error: { type: 'authentication_error', message: 'Invalid API key', code: 'invalid_api_key' },
      request_id: apiError.requestID,
    });
    assert.match(apiError.requestID ?? '', UUID);
  }
});

test('passes an unknown key the bare 403 the router sent, as PermissionDeniedError', async () => {
  router.refuseAll();
  const error = await rejection(() => client('sk-nobody-knows-this-key', 'x-api-key').messages.create(ask));
  assert.instance(error, Anthropic.PermissionDeniedError);
  // Byte for byte: the SDK's message is the router's whole body.
  assert.is((error as InstanceType<typeof Anthropic.APIError>).message, `403 ${FORBIDDEN_BODY}`);
});

test.run();

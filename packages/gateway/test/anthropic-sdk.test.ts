/*
 * The official Anthropic SDK against the gateway (with a router stand-in that refuses every key
 * with onwards' bare 403): each denial as the SDK reports it, with the key in `Authorization` (SDK
 * 1.x) or in `x-api-key` only (Claude Code, curl, SDK 0.x), streaming or not; no retry of a denial,
 * a retry of the cap reset; an expired key; and models.list() with each model's availability.
 */
import Anthropic from '@anthropic-ai/sdk';
import { hashSecret, rowsOf } from '@control-layer/db';
import { createTestApiKey, createTestDatabase, rejection } from '@control-layer/db/testing';
import { sql } from 'drizzle-orm';
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

test('gives each listed model its availability through models.list(): what a request to it would get', async () => {
  const availabilityOf = async (key: string) => {
    const page = await client(key, 'x-api-key', { maxRetries: 0 }).models.list();
    assert.is(page.data.length, 1);
    return (page.data[0] as unknown as { availability: object }).availability;
  };
  assert.equal(await availabilityOf(keys.working), { status: 'available' });
  for (const denial of [...denials, resetPending]) {
    // Reach, purpose and key kind decide what is listed, not what is available.
    if (['non_inference_key', 'model_access_denied'].includes(denial.code)) continue;
    const availability = (await availabilityOf(denial.key)) as { status: string; code: string; message: string };
    assert.is(availability.status, 'denied', denial.code);
    assert.is(availability.code, denial.code);
    assert.match(availability.message, denial.message, denial.code);
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

/** A key of the working key's owner that expired at `at`. */
async function expiredKey(name: string, at: string): Promise<string> {
  const [owner] = rowsOf<{ user_id: string }>(
    await t.db.execute(sql`select user_id from api_keys where secret_hash = ${hashSecret(keys.working)}`),
  );
  const { key, secret } = await createTestApiKey(t.db, owner?.user_id ?? '', 'realtime', name);
  await t.db.execute(sql`update api_keys set expires_at = ${at}::timestamptz where id = ${key.id}`);
  return secret;
}

test('reports an expired key as an AuthenticationError with code api_key_expired and expired_at, from either key header, streaming or not, without a retry', async () => {
  router.refuseAll();
  const secret = await expiredKey('nightly', '2026-02-03T04:05:06.7Z');
  for (const via of ['authorization', 'x-api-key'] as const) {
    for (const stream of [false, true]) {
      const label = `${via}${stream ? ', streaming' : ''}`;
      const before = router.requests.length;
      // Default retries: a 401 with x-should-retry: false is not retried.
      const error = await rejection(() => client(secret, via).messages.create({ ...ask, stream }));
      assert.instance(error, Anthropic.AuthenticationError, label);
      const apiError = error as InstanceType<typeof Anthropic.AuthenticationError>;
      assert.is(apiError.status, 401, label);
      assert.is(apiError.type, 'authentication_error', label);
      assert.equal(apiError.error, {
        type: 'error',
        error: {
          type: 'authentication_error',
          message: "API key 'nightly' expired at 2026-02-03T04:05:06Z. Create a new key to continue.",
          code: 'api_key_expired',
          expired_at: '2026-02-03T04:05:06Z',
        },
        request_id: apiError.requestID,
      });
      assert.is(apiError.headers?.get('x-should-retry'), 'false', label);
      assert.is(router.requests.length - before, 1, `${label}: requests that reached the gateway`);
    }
  }
});

test('answers GET /ai/v1/models with anthropic-version for an expired key with the 401 in the Anthropic envelope, also through models.list()', async () => {
  const secret = await expiredKey('', '2026-01-01T00:00:00Z');
  const expected = {
    type: 'authentication_error',
    message: 'This API key expired at 2026-01-01T00:00:00Z. Create a new key to continue.',
    code: 'api_key_expired',
    expired_at: '2026-01-01T00:00:00Z',
  };
  const byHeader: Record<string, string>[] = [{ authorization: `Bearer ${secret}` }, { 'x-api-key': secret }];
  for (const header of byHeader) {
    const response = await fetch(`${front.url}/ai/v1/models`, {
      headers: { ...header, 'anthropic-version': '2023-06-01' },
    });
    assert.is(response.status, 401);
    assert.is(response.headers.get('x-should-retry'), 'false');
    const body = (await response.json()) as { type: string; error: object; request_id: string };
    assert.equal(body, { type: 'error', error: expected, request_id: response.headers.get('request-id') });
    assert.not.ok(JSON.stringify(body).includes(MODEL));
  }
  for (const via of ['authorization', 'x-api-key'] as const) {
    const error = await rejection(() => client(secret, via).models.list());
    assert.instance(error, Anthropic.AuthenticationError, via);
    assert.equal((error as InstanceType<typeof Anthropic.APIError>).error, {
      type: 'error',
      error: expected,
      request_id: (error as InstanceType<typeof Anthropic.APIError>).requestID,
    });
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

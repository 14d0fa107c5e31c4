import { withTestDatabase } from '@control-layer/db/testing';
import request from 'supertest';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ANTHROPIC_ERROR_TYPES,
  DIALECTS,
  ERROR_CODES,
  ERROR_SPECS,
  errorResponse,
  requestApiKey,
  requestDialect,
  validateApiKeyModelAccess,
} from '../src/index.ts';
import { chat, createApp, denyPurpose, forbidding, keyHolder } from './helpers.ts';

const test = suite('dialects');

test('reads the key from a bearer Authorization, else from x-api-key, Authorization winning whenever present', () => {
  const cases: [Parameters<typeof requestApiKey>[0], string | null][] = [
    [{ authorization: 'Bearer sk-a' }, 'sk-a'],
    [{ 'x-api-key': 'sk-b' }, 'sk-b'],
    [{ 'x-api-key': '  sk-b  ' }, 'sk-b'],
    [{ authorization: 'Bearer sk-a', 'x-api-key': 'sk-b' }, 'sk-a'],
    // A present Authorization decides, even one without a bearer token: no falling back to a guess.
    [{ authorization: 'Basic dTpw', 'x-api-key': 'sk-b' }, null],
    [{ authorization: 'Bearer ', 'x-api-key': 'sk-b' }, null],
    [{ authorization: '', 'x-api-key': 'sk-b' }, 'sk-b'],
    [{ 'x-api-key': '' }, null],
    [{ 'x-api-key': '   ' }, null],
    [{ 'x-api-key': ['sk-b', 'sk-c'] }, null],
    [{}, null],
  ];
  for (const [headers, expected] of cases) assert.is(requestApiKey(headers), expected, JSON.stringify(headers));
});

test('tells Anthropic by a /messages path or an anthropic-version header, OpenAI otherwise', () => {
  const cases: [string, string | undefined, string][] = [
    ['/ai/v1/messages', undefined, 'anthropic'],
    ['/v1/messages/', undefined, 'anthropic'],
    ['/ai/v1/messages/count_tokens', '2023-06-01', 'anthropic'],
    ['/ai/v1/models', '2023-06-01', 'anthropic'],
    ['/ai/v1/chat/completions', '2023-06-01', 'anthropic'],
    ['/ai/v1/models', undefined, 'openai'],
    ['/ai/v1/responses', undefined, 'openai'],
    ['/ai/v1/chat/completions', undefined, 'openai'],
    ['/ai/v1/messagesx', undefined, 'openai'],
  ];
  for (const [path, version, expected] of cases) assert.is(requestDialect(path, version), expected, path);
});

test('writes every code in every dialect with the same status, message, code and extras', () => {
  for (const code of ERROR_CODES) {
    const fields = { code, message: `m-${code}`, requestId: 'req-1', extras: { model: 'x' } };
    const openai = errorResponse('openai', fields);
    const anthropic = errorResponse('anthropic', fields);
    const { status, type, param } = ERROR_SPECS[code];
    assert.is(openai.status, status, code);
    assert.is(anthropic.status, status, code);
    assert.equal(openai.body, { error: { message: `m-${code}`, type, code, param, model: 'x', request_id: 'req-1' } });
    const anthropicType = ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
    assert.equal(anthropic.body, {
      type: 'error',
      error: { type: anthropicType, message: `m-${code}`, code, model: 'x' },
      request_id: 'req-1',
    });
    // The retry advice is the same in both; only the request id gets Anthropic's header too.
    const { 'request-id': requestIdHeader, 'x-request-id': xRequestId, ...rest } = anthropic.headers;
    assert.equal(rest, openai.headers, code);
    assert.is(requestIdHeader, 'req-1');
    assert.is(xRequestId, 'req-1');
  }
  assert.is(DIALECTS.length, 2);
});

test("follows Anthropic's status to type table", () => {
  const expected: Record<number, string> = {
    400: 'invalid_request_error',
    401: 'authentication_error',
    402: 'billing_error',
    403: 'permission_error',
    404: 'not_found_error',
    413: 'request_too_large',
    429: 'rate_limit_error',
    500: 'api_error',
    502: 'api_error',
    503: 'api_error',
    504: 'timeout_error',
    529: 'overloaded_error',
  };
  assert.equal(ANTHROPIC_ERROR_TYPES, expected);
});

test('decides the dialect itself when mounted alone, and keeps one an earlier middleware decided', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db);
    const app = createApp({ db }, forbidding().downstream);
    const viaPath = await request(app.callback())
      .post('/v1/messages')
      .set('x-api-key', secret)
      .set('x-request-id', 'req-9')
      .send(chat('elsewhere'));
    assert.is(viaPath.status, 403);
    assert.equal(viaPath.body, {
      type: 'error',
      error: {
        type: 'permission_error',
        message: "You do not have access to 'elsewhere'. Please contact your administrator to request access.",
        code: 'model_access_denied',
        model: 'elsewhere',
      },
      request_id: 'req-9',
    });
    assert.is(viaPath.headers['request-id'], 'req-9');
    const decided = createApp({ db }, forbidding().downstream, [
      async (ctx, next) => {
        ctx.state.dialect = 'openai';
        await next();
      },
    ]);
    const kept = await request(decided.callback())
      .post('/v1/messages')
      .set('authorization', `Bearer ${secret}`)
      .send(chat('elsewhere'));
    assert.is(kept.body.error.code, 'model_access_denied');
    assert.is(kept.body.error.param, 'model');
    assert.is(kept.body.type, undefined);
  }));

test('explains a denial to a key sent only in x-api-key, and the 413 in the Anthropic envelope', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db, { credits: null });
    const mounted = createApp({ db, maxBodyBytes: 100 }, forbidding().downstream);
    const broke = await request(mounted.callback())
      .post('/v1/messages')
      .set('x-api-key', secret)
      .send(chat('authorized-model'));
    assert.is(broke.status, 402);
    assert.is(broke.body.error.type, 'billing_error');
    assert.is(broke.body.error.balance, '0.00');
    assert.is(broke.headers['x-should-retry'], 'false');
    const tooLarge = await request(mounted.callback())
      .post('/v1/chat/completions')
      .set('anthropic-version', '2023-06-01')
      .send({ model: 'x'.repeat(200) });
    assert.is(tooLarge.status, 413);
    assert.is(tooLarge.body.error.type, 'request_too_large');
    assert.is(tooLarge.body.error.limit_bytes, 100);
  }));

test('gives validateApiKeyModelAccess the same verdict whichever header carried the key', () =>
  withTestDatabase(async (db) => {
    const ok = await keyHolder(db);
    const blocked = await keyHolder(db, { purpose: 'batch', alias: 'blocked-model' });
    await denyPurpose(db, blocked.deploymentId, 'batch');
    const cases: [string, string][] = [
      [ok.secret, 'authorized-model'],
      [ok.secret, 'elsewhere'],
      [blocked.secret, 'blocked-model'],
      ['sk-unknown', 'authorized-model'],
    ];
    for (const [secret, model] of cases) {
      const verdicts = await Promise.all(
        [{ authorization: `Bearer ${secret}` }, { 'x-api-key': secret }].map((headers) =>
          validateApiKeyModelAccess(db, requestApiKey(headers) ?? '', model),
        ),
      );
      assert.equal(verdicts[0], verdicts[1], `${secret} ${model}`);
    }
  }));

test.run();

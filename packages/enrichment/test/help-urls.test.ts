/*
 * A help page per denial: `help_url` beside `code` and a `link: <url>; rel="help"` header, seen
 * through the official OpenAI SDK and raw HTTP; nothing added without one; bad maps refused at start.
 */
import type { AddressInfo } from 'node:net';
import { createTestDatabase } from '@control-layer/db/testing';
import OpenAI, { APIError } from 'openai';
import request from 'supertest';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EnrichmentOptionsError, errorEnrichment } from '../src/index.ts';
import { chat, createApp, keyHolder, ROUTER_FORBIDDEN } from './helpers.ts';

const test = suite('help urls');

const t = await createTestDatabase();
const holder = await keyHolder(t.db);
const broke = await keyHolder(t.db, { credits: null, alias: 'broke-model' });

const BILLING = 'https://billing.example.com/top-up';
const ACCESS_FORM = 'https://example.com/forms/model-access?team=ml';
const router = (ctx: import('koa').Context) => {
  ctx.status = 403;
  ctx.type = 'application/json';
  ctx.body = ROUTER_FORBIDDEN;
};
const withHelp = createApp(
  { db: t.db, helpUrls: { insufficient_credits: BILLING, model_access_denied: ACCESS_FORM } },
  router,
);
const withoutHelp = createApp({ db: t.db }, router);
const server = withHelp.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const baseURL = `http://127.0.0.1:${(server.address() as AddressInfo).port}/ai/v1`;

test.after(async () => {
  server.close();
  server.closeAllConnections();
  await t?.close();
});

async function sdkError(apiKey: string, model: string): Promise<APIError> {
  const client = new OpenAI({ apiKey, baseURL, maxRetries: 0 });
  try {
    await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello' }] });
  } catch (error) {
    if (error instanceof APIError) return error;
    throw error;
  }
  throw new Error('expected an error');
}

test('gives the OpenAI SDK the help page of the denial in err.error and in the link header', async () => {
  let error = await sdkError(broke.secret, 'broke-model');
  assert.is(error.code, 'insufficient_credits');
  assert.is((error.error as { help_url?: string }).help_url, BILLING);
  assert.is(error.headers?.get('link'), `<${BILLING}>; rel="help"`);

  error = await sdkError(holder.secret, 'gpt-elsewhere');
  assert.is(error.code, 'model_access_denied');
  assert.is((error.error as { help_url?: string }).help_url, ACCESS_FORM);
  assert.is(error.headers?.get('link'), `<${ACCESS_FORM}>; rel="help"`);
});

test('puts help_url beside code inside error, on the wire', async () => {
  const response = await request(withHelp.callback())
    .post('/ai/v1/chat/completions')
    .set('authorization', `Bearer ${broke.secret}`)
    .send(chat('broke-model'));
  assert.is(response.status, 402);
  assert.is(response.body.error.code, 'insufficient_credits');
  assert.is(response.body.error.help_url, BILLING);
  assert.is(response.headers.link, `<${BILLING}>; rel="help"`);
});

test('adds nothing to a denial whose code has no page', async () => {
  const blockedHolder = await keyHolder(t.db, { purpose: 'platform', alias: 'platform-model' });
  const response = await request(withHelp.callback())
    .post('/ai/v1/chat/completions')
    .set('authorization', `Bearer ${blockedHolder.secret}`)
    .send(chat('platform-model'));
  assert.is(response.body.error.code, 'non_inference_key');
  assert.not.ok('help_url' in response.body.error);
  assert.is(response.headers.link, undefined);
});

test('adds nothing when no help URLs are configured', async () => {
  const response = await request(withoutHelp.callback())
    .post('/ai/v1/chat/completions')
    .set('authorization', `Bearer ${broke.secret}`)
    .send(chat('broke-model'));
  assert.is(response.body.error.code, 'insufficient_credits');
  assert.not.ok('help_url' in response.body.error);
  assert.is(response.headers.link, undefined);
});

test('leaves a pass-through untouched, help URLs or not', async () => {
  const response = await request(withHelp.callback())
    .post('/ai/v1/chat/completions')
    .set('authorization', 'Bearer sk-unknown')
    .send(chat('broke-model'));
  assert.is(response.body.error.code, 'forbidden');
  assert.is(response.headers.link, undefined);
});

const refused: [string, unknown, RegExp][] = [
  [
    'a URL with CR LF in it',
    { insufficient_credits: `${BILLING}\r\nset-cookie: a=b` },
    /insufficient_credits contains a control character/,
  ],
  ['a URL with a NUL in it', { insufficient_credits: `${BILLING}\u0000` }, /control character/],
  ['a relative URL', { model_access_denied: '/forms/access' }, /model_access_denied must be an absolute http\(s\) URL/],
  ['an ftp: URL', { model_access_denied: 'ftp://files.example.com/form' }, /must use http or https, got ftp:/],
  ['a javascript: URL', { model_access_denied: 'javascript:alert(1)' }, /must use http or https, got javascript:/],
  ['a URL with credentials', { insufficient_credits: 'https://u:p@billing.example.com' }, /must not carry credentials/],
  ['a code that does not exist', { insufficent_credits: BILLING }, /"insufficent_credits" is not an error code/],
  ['a URL that is not a string', { insufficient_credits: 42 }, /must be a string URL/],
  ['a list instead of a map', [BILLING], /must be an object/],
];
for (const [what, helpUrls, message] of refused) {
  test(`refuses ${what} when the middleware is made`, () => {
    try {
      errorEnrichment({ db: t.db, helpUrls: helpUrls as Record<string, string> });
    } catch (error) {
      assert.instance(error, EnrichmentOptionsError);
      assert.match((error as Error).message, /^errorEnrichment: `helpUrls`/);
      assert.match((error as Error).message, message);
      return;
    }
    assert.unreachable('accepted');
  });
}

test.run();

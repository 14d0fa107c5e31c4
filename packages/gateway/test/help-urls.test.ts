/*
 * ENRICHMENT_HELP_URLS through the whole gateway: the `link` header survives the headers an
 * explained denial is rebuilt from, and the OpenAI SDK sees both.
 */
import { createTestDatabase } from '@control-layer/db/testing';
import { APIError } from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/index.ts';
import { chat, MODEL, openaiClient, scriptedUpstream, seedWorld, startGateway } from './helpers.ts';

const test = suite('help urls in the gateway');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
const upstream = await scriptedUpstream();
upstream.respondWith((_req, res) => {
  res
    .writeHead(403, { 'content-type': 'application/json', link: '<https://router.internal/>; rel="help"' })
    .end('{"error":{"message":"Forbidden","type":"invalid_request_error","param":null,"code":"forbidden"}}');
});
const { helpUrls } = loadConfig({
  ENRICHMENT_HELP_URLS: JSON.stringify({
    insufficient_credits: 'https://billing.example.com/top-up',
    model_access_denied: 'https://example.com/forms/model-access',
  }),
});
const front = await startGateway(t.db, upstream.url, { helpUrls });

test.after(async () => {
  await front?.close();
  await upstream?.close();
  await t?.close();
});

async function denial(key: string): Promise<APIError> {
  try {
    await openaiClient(front.url, key).chat.completions.create(chat(MODEL));
  } catch (error) {
    if (error instanceof APIError) return error;
    throw error;
  }
  throw new Error('expected an error');
}

test("gives each configured denial its page, in err.error.help_url and the gateway's link header", async () => {
  const broke = await denial(keys.broke);
  assert.is(broke.code, 'insufficient_credits');
  assert.is((broke.error as { help_url?: string }).help_url, 'https://billing.example.com/top-up');
  assert.is(broke.headers?.get('link'), '<https://billing.example.com/top-up>; rel="help"');
  const outsider = await denial(keys.outsider);
  assert.is(outsider.code, 'model_access_denied');
  assert.is(outsider.headers?.get('link'), '<https://example.com/forms/model-access>; rel="help"');
});

test("never passes the upstream's link on an explained denial without a page", async () => {
  const batch = await denial(keys.batch);
  assert.is(batch.code, 'modality_blocked');
  assert.not.ok('help_url' in (batch.error as object));
  assert.is(batch.headers?.get('link'), null);
});

test.run();

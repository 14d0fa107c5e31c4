/*
 * The new codes through the official SDK: a spent cap and a platform key are final (no retry);
 * a cap window that has just reset is retried after `retry-after`, and the retry lands once the
 * router, told by the boundary notification, has readmitted the key.
 */
import type { AddressInfo } from 'node:net';
import { type Database, recordUsage, setApiKeySpendCap } from '@control-layer/db';
import { listenNotifications, shiftSpendBack, withTestDatabase } from '@control-layer/db/testing';
import { Decimal } from 'decimal.js';
import OpenAI, { APIError, PermissionDeniedError } from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp, keyHolder, ROUTER_FORBIDDEN } from './helpers.ts';

const test = suite('openai sdk: caps');

/** A router stand-in: the bare 403 until `admit` is set, then a chat completion. Counts calls. */
async function routerApp(db: Database) {
  const state = { calls: 0, admit: false };
  const app = createApp({ db }, (ctx) => {
    state.calls++;
    ctx.type = 'application/json';
    if (!state.admit) {
      ctx.status = 403;
      ctx.body = ROUTER_FORBIDDEN;
      return;
    }
    ctx.body = {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 0,
      model: 'authorized-model',
      choices: [{ index: 0, message: { role: 'assistant', content: 'readmitted' }, finish_reason: 'stop' }],
    };
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  const client = (apiKey: string) => new OpenAI({ apiKey, baseURL: `http://127.0.0.1:${port}/ai/v1` });
  const close = () => {
    server.close();
    server.closeAllConnections();
  };
  return { state, client, close };
}

const ask = (client: OpenAI) =>
  client.chat.completions.create({ model: 'authorized-model', messages: [{ role: 'user', content: 'Hi' }] });

async function failure(run: () => Promise<unknown>): Promise<APIError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof APIError) return error;
    throw error;
  }
  throw new Error('expected an APIError');
}

test('raises a spent cap as a 402 and a platform key as a 403, each without a retry', () =>
  withTestDatabase(async (db) => {
    const capped = await keyHolder(db);
    await setApiKeySpendCap(db, capped.key.id, { limit: new Decimal(1), interval: 'monthly' });
    await recordUsage(db, { apiKeyId: capped.key.id, amount: new Decimal(1), sourceId: 'u' });
    const platform = await keyHolder(db, { purpose: 'platform', alias: 'other' });
    const router = await routerApp(db);
    try {
      let error = await failure(() => ask(router.client(capped.secret)));
      assert.is(error.status, 402);
      assert.is(error.code, 'spend_cap_exceeded');
      assert.is(error.type, 'insufficient_quota');
      assert.equal(
        { ...(error.error as object), message: undefined },
        {
          message: undefined,
          type: 'insufficient_quota',
          code: 'spend_cap_exceeded',
          param: null,
          spend_limit: '1.00',
          window_spend: '1.00',
          resets_at: (error.error as { resets_at: string }).resets_at,
          request_id: null,
        },
      );
      assert.match((error.error as { resets_at: string }).resets_at, /^\d{4}-\d{2}-01T00:00:00Z$/);
      assert.is(router.state.calls, 1);

      error = await failure(() => ask(router.client(platform.secret)));
      assert.instance(error, PermissionDeniedError);
      assert.is(error.code, 'non_inference_key');
      assert.is(router.state.calls, 2);
    } finally {
      router.close();
    }
  }));

test('retries a cap window reset after retry-after, and lands once the router is told to reload', () =>
  withTestDatabase(async (db, t) => {
    const capped = await keyHolder(db);
    await setApiKeySpendCap(db, capped.key.id, { limit: new Decimal(1), interval: 'daily' });
    await recordUsage(db, { apiKeyId: capped.key.id, amount: new Decimal(2), sourceId: 'u' });
    // The window rolled at midnight; the router still holds the key set from before.
    await shiftSpendBack(db, capped.key.id, '1 day');
    const router = await routerApp(db);
    const listener = await listenNotifications(t.url, 'auth_config_changed');
    listener.waitFor('api_key_spend_cap_boundary:', 4000).then(
      () => {
        router.state.admit = true;
      },
      () => {},
    );
    try {
      const completion = await ask(router.client(capped.secret));
      // One retry, and it was admitted: the SDK waited for retry-after instead of retrying at
      // once (an early retry would have been refused again, and counted).
      assert.is(completion.choices[0]?.message.content, 'readmitted');
      assert.is(router.state.calls, 2);
    } finally {
      router.close();
      await listener.close();
    }
  }));

test.run();

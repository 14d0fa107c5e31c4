import type { AddressInfo } from 'node:net';
import { withTestDatabase } from '@control-layer/db/testing';
import OpenAI, { APIError, PermissionDeniedError } from 'openai';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp, denyPurpose, keyHolder, ROUTER_FORBIDDEN } from './helpers.ts';

const test = suite('openai sdk');

test('surfaces every enriched error through the official SDK, and the SDK does not retry them', () =>
  withTestDatabase(async (db) => {
    const holder = await keyHolder(db, { purpose: 'batch' });
    const broke = await keyHolder(db, { credits: null, alias: 'broke-model' });
    const blocked = await keyHolder(db, { purpose: 'playground', alias: 'blocked-model' });
    await denyPurpose(db, blocked.deploymentId, 'playground');
    let upstreamCalls = 0;
    const app = createApp(
      { db },
      (ctx) => {
        upstreamCalls++;
        ctx.status = 403;
        ctx.type = 'application/json';
        ctx.body = ROUTER_FORBIDDEN;
      },
      [
        async (ctx, next) => {
          ctx.set('x-request-id', `req-${upstreamCalls + 1}`);
          await next();
        },
      ],
    );
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    const call = async (apiKey: string, model: string): Promise<APIError> => {
      // Default retries stay on (maxRetries 2): x-should-retry must stop them.
      const client = new OpenAI({ apiKey, baseURL: `http://127.0.0.1:${port}/ai/v1` });
      try {
        await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello' }] });
      } catch (error) {
        if (error instanceof APIError) return error;
        throw error;
      }
      throw new Error('expected an error');
    };
    try {
      let error = await call(holder.secret, 'gpt-elsewhere');
      assert.instance(error, PermissionDeniedError);
      assert.is(error.status, 403);
      assert.is(error.code, 'model_access_denied');
      assert.is(error.type, 'invalid_request_error');
      assert.is(error.param, 'model');
      assert.match(error.message, "You do not have access to 'gpt-elsewhere'");
      assert.is(error.requestID, 'req-1');
      assert.is(upstreamCalls, 1);

      error = await call(blocked.secret, 'blocked-model');
      assert.instance(error, PermissionDeniedError);
      assert.is(error.code, 'modality_blocked');
      assert.is(error.param, 'model');
      assert.match(error.message, "Playground access to 'blocked-model' is blocked by a routing rule");
      assert.is((error.error as { purpose?: string }).purpose, 'playground');
      assert.is(upstreamCalls, 2);

      error = await call(broke.secret, 'broke-model');
      assert.is(error.status, 402);
      assert.is(error.code, 'insufficient_credits');
      assert.is(error.type, 'insufficient_quota');
      assert.is(error.param, null);
      assert.match(error.message, 'Account balance too low. Please add credits to continue.');
      assert.is((error.error as { balance?: string }).balance, '0.00');
      assert.is(upstreamCalls, 3);

      error = await call('sk-unknown', 'broke-model');
      assert.instance(error, PermissionDeniedError);
      assert.is(error.code, 'forbidden');
      assert.is(upstreamCalls, 4);
    } finally {
      server.close();
      server.closeAllConnections();
    }
  }));

test.run();

/*
 * An expired key is told so, first of all, with the instant it expired; an unknown key still
 * learns nothing. The expiry is read from the database clock when the 403 is diagnosed.
 */
import type { AddressInfo } from 'node:net';
import { type Database, softDeleteUser } from '@control-layer/db';
import { withTestDatabase } from '@control-layer/db/testing';
import { sql } from 'drizzle-orm';
import OpenAI, { type APIError, AuthenticationError } from 'openai';
import request from 'supertest';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { validateApiKeyModelAccess } from '../src/index.ts';
import { chat, createApp, denyPurpose, forbidding, keyHolder, ROUTER_FORBIDDEN } from './helpers.ts';

const test = suite('key expiry');

const expire = (db: Database, keyId: string, at = sql`'2026-01-02T03:04:05.678Z'`) =>
  db.execute(sql`update api_keys set expires_at = ${at} where id = ${keyId}`);
const rename = (db: Database, keyId: string, name: string) =>
  db.execute(sql`update api_keys set name = ${name} where id = ${keyId}`);

test('answers an expired key with 401 api_key_expired before any other check, through the openai SDK', () =>
  withTestDatabase(async (db) => {
    // Every other denial holds too: a platform key, no access, a deny rule, no credits.
    const { key, secret, deploymentId } = await keyHolder(db, { purpose: 'platform', credits: null, grant: false });
    await denyPurpose(db, deploymentId, 'platform');
    await rename(db, key.id, 'ci deploys');
    await expire(db, key.id);
    let upstreamCalls = 0;
    const app = createApp({ db }, (ctx) => {
      upstreamCalls++;
      ctx.status = 403;
      ctx.type = 'application/json';
      ctx.body = ROUTER_FORBIDDEN;
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      // Default retries stay on: x-should-retry: false must stop them.
      const client = new OpenAI({ apiKey: secret, baseURL: `http://127.0.0.1:${port}/ai/v1` });
      let caught: unknown;
      try {
        await client.chat.completions.create({
          model: 'authorized-model',
          messages: [{ role: 'user', content: 'Hi' }],
        });
      } catch (error) {
        caught = error;
      }
      assert.instance(caught, AuthenticationError);
      const error = caught as APIError;
      assert.is(error.status, 401);
      assert.is(error.code, 'api_key_expired');
      assert.is(error.type, 'invalid_request_error');
      assert.is(error.param, null);
      assert.is(
        (error.error as { message?: string }).message,
        "API key 'ci deploys' expired at 2026-01-02T03:04:05Z. Create a new key to continue.",
      );
      assert.is((error.error as { expired_at?: string }).expired_at, '2026-01-02T03:04:05Z');
      assert.is(error.headers?.get('x-should-retry'), 'false');
      assert.is(upstreamCalls, 1);
      assert.not.ok(JSON.stringify(error.error).includes(secret), 'the secret is never echoed');
    } finally {
      server.close();
    }
  }));

test('names an unnamed key "This API key" and quotes a long name as models are quoted', () =>
  withTestDatabase(async (db) => {
    const { key, secret } = await keyHolder(db);
    await expire(db, key.id);
    const app = createApp({ db }, forbidding().downstream);
    const post = () =>
      request(app.callback())
        .post('/ai/v1/chat/completions')
        .set('authorization', `Bearer ${secret}`)
        .send(chat('authorized-model'));
    await rename(db, key.id, '');
    let response = await post();
    assert.is(response.status, 401);
    assert.is(
      response.body.error.message,
      'This API key expired at 2026-01-02T03:04:05Z. Create a new key to continue.',
    );
    await rename(db, key.id, 'k'.repeat(300));
    response = await post();
    assert.is(
      response.body.error.message,
      `API key '${'k'.repeat(256)}…' expired at 2026-01-02T03:04:05Z. Create a new key to continue.`,
    );
    // No model sent: the key alone is enough to tell.
    response = await request(app.callback())
      .post('/ai/v1/embeddings')
      .set('authorization', `Bearer ${secret}`)
      .send({});
    assert.is(response.body.error.code, 'api_key_expired');
  }));

test("passes an unknown key's 403 through untouched, and a deleted owner's key likewise", () =>
  withTestDatabase(async (db) => {
    const { key, secret, user } = await keyHolder(db);
    await expire(db, key.id);
    const app = createApp({ db }, forbidding(ROUTER_FORBIDDEN).downstream);
    const post = (apiKey: string) =>
      request(app.callback())
        .post('/ai/v1/chat/completions')
        .set('authorization', `Bearer ${apiKey}`)
        .send(chat('authorized-model'));
    assert.is((await post('sk-not-a-key')).text, ROUTER_FORBIDDEN);
    await softDeleteUser(db, user.id);
    const response = await post(secret);
    assert.is(response.status, 403);
    assert.is(response.text, ROUTER_FORBIDDEN);
  }));

test('explains a key that expired while its request was at the router, by the clock of the diagnosis', () =>
  withTestDatabase(async (db) => {
    const { key, secret } = await keyHolder(db);
    await expire(db, key.id, sql`now() + interval '1 day'`);
    // The router admitted nothing yet; while it holds the request the key expires, then it refuses.
    const app = createApp({ db }, async (ctx) => {
      await db.execute(sql`update api_keys set expires_at = now() where id = ${key.id}`);
      ctx.status = 403;
      ctx.body = ROUTER_FORBIDDEN;
    });
    const response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('authorization', `Bearer ${secret}`)
      .send(chat('authorized-model'));
    assert.is(response.status, 401);
    assert.is(response.body.error.code, 'api_key_expired');
    assert.match(response.body.error.expired_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  }));

test('validateApiKeyModelAccess answers api_key_expired first, and an unknown key for a deleted owner', () =>
  withTestDatabase(async (db) => {
    const { key, secret, user } = await keyHolder(db, { grant: false });
    assert.is((await validateApiKeyModelAccess(db, secret, 'authorized-model')).ok, false);
    await expire(db, key.id);
    const verdict = await validateApiKeyModelAccess(db, secret, 'authorized-model');
    assert.equal(verdict, {
      ok: false,
      code: 'api_key_expired',
      message: "API key 'Test Key' expired at 2026-01-02T03:04:05Z. Create a new key to continue.",
    });
    await softDeleteUser(db, user.id);
    assert.equal(await validateApiKeyModelAccess(db, secret, 'authorized-model'), {
      ok: false,
      code: 'invalid_api_key',
      message: 'Invalid API key',
    });
  }));

test.run();

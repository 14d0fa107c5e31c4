/*
 * A `model` over 1 KiB is an unknown model, answered without sending it to Postgres; errors quote
 * at most the first 256 characters of a model name.
 */

import { createTestDatabase } from '@control-layer/db/testing';
import type { Logger } from 'drizzle-orm';
import request from 'supertest';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { quotedModel } from '../src/index.ts';
import { chat, createApp, forbidding, keyHolder } from './helpers.ts';

const test = suite('long model names');

/** Every parameter of every statement sent, as text. */
const sent: string[] = [];
const logger: Logger = { logQuery: (_query, params) => sent.push(...params.map((p) => String(p))) };
const t = await createTestDatabase({ logger });

test.after(async () => {
  await t?.close();
});

test('quotes at most 256 characters of a model name, never splitting a character', () => {
  assert.is(quotedModel('gpt-4o'), 'gpt-4o');
  assert.is(quotedModel('m'.repeat(256)), 'm'.repeat(256));
  assert.is(quotedModel('m'.repeat(257)), `${'m'.repeat(256)}…`);
  assert.is(quotedModel('🚀'.repeat(256)), '🚀'.repeat(256));
  assert.is(quotedModel('🚀'.repeat(300)), `${'🚀'.repeat(256)}…`);
  assert.is(quotedModel(`${'m'.repeat(255)}🚀🚀`), `${'m'.repeat(255)}🚀…`);
});

test('answers a model over 1 KiB as no access, without sending it to Postgres, quoting 256 characters', async () => {
  const { secret } = await keyHolder(t.db);
  const app = createApp({ db: t.db }, forbidding().downstream);
  for (const size of [1025, 64 * 1024, 4 * 1024 * 1024]) {
    const model = 'x'.repeat(size);
    sent.length = 0;
    const response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('authorization', `Bearer ${secret}`)
      .set('content-type', 'application/json')
      .send(JSON.stringify(chat(model)));
    assert.is(response.status, 403, String(size));
    assert.is(response.body.error.code, 'model_access_denied');
    assert.is(response.body.error.model, `${'x'.repeat(256)}…`);
    assert.ok(response.body.error.message.includes(`'${'x'.repeat(256)}…'`), response.body.error.message);
    assert.ok(response.text.length < 2048, `a ${response.text.length}-byte answer`);
    assert.ok(sent.length > 0, 'no statement was sent');
    assert.ok(
      sent.every((p) => p.length <= 1024),
      `a ${Math.max(...sent.map((p) => p.length))}-character parameter was sent`,
    );
  }
});

test('still looks up a model of exactly 1 KiB', async () => {
  const alias = 'a'.repeat(1024);
  const { secret } = await keyHolder(t.db, { alias });
  const app = createApp({ db: t.db }, forbidding('upstream').downstream);
  sent.length = 0;
  const reachable = await request(app.callback())
    .post('/ai/v1/chat/completions')
    .set('authorization', `Bearer ${secret}`)
    .send(chat(alias));
  // The key reaches the alias and has credits: nothing explains the 403, which passes through.
  assert.is(reachable.status, 403);
  assert.is(reachable.text, 'upstream');
  assert.ok(sent.includes(alias), 'the 1 KiB alias was not looked up');
});

test('passes a long model with an unknown key through untouched', async () => {
  const app = createApp({ db: t.db }, forbidding('upstream').downstream);
  const response = await request(app.callback())
    .post('/ai/v1/chat/completions')
    .set('authorization', 'Bearer sk-unknown')
    .send(chat('y'.repeat(100_000)));
  assert.is(response.status, 403);
  assert.is(response.text, 'upstream');
});

test.run();

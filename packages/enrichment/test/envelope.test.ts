import { withTestDatabase } from '@control-layer/db/testing';
import request from 'supertest';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EnrichedEvent, PassThroughEvent } from '../src/index.ts';
import { chat, createApp, denyPurpose, forbidding, keyHolder } from './helpers.ts';

const test = suite('envelope');

test('answers a model denial in the OpenAI envelope with retry disabled', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db);
    const app = createApp({ db }, forbidding().downstream);
    const response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('authorization', `Bearer ${secret}`)
      .set('x-request-id', 'req-123')
      .send(chat('secret-model'));
    assert.is(response.status, 403);
    assert.match(response.headers['content-type'] ?? '', /^application\/json/);
    assert.is(response.headers['x-should-retry'], 'false');
    assert.equal(response.body, {
      error: {
        message: "You do not have access to 'secret-model'. Please contact your administrator to request access.",
        type: 'invalid_request_error',
        code: 'model_access_denied',
        param: 'model',
        model: 'secret-model',
        request_id: 'req-123',
      },
    });
  }));

test('names the purpose and the model of a modality denial', () =>
  withTestDatabase(async (db) => {
    const { secret, deploymentId } = await keyHolder(db, { purpose: 'playground' });
    await denyPurpose(db, deploymentId, 'playground');
    const app = createApp({ db }, forbidding().downstream);
    const response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('authorization', `Bearer ${secret}`)
      .send(chat('authorized-model'));
    assert.is(response.status, 403);
    assert.equal(response.body.error, {
      message:
        "Playground access to 'authorized-model' is blocked by a routing rule. Please contact your administrator to request access.",
      type: 'invalid_request_error',
      code: 'modality_blocked',
      param: 'model',
      model: 'authorized-model',
      purpose: 'playground',
      request_id: null,
    });
  }));

test('answers an empty balance with 402, insufficient_quota and the balance as a decimal string', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db, { credits: null });
    const app = createApp({ db }, forbidding().downstream);
    const response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('authorization', `Bearer ${secret}`)
      .send(chat('authorized-model'));
    assert.is(response.status, 402);
    assert.is(response.headers['x-should-retry'], 'false');
    assert.equal(response.body.error, {
      message: 'Account balance too low. Please add credits to continue.',
      type: 'insufficient_quota',
      code: 'insufficient_credits',
      param: null,
      balance: '0.00',
      request_id: null,
    });
  }));

test('prefers the request id the gateway set on the response and never echoes an insane one', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db);
    const gatewayId = createApp({ db }, forbidding().downstream, [
      async (ctx, next) => {
        ctx.set('x-request-id', 'gw-1');
        await next();
      },
    ]);
    let response = await request(gatewayId.callback())
      .post('/x')
      .set('authorization', `Bearer ${secret}`)
      .set('x-request-id', 'client-1')
      .send(chat('nope'));
    assert.is(response.body.error.request_id, 'gw-1');
    const plain = createApp({ db }, forbidding().downstream);
    response = await request(plain.callback())
      .post('/x')
      .set('authorization', `Bearer ${secret}`)
      .set('x-request-id', `${'a'.repeat(300)}`)
      .send(chat('nope'));
    assert.is(response.body.error.request_id, null);
    response = await request(plain.callback())
      .post('/x')
      .set('authorization', `Bearer ${secret}`)
      .set('x-request-id', '<script>')
      .send(chat('nope'));
    assert.is(response.body.error.request_id, null);
  }));

test('drops the length, encoding and validators of the replaced body', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db);
    const app = createApp({ db }, (ctx) => {
      ctx.status = 403;
      ctx.set('content-encoding', 'gzip');
      ctx.set('etag', '"abc"');
      ctx.body = Buffer.from('compressed-looking bytes');
      ctx.set('content-length', '24');
    });
    const response = await request(app.callback())
      .post('/x')
      .set('authorization', `Bearer ${secret}`)
      .send(chat('nope'));
    assert.is(response.status, 403);
    assert.is(response.headers['content-encoding'], undefined);
    assert.is(response.headers.etag, undefined);
    assert.is(Number(response.headers['content-length']), Buffer.byteLength(response.text));
    assert.is(response.body.error.code, 'model_access_denied');
  }));

test('explains a 403 thrown downstream and rethrows one it cannot explain', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db);
    const app = createApp({ db }, (ctx) => ctx.throw(403, 'thrown forbidden'));
    let response = await request(app.callback()).post('/x').set('authorization', `Bearer ${secret}`).send(chat('nope'));
    assert.is(response.body.error.code, 'model_access_denied');
    response = await request(app.callback())
      .post('/x')
      .set('authorization', `Bearer ${secret}`)
      .send(chat('authorized-model'));
    assert.is(response.status, 403);
    assert.is(response.text, 'thrown forbidden');
  }));

test('reports every response to the hooks, and a throwing hook changes nothing', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db);
    const enriched: EnrichedEvent[] = [];
    const passed: PassThroughEvent[] = [];
    const warnings: string[] = [];
    const app = createApp(
      {
        db,
        onEnriched: (e) => {
          enriched.push(e);
          throw new Error('metrics down');
        },
        onPassThrough: (e) => passed.push(e),
        logger: { warn: (_fields, message) => warnings.push(message) },
      },
      forbidding().downstream,
    );
    const send = (auth: string | null, model: string) => {
      const r = request(app.callback()).post('/x');
      if (auth) r.set('authorization', auth);
      return r.send(chat(model));
    };
    assert.is((await send(`Bearer ${secret}`, 'nope')).status, 403);
    await send(null, 'nope');
    await send('Bearer sk-unknown', 'nope');
    await send(`Bearer ${secret}`, 'authorized-model');
    assert.equal(
      enriched.map((e) => [e.code, e.status]),
      [['model_access_denied', 403]],
    );
    assert.equal(
      passed.map((e) => e.reason),
      ['no_token', 'unknown_key', 'unexplained'],
    );
    assert.equal(warnings, ['errorEnrichment: onEnriched hook threw']);
  }));

test.run();

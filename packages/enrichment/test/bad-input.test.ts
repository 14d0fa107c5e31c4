import { withTestDatabase } from '@control-layer/db/testing';
import request from 'supertest';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp, forbidding, keyHolder } from './helpers.ts';

const test = suite('bad input');

/*
 * The key's owner has no credits and no access to `elsewhere`. A request whose model is read
 * gets the access denial (403); one whose model cannot be read skips both model checks and gets
 * the balance denial (402), as in dwctl. Neither ever gets a 500.
 */
test('reads the model only from well-formed bodies and never fails on bad ones', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db, { credits: null });
    const app = createApp({ db }, forbidding().downstream);
    const cases: { name: string; type?: string; body?: string; status: number }[] = [
      { name: 'valid JSON', type: 'application/json', body: '{"model":"elsewhere"}', status: 403 },
      {
        name: 'JSON with charset',
        type: 'application/json; charset=utf-8',
        body: '{"model":"elsewhere"}',
        status: 403,
      },
      { name: 'malformed JSON', type: 'application/json', body: '{"model":"elsewhere"', status: 402 },
      { name: 'truncated JSON', type: 'application/json', body: '{"mod', status: 402 },
      { name: 'missing model', type: 'application/json', body: '{"messages":[]}', status: 402 },
      { name: 'numeric model', type: 'application/json', body: '{"model":7}', status: 402 },
      { name: 'null model', type: 'application/json', body: '{"model":null}', status: 402 },
      { name: 'object model', type: 'application/json', body: '{"model":{"id":"elsewhere"}}', status: 402 },
      { name: 'array body', type: 'application/json', body: '[{"model":"elsewhere"}]', status: 402 },
      { name: 'deeply nested', type: 'application/json', body: `${'['.repeat(5000)}${']'.repeat(5000)}`, status: 402 },
      { name: 'plain text', type: 'text/plain', body: 'hello', status: 402 },
      { name: 'form', type: 'application/x-www-form-urlencoded', body: 'model=elsewhere', status: 403 },
      {
        name: 'multipart',
        type: 'multipart/form-data; boundary=b',
        body: '--b\r\n\r\nelsewhere\r\n--b--',
        status: 402,
      },
      { name: 'empty JSON body', type: 'application/json', body: '', status: 402 },
      { name: 'no body at all', status: 402 },
    ];
    for (const c of cases) {
      const r = request(app.callback()).post('/ai/v1/chat/completions').set('authorization', `Bearer ${secret}`);
      if (c.type) r.set('content-type', c.type);
      const response = await (c.body === undefined ? r : r.send(c.body));
      assert.is(response.status, c.status, c.name);
      assert.type(response.body.error?.code, 'string', c.name);
    }
  }));

test('uses the model of a GET request query-less body only, and explains the balance', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db, { credits: null });
    const app = createApp({ db }, forbidding().downstream);
    const response = await request(app.callback()).get('/ai/v1/models').set('authorization', `Bearer ${secret}`);
    assert.is(response.status, 402);
  }));

test('treats odd Authorization headers as no token or an unknown key', () =>
  withTestDatabase(async (db) => {
    const { secret } = await keyHolder(db);
    const app = createApp({ db }, forbidding('raw').downstream);
    const headers = [
      `Basic ${Buffer.from(`user:${secret}`).toString('base64')}`,
      'Bearer',
      'Bearer     ',
      `Bearer ${'x'.repeat(8000)}`,
      "Bearer ' or 1=1 --",
      'Bearer sk-ünïcödé',
      `Token ${secret}`,
    ];
    for (const header of headers) {
      const response = await request(app.callback())
        .post('/ai/v1/chat/completions')
        .set('authorization', header)
        .send({ model: 'elsewhere' });
      assert.is(response.status, 403, header.slice(0, 20));
      assert.is(response.text, 'raw', header.slice(0, 20));
    }
    const lower = await request(app.callback())
      .post('/x')
      .set('authorization', `bearer   ${secret}  `)
      .send({ model: 'elsewhere' });
    assert.is(lower.body.error.code, 'model_access_denied');
  }));

test.run();

import { openDatabase } from '@control-layer/db';
import { withTestDatabase } from '@control-layer/db/testing';
import pg from 'pg';
import request from 'supertest';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { PassThroughEvent } from '../src/index.ts';
import { chat, createApp, forbidding, keyHolder, ROUTER_FORBIDDEN } from './helpers.ts';

const test = suite('fail open');

test('passes the original 403 through byte for byte when the database is down', async () => {
  // Nothing listens on port 1: every query fails at connect.
  const down = await openDatabase('postgres://postgres@127.0.0.1:1/none', { connectionTimeoutMs: 500 });
  const warnings: object[] = [];
  const passed: PassThroughEvent[] = [];
  try {
    const app = createApp(
      {
        db: down.db,
        logger: { warn: (fields) => warnings.push(fields) },
        onPassThrough: (e) => passed.push(e),
      },
      (ctx) => {
        ctx.status = 403;
        ctx.type = 'application/json';
        ctx.body = ROUTER_FORBIDDEN;
      },
    );
    const response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('authorization', 'Bearer sk-anything')
      .set('x-request-id', 'req-down')
      .send(chat('m'));
    assert.is(response.status, 403);
    assert.is(response.text, ROUTER_FORBIDDEN);
    assert.equal(
      passed.map((e) => e.reason),
      ['db_error'],
    );
    assert.is((warnings[0] as { requestId?: string }).requestId, 'req-down');
  } finally {
    await down.close();
  }
});

test('gives up at timeoutMs when the database is slow and passes the 403 through', () =>
  withTestDatabase(async (db, t) => {
    const { secret } = await keyHolder(db);
    const locker = new pg.Client({ connectionString: t.url });
    await locker.connect();
    const passed: PassThroughEvent[] = [];
    try {
      // Hold a lock the diagnosis must wait for: every read of api_keys now blocks.
      await locker.query('begin');
      await locker.query('lock table api_keys in access exclusive mode');
      const app = createApp({ db, timeoutMs: 150, onPassThrough: (e) => passed.push(e) }, forbidding().downstream);
      // The lock is held until after the answer, so an answer at all shows the request did not
      // wait for it (bench/enrichment-path.ts measures how long timeoutMs takes).
      const response = await request(app.callback())
        .post('/x')
        .set('authorization', `Bearer ${secret}`)
        .send(chat('elsewhere'));
      assert.is(response.status, 403);
      assert.is(response.text, 'Forbidden');
      assert.equal(
        passed.map((e) => e.reason),
        ['timeout'],
      );
    } finally {
      await locker.query('rollback').catch(() => {});
      await locker.end();
    }
  }));

test('never turns a database failure into a 500, on any path', async () => {
  const down = await openDatabase('postgres://postgres@127.0.0.1:1/none', { connectionTimeoutMs: 500 });
  try {
    const app = createApp({ db: down.db }, forbidding().downstream);
    for (const model of ['m', null]) {
      const response = await request(app.callback())
        .post('/x')
        .set('authorization', 'Bearer sk-x')
        .send(model === null ? 'not json' : chat(model));
      assert.is(response.status, 403);
    }
  } finally {
    await down.close();
  }
});

test.run();

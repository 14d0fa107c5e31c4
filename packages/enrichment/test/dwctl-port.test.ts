/*
 * The middleware tests of dwctl's error_enrichment.rs at HEAD (10.13), one for one: same
 * fixtures, same requests, same status codes and message fragments. The original name is above
 * each test; the validateApiKeyModelAccess ones are in dwctl-port-validate.test.ts. Where a test
 * bills a model, that model gets a paid tariff: on a free model the router admits any balance and
 * any cap, so neither would explain the 403 here (see the README's differences).
 */
import { randomUUID } from 'node:crypto';
import { addDeploymentToGroup, addUserToGroup, createTransaction } from '@control-layer/db';
import {
  addTestCredits,
  addTestTariff,
  createTestApiKey,
  createTestEndpoint,
  createTestGroup,
  createTestModel,
  createTestUser,
  withTestDatabase,
} from '@control-layer/db/testing';
import { Decimal } from 'decimal.js';
import request from 'supertest';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { modalityLabel } from '../src/index.ts';
import { chat, createApp, denyPurpose, forbidding } from './helpers.ts';
import { spendCapArms } from './spend-cap-arms.ts';

const test = suite('dwctl port');

// test_modality_label_known_and_unknown_purposes
test('labels known purposes and capitalises unknown ones', () => {
  assert.is(modalityLabel('batch'), 'Batch');
  assert.is(modalityLabel('realtime'), 'Real-time');
  assert.is(modalityLabel('playground'), 'Playground');
  assert.is(modalityLabel('platform'), 'Platform');
  assert.is(modalityLabel('evaluation'), 'Evaluation');
  assert.is(modalityLabel(''), 'This');
});

test('labels purposes named like Object.prototype members as any other unknown purpose', () => {
  const cases: [string, string][] = [
    ['constructor', 'Constructor'],
    ['toString', 'ToString'],
    ['__proto__', '__proto__'],
    ['hasOwnProperty', 'HasOwnProperty'],
    ['valueOf', 'ValueOf'],
  ];
  for (const [purpose, label] of cases) {
    const got: unknown = modalityLabel(purpose);
    assert.type(got, 'string', purpose);
    assert.is(got, label);
  }
});

// test_error_enrichment_middleware_enriches_403_with_balance
test('enriches a 403 with model access first, then with the balance once access is granted', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { secret } = await createTestApiKey(db, user.id, 'realtime');
    await addTestCredits(db, user.id, '50.00');
    const app = createApp({ db }, forbidding().downstream);

    let response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('authorization', `Bearer ${secret}`)
      .send(chat('test-model'));
    assert.is(response.status, 403);
    assert.ok(response.text.includes("do not have access to 'test-model'"));

    await createTransaction(db, {
      userId: user.id,
      type: 'usage',
      amount: new Decimal('100.00'),
      sourceId: randomUUID(),
      description: 'Usage',
    });
    const endpointId = await createTestEndpoint(db, 'test-endpoint', user.id);
    const deploymentId = await createTestModel(db, 'authorized-model-name', 'authorized-model', endpointId, user.id);
    const group = await createTestGroup(db);
    await addUserToGroup(db, user.id, group.id);
    await addDeploymentToGroup(db, deploymentId, group.id, user.id);
    await addTestTariff(db, deploymentId);

    response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('authorization', `Bearer ${secret}`)
      .send(chat('authorized-model'));
    assert.is(response.status, 402);
    assert.ok(response.text.includes('balance too low'));
    assert.is(response.body.error.balance, '-50.00');
  }));

// test_error_enrichment_spend_cap_arms
test('explains a spent cap, lets the balance supersede it, and answers a rolled window with a retriable 429 and one notification', () =>
  withTestDatabase((db, t) => spendCapArms(db, t.url)));

// test_error_enrichment_middleware_passes_through_legitimate_403
test('passes a legitimate 403 through when nothing explains it', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const group = await createTestGroup(db);
    await addUserToGroup(db, user.id, group.id);
    const { secret } = await createTestApiKey(db, user.id, 'realtime');
    await addTestCredits(db, user.id, '50.00');
    const endpointId = await createTestEndpoint(db, 'test-endpoint', user.id);
    const deploymentId = await createTestModel(db, 'authorized-model-name', 'authorized-model', endpointId, user.id);
    await addDeploymentToGroup(db, deploymentId, group.id, user.id);
    const app = createApp({ db }, forbidding('Rate limit exceeded').downstream);

    const response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('authorization', `Bearer ${secret}`)
      .send(chat('authorized-model'));
    assert.is(response.status, 403);
    assert.ok(response.text.includes('Rate limit exceeded'));
    assert.not.ok(response.text.includes('balance'));
    assert.not.ok(response.text.includes('access'));
  }));

// test_error_enrichment_middleware_ignores_non_ai_paths
test('leaves a 403 without credentials on another path unchanged', () =>
  withTestDatabase(async (db) => {
    const app = createApp({ db }, (ctx) => {
      ctx.status = 403;
      ctx.body = 'Admin Forbidden';
    });
    const response = await request(app.callback()).get('/admin/api/v1/users');
    assert.is(response.status, 403);
    assert.is(response.text, 'Admin Forbidden');
  }));

// test_error_enrichment_middleware_ignores_non_403_errors
test('leaves responses other than 403 unchanged', () =>
  withTestDatabase(async (db) => {
    const app = createApp({ db }, (ctx) => {
      ctx.status = 404;
      ctx.set('authorization', 'Bearer dummy-key');
      ctx.body = 'Not Found';
    });
    const response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('authorization', 'Bearer test-key')
      .send({ model: 'test' });
    assert.is(response.status, 404);
    assert.is(response.text, 'Not Found');
  }));

// test_error_enrichment_middleware_enriches_403_with_modality_block
test('enriches a 403 with the blocked modality and the model', () =>
  withTestDatabase(async (db) => {
    const user = await createTestUser(db);
    const { secret } = await createTestApiKey(db, user.id, 'batch', 'Batch Key');
    await addTestCredits(db, user.id, '50.00');
    const endpointId = await createTestEndpoint(db, 'test-endpoint', user.id);
    const deploymentId = await createTestModel(db, 'blocked-model-name', 'blocked-model', endpointId, user.id);
    const group = await createTestGroup(db);
    await addUserToGroup(db, user.id, group.id);
    await addDeploymentToGroup(db, deploymentId, group.id, user.id);
    await denyPurpose(db, deploymentId, 'batch');
    const app = createApp({ db }, forbidding().downstream);

    const response = await request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('authorization', `Bearer ${secret}`)
      .send(chat('blocked-model'));
    assert.is(response.status, 403);
    const body = response.text;
    assert.ok(
      body.includes('Batch') && body.includes('blocked-model') && body.includes('administrator'),
      `expected modality-blocked message, got: ${body}`,
    );
  }));

// test_error_enrichment_middleware_without_auth_header
test('passes a 403 through unchanged when the request has no Authorization header', () =>
  withTestDatabase(async (db) => {
    const app = createApp({ db }, forbidding('No Auth').downstream);
    const response = await request(app.callback()).post('/ai/v1/chat/completions').send({ model: 'test' });
    assert.is(response.status, 403);
    assert.is(response.text, 'No Auth');
  }));

test.run();

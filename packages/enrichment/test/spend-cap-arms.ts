/*
 * dwctl's test_error_enrichment_spend_cap_arms, step for step (its three numbered phases), with
 * the cap model paid (see dwctl-port.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { addDeploymentToGroup, addUserToGroup, createTransaction, type Database } from '@control-layer/db';
import {
  addTestCredits,
  addTestTariff,
  bypassLedgerGuard,
  createTestApiKey,
  createTestEndpoint,
  createTestGroup,
  createTestModel,
  createTestUser,
  listenNotifications,
} from '@control-layer/db/testing';
import { Decimal } from 'decimal.js';
import { sql } from 'drizzle-orm';
import request from 'supertest';
import * as assert from 'uvu/assert';
import { chat, createApp, forbidding } from './helpers.ts';

const BOUNDARY = 'api_key_spend_cap_boundary:';

export async function spendCapArms(db: Database, url: string): Promise<void> {
  const user = await createTestUser(db);
  const endpointId = await createTestEndpoint(db, 'cap-endpoint', user.id);
  const deploymentId = await createTestModel(db, 'cap-model-name', 'cap-model', endpointId, user.id);
  await addTestTariff(db, deploymentId);
  const group = await createTestGroup(db);
  await addUserToGroup(db, user.id, group.id);
  await addDeploymentToGroup(db, deploymentId, group.id, user.id);
  const { key, secret } = await createTestApiKey(db, user.id, 'realtime', 'Capped Key');
  await addTestCredits(db, user.id, '50.00');

  // A $10 one-off cap with an exhausted window.
  await db.execute(sql`update api_keys set spend_limit = 10 where id = ${key.id}`);
  // Only the ledger writes a checkpoint; a superuser plays the state instead of spending it.
  await bypassLedgerGuard(
    db,
    sql`update api_key_spend_checkpoints set total_spend = 10.5, window_spend = 10.5 where api_key_id = ${key.id}`,
  );
  const app = createApp({ db }, forbidding().downstream);
  const send = () =>
    request(app.callback())
      .post('/ai/v1/chat/completions')
      .set('authorization', `Bearer ${secret}`)
      .send(chat('cap-model'));

  // 1. Healthy balance and an exhausted cap: 402 spend_cap_exceeded.
  let response = await send();
  assert.is(response.status, 402);
  assert.ok(response.text.includes('spend_cap_exceeded'), response.text);
  assert.ok(response.text.includes('insufficient_quota'), response.text);
  assert.ok(response.text.includes('spending cap of $10'), response.text);
  assert.is(response.headers['x-should-retry'], 'false');

  // 2. The balance supersedes the cap.
  await createTransaction(db, {
    userId: user.id,
    type: 'usage',
    amount: new Decimal('100.00'),
    sourceId: randomUUID(),
    description: 'Usage',
  });
  response = await send();
  assert.is(response.status, 402);
  assert.ok(response.text.includes('balance too low'), response.text);
  assert.not.ok(response.text.includes('spend_cap_exceeded'), response.text);

  // 3. A rolled window: a retriable 429 and one boundary notification to the router.
  await addTestCredits(db, user.id, '200.00');
  // The cap became daily two days ago (no trigger: a new interval would restart the window now).
  await bypassLedgerGuard(
    db,
    sql`update api_keys set spend_limit_interval = 'daily' where id = ${key.id}`,
    sql`update api_key_spend_checkpoints set window_started_at = now() - interval '2 days' where api_key_id = ${key.id}`,
  );
  const listener = await listenNotifications(url, 'auth_config_changed');
  try {
    response = await send();
    assert.is(response.status, 429);
    assert.is(response.headers['retry-after'], '5');
    assert.is(response.headers['x-should-retry'], 'true');
    assert.ok(response.text.includes('spend_cap_reset_pending'), response.text);
    assert.not.ok(response.text.includes('spend_cap_exceeded'), response.text);
    assert.ok((await listener.waitFor(BOUNDARY)).startsWith(BOUNDARY));

    // Throttled: the same 429 again, but no second notification.
    response = await send();
    assert.is(response.status, 429);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.is(listener.matching(BOUNDARY).length, 1);
  } finally {
    await listener.close();
  }
}

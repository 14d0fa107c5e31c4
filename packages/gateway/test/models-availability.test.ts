/*
 * Each listed model's `availability` is what a request to it gets: over the random worlds of the
 * enrichment tests (every key state: purposes, grants, deny rules, tariffs, balances, flags,
 * caps and their windows, expiries, deleted owners), for every key and every listed model, a
 * chat completion through the gateway and the stub router is served exactly when the model is
 * listed as available, and the denial a router's 403 is explained with is the listed one.
 */
import { addDeploymentToGroup, type Database, EVERYONE_GROUP_ID } from '@control-layer/db';
import {
  addTestCredits,
  addTestTariff,
  bypassLedgerGuard,
  createTestApiKey,
  createTestDatabase,
  createTestEndpoint,
  createTestModel,
  createTestUser,
} from '@control-layer/db/testing';
import { sql } from 'drizzle-orm';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { buildWorld, WORLD_ALIASES } from '../../enrichment/test/random-world.ts';
import { FORBIDDEN_BODY } from '../src/index.ts';
import { chat, send, serve, startGateway, startStack } from './helpers.ts';

const test = suite('model availability');
const SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

interface Entry {
  id: string;
  availability: { status: 'available' } | { status: 'denied'; code: string; message: string };
}

/**
 * A state the random worlds seldom draw: a key whose daily cap was spent in an earlier window,
 * on a paid model everyone reaches, with credits to spare.
 */
async function resetPendingKey(db: Database): Promise<string> {
  const user = await createTestUser(db);
  const model = await createTestModel(db, 'paid', 'paid-model', await createTestEndpoint(db, 'paid', user.id), user.id);
  await addTestTariff(db, model);
  await addDeploymentToGroup(db, model, EVERYONE_GROUP_ID);
  await addTestCredits(db, user.id, '50.00');
  const { key, secret } = await createTestApiKey(db, user.id, 'realtime');
  await db.execute(sql`update api_keys set spend_limit = 10, spend_limit_interval = 'daily' where id = ${key.id}`);
  // Only the ledger writes a checkpoint; a superuser plays a spent window that has rolled instead.
  await bypassLedgerGuard(
    db,
    sql`insert into api_key_spend_checkpoints (api_key_id, total_spend, window_spend, window_started_at)
        values (${key.id}, 11, 11, now() - interval '2 days')
        on conflict (api_key_id) do update
        set total_spend = excluded.total_spend, window_spend = excluded.window_spend,
            window_started_at = excluded.window_started_at`,
  );
  return secret;
}

const json = (response: { body: Buffer }) => JSON.parse(response.body.toString());
const auth = (secret: string) => ({ authorization: `Bearer ${secret}` });
const complete = (base: string, secret: string, model: string) =>
  send(`${base}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth(secret) },
    body: JSON.stringify(chat(model)),
  });

test('agrees, for every key and listed model of random worlds, with what a request to that model gets', async () => {
  const seen = new Map<string, number>();
  // A router that refuses everything: what the diagnosis says of any 403 for this key and model.
  const refusing = await serve((_req, res) => {
    res.writeHead(403, { 'content-type': 'application/json' });
    res.end(FORBIDDEN_BODY);
  });
  try {
    for (const seed of SEEDS) {
      const t = await createTestDatabase();
      const stack = await startStack(t.db);
      const explained = await startGateway(t.db, refusing.url);
      try {
        const world = await buildWorld(t.db, seed);
        if (seed === SEEDS[0]) world.secrets.push(await resetPendingKey(t.db));
        for (const secret of world.secrets) {
          const where = `seed ${seed}, key ${secret.slice(0, 12)}`;
          const first = await send(`${stack.gatewayUrl}/ai/v1/models`, { headers: auth(secret) });
          if (first.status !== 200) {
            const listed = json(first).error;
            // The list's 401 for an expired key is the one a request with it gets.
            if (listed.code === 'api_key_expired') {
              for (const alias of WORLD_ALIASES) {
                const asked = json(await complete(stack.gatewayUrl, secret, alias)).error;
                // The router answers a model it does not serve (inactive, deleted) 404 before any key check.
                if (asked.code === 'model_not_found') continue;
                assert.equal([asked.code, asked.message], [listed.code, listed.message], where);
                seen.set('api_key_expired', (seen.get('api_key_expired') ?? 0) + 1);
                break;
              }
            }
            continue;
          }
          for (const { id } of json(first).data as Entry[]) {
            // Listed again right before each request: a served paid request moves the balance and the cap.
            const entry = (
              json(await send(`${stack.gatewayUrl}/ai/v1/models`, { headers: auth(secret) })).data as Entry[]
            ).find((e) => e.id === id);
            assert.ok(entry, `${where}: ${id} left the list`);
            const { availability } = entry;
            const label = `${where}, model ${id}: ${JSON.stringify(availability)}`;
            const diagnosis = await complete(explained.url, secret, id);
            if (availability.status === 'available') {
              assert.is(diagnosis.body.toString(), FORBIDDEN_BODY, `${label}: nothing explains a 403`);
            } else {
              const { code, message } = json(diagnosis).error;
              assert.equal({ code, message }, { code: availability.code, message: availability.message }, label);
            }
            const served = await complete(stack.gatewayUrl, secret, id);
            const outcome = availability.status === 'available' ? 'available' : availability.code;
            // The stub reads the database on every request, so a cap window that has just reset
            // readmits at once; a router readmits at its reload, and until then answers with the
            // 403 explained above as spend_cap_reset_pending.
            if (outcome === 'available' || outcome === 'spend_cap_reset_pending') {
              assert.is(served.status, 200, `${label}: ${served.body}`);
            } else {
              assert.is(json(served).error.code, outcome, label);
            }
            seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
          }
        }
      } finally {
        await explained.close();
        await stack.close();
        await t.close();
      }
    }
  } finally {
    await refusing.close();
  }
  for (const outcome of [
    'api_key_expired',
    'available',
    'modality_blocked',
    'insufficient_credits',
    'spend_cap_exceeded',
    'spend_cap_reset_pending',
  ]) {
    assert.ok((seen.get(outcome) ?? 0) > 0, `no ${outcome} in ${JSON.stringify([...seen])}`);
  }
});

test.run();

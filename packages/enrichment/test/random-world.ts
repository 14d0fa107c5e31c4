/*
 * Random worlds for the differential test: a handful of users, groups, models, keys, rules,
 * tariffs, caps, checkpoints, flags, ledgers, expiries and deleted owners, drawn from a seeded generator so a failure
 * names the seed that reproduces it. Sizes are bounded.
 */
import {
  addDeploymentToGroup,
  addUserToGroup,
  createApiKey,
  createDeployedModel,
  createTransaction,
  type Database,
  EVERYONE_GROUP_ID,
  SYSTEM_USER_ID,
  setTrafficRule,
  setUserFeatureFlag,
  softDeleteDeployedModel,
} from '@control-layer/db';
import { bypassLedgerGuard, createTestEndpoint, createTestGroup, createTestUser } from '@control-layer/db/testing';
import { Decimal } from 'decimal.js';
import { sql } from 'drizzle-orm';

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
export function randomSource(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const chance = (p: number) => next() < p;
  return { int, pick, chance };
}

const PURPOSES = ['realtime', 'batch', 'playground', 'platform'] as const;
export const WORLD_ALIASES = ['m0', 'm1', 'm2', 'm3'];

export interface World {
  secrets: string[];
  /** Aliases to ask about: the world's, an unknown one, and none. */
  aliases: (string | null)[];
}

export async function buildWorld(db: Database, seed: number): Promise<World> {
  const r = randomSource(seed);
  const admin = await createTestUser(db);
  const endpoint = await createTestEndpoint(db, `e-${seed}`, admin.id);
  const groups = [await createTestGroup(db), await createTestGroup(db)];
  const models: string[] = [];
  for (const alias of WORLD_ALIASES) {
    const model = await createDeployedModel(db, {
      modelName: alias,
      alias,
      hostedOn: endpoint,
      createdBy: admin.id,
      status: r.chance(0.15) ? 'inactive' : 'active',
    });
    models.push(model.id);
    for (const groupId of [EVERYONE_GROUP_ID, ...groups.map((g) => g.id)]) {
      if (r.chance(0.35)) await addDeploymentToGroup(db, model.id, groupId);
    }
    for (const purpose of PURPOSES) {
      if (r.chance(0.2))
        await setTrafficRule(db, { deployedModelId: model.id, apiKeyPurpose: purpose, action: 'deny' });
    }
    // Tariffs of every kind: paid, zero-priced, ended, for one purpose or any.
    for (let i = r.int(3); i > 0; i--) {
      const paid = r.chance(0.6);
      await db.execute(sql`insert into model_tariffs
        (deployed_model_id, name, input_price_per_token, output_price_per_token, api_key_purpose, valid_from, valid_until)
        values (${model.id}, ${`t${i}`}, ${paid && r.chance(0.5) ? '0.00000100' : '0'}, ${paid ? '0.00000200' : '0'},
                ${r.chance(0.5) ? r.pick(PURPOSES) : null}, now() - interval '30 days',
                ${r.chance(0.3) ? sql`now() - interval '1 day'` : null})`);
    }
    if (r.chance(0.1)) await softDeleteDeployedModel(db, model.id);
  }

  const secrets: string[] = [];
  const keyIds: string[] = [];
  const owners = [SYSTEM_USER_ID];
  for (let u = 0; u < 4; u++) {
    const user = await createTestUser(db);
    owners.push(user.id);
    for (const group of groups) if (r.chance(0.5)) await addUserToGroup(db, user.id, group.id);
    const ledger = r.pick(['none', 'positive', 'zero', 'negative'] as const);
    if (ledger !== 'none') {
      await createTransaction(db, {
        userId: user.id,
        type: 'admin_grant',
        amount: new Decimal(10),
        sourceId: `${seed}-${u}-g`,
      });
      const spent = { positive: '3.5', zero: '10', negative: '12.000000000000001' }[ledger];
      await createTransaction(db, {
        userId: user.id,
        type: 'usage',
        amount: new Decimal(spent),
        sourceId: `${seed}-${u}-u`,
      });
    }
    if (r.chance(0.3)) await setUserFeatureFlag(db, user.id, 'ALLOW_NEGATIVE_BALANCE', r.chance(0.7));
  }
  for (const owner of owners) {
    for (let k = owner === SYSTEM_USER_ID ? 1 : 1 + r.int(3); k > 0; k--) {
      const purpose = owner === SYSTEM_USER_ID ? 'platform' : r.pick(PURPOSES);
      const capped = r.chance(0.4);
      const { key, secret } = await createApiKey(db, { userId: owner, createdBy: owner, name: `k${k}`, purpose });
      secrets.push(secret);
      keyIds.push(key.id);
      if (r.chance(0.1)) await db.execute(sql`update api_keys set is_deleted = true where id = ${key.id}`);
      if (!capped) continue;
      const interval = r.pick([null, 'daily', 'weekly', 'monthly'] as const);
      const limit = r.pick(['5', '10', '0.000000000000001']);
      await db.execute(
        sql`update api_keys set spend_limit = ${limit}, spend_limit_interval = ${interval} where id = ${key.id}`,
      );
      if (r.chance(0.8)) {
        const spend = r.pick(['0', '4.999999999999999', '5', '10', '11']);
        const age = r.pick(['0 seconds', '2 days', '9 days', '40 days']);
        await bypassLedgerGuard(
          db,
          sql`update api_key_spend_checkpoints
              set total_spend = ${spend}, window_spend = ${spend}, window_started_at = now() - ${age}::interval
              where api_key_id = ${key.id}`,
        );
      }
      if (r.chance(0.6)) {
        const child = await createApiKey(db, {
          userId: owner,
          createdBy: owner,
          name: `k${k}-child`,
          purpose: 'batch',
          hidden: true,
          parentApiKeyId: key.id,
        });
        secrets.push(child.secret);
        keyIds.push(child.key.id);
      }
    }
  }
  // Drawn last, so the draws above (and the worlds of earlier seeds) stay as they were.
  for (const keyId of keyIds) {
    const expiry = r.pick([null, null, null, 'past', 'future'] as const);
    if (expiry === null) continue;
    const at = expiry === 'past' ? sql`now() - interval '1 day'` : sql`now() + interval '1 day'`;
    await db.execute(sql`update api_keys set expires_at = ${at} where id = ${keyId}`);
  }
  for (const owner of owners.slice(1)) {
    if (r.chance(0.15)) await db.execute(sql`update users set is_deleted = true where id = ${owner}`);
  }
  secrets.push('sk-not-a-key');
  return { secrets, aliases: [...WORLD_ALIASES, 'no-such-model', null] };
}

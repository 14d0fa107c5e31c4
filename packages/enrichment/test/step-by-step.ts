/*
 * The diagnosis defined step by step, straight from the check table: every table read
 * whole with plain selects, every predicate written out in TypeScript (windows on UTC calendar
 * dates with JavaScript's Date, not the SQL functions). The differential test holds the
 * one-statement diagnosis and the rules to it.
 */
import {
  apiKeySpendCheckpoints,
  apiKeys,
  type Database,
  type DenialFacts,
  deployedModels,
  deploymentGroups,
  hashSecret,
  modelTariffs,
  modelTrafficRules,
  SYSTEM_USER_ID,
  userBalanceCheckpoints,
  userFeatureFlags,
  userGroups,
  users,
} from '@control-layer/db';
import { Decimal } from 'decimal.js';

export async function loadTables(db: Database) {
  return {
    keys: await db.select().from(apiKeys),
    users: await db.select().from(users),
    checkpoints: await db.select().from(apiKeySpendCheckpoints),
    models: await db.select().from(deployedModels),
    grants: await db.select().from(deploymentGroups),
    memberships: await db.select().from(userGroups),
    rules: await db.select().from(modelTrafficRules),
    tariffs: await db.select().from(modelTariffs),
    balances: await db.select().from(userBalanceCheckpoints),
    flags: await db.select().from(userFeatureFlags),
  };
}
export type Tables = Awaited<ReturnType<typeof loadTables>>;

function windowStart(interval: string | null, at: Date): number {
  const [y, m, d] = [at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()];
  if (interval === 'daily') return Date.UTC(y, m, d);
  if (interval === 'weekly') return Date.UTC(y, m, d - ((at.getUTCDay() + 6) % 7));
  if (interval === 'monthly') return Date.UTC(y, m, 1);
  return Number.NEGATIVE_INFINITY;
}

function nextBoundary(interval: string | null, now: Date): string | null {
  const start = new Date(windowStart(interval, now));
  const [y, m, d] = [start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()];
  const next =
    interval === 'daily'
      ? Date.UTC(y, m, d + 1)
      : interval === 'weekly'
        ? Date.UTC(y, m, d + 7)
        : interval === 'monthly'
          ? Date.UTC(y, m + 1, 1)
          : null;
  return next === null ? null : new Date(next).toISOString().replace('.000Z', 'Z');
}

/** The facts of the table for one key, alias and rule purpose; null for an unknown or deleted key. */
export function expectedFacts(
  t: Tables,
  secret: string,
  alias: string | null,
  rulePurpose: string | undefined,
  now: Date,
): DenialFacts | null {
  const key = t.keys.find((k) => k.secretHash === hashSecret(secret) && !k.isDeleted);
  // A deleted owner's keys are unknown, as deleted keys are.
  if (!key || t.users.find((u) => u.id === key.userId)?.isDeleted !== false) return null;
  const user = key.userId;
  const groupsOf = new Set(t.memberships.filter((m) => m.userId === user).map((m) => m.groupId));
  const live = t.models.filter((m) => m.alias === alias && !m.deleted);
  const reaches = live.some((m) =>
    t.grants.some(
      (g) =>
        g.deploymentId === m.id &&
        (groupsOf.has(g.groupId) || (g.groupId === SYSTEM_USER_ID && user !== SYSTEM_USER_ID)),
    ),
  );
  const purpose = rulePurpose ?? key.purpose;
  const rule = t.rules.find(
    (r) => live.some((m) => m.id === r.deployedModelId) && r.action === 'deny' && r.apiKeyPurpose === purpose,
  );
  const aliased = t.models.filter((m) => m.alias === alias).map((m) => m.id);
  const paid = t.tariffs.some(
    (x) =>
      aliased.includes(x.deployedModelId) &&
      x.validUntil === null &&
      (x.inputPricePerToken.gt(0) || x.outputPricePerToken.gt(0)),
  );
  const root = t.keys.find((k) => k.id === (key.parentApiKeyId ?? key.id));
  // A child expires with its parent: the earlier of the two.
  const expiries = [key.expiresAt, key.parentApiKeyId === null ? null : (root?.expiresAt ?? null)];
  const expiresAt = expiries.reduce<Date | null>((a, b) => (a === null || (b !== null && b < a) ? b : a), null);
  const checkpoint = t.checkpoints.find((c) => c.apiKeyId === root?.id);
  const interval = root?.spendLimitInterval ?? null;
  const started = checkpoint?.windowStartedAt ?? null;
  return {
    keyId: key.id,
    userId: user,
    keyName: key.name,
    purpose: key.purpose,
    expired: expiresAt !== null && expiresAt.getTime() <= now.getTime(),
    expiresAt: expiresAt && new Date(Math.floor(expiresAt.getTime() / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
    isSystemKey: user === SYSTEM_USER_ID,
    hasModelAccess: alias === null ? null : reaches,
    deniedPurpose: alias === null ? null : (rule?.apiKeyPurpose ?? null),
    balance: t.balances.find((b) => b.userId === user)?.balance ?? new Decimal(0),
    balanceExempt: t.flags.some((f) => f.userId === user && f.featureFlag === 'ALLOW_NEGATIVE_BALANCE' && f.enabled),
    modelIsFree: alias === null ? null : !paid,
    spendCap:
      root?.spendLimit == null
        ? null
        : {
            rootKeyId: root.id,
            limit: root.spendLimit,
            interval,
            windowSpend: checkpoint?.windowSpend ?? new Decimal(0),
            windowCurrent:
              started !== null && (interval === null || windowStart(interval, started) === windowStart(interval, now)),
            resetsAt: nextBoundary(interval, now),
          },
  };
}

const INFERENCE = ['realtime', 'batch', 'playground'];

/** The check table, first match wins, written as one chain of ifs. */
export function expectedCode(facts: DenialFacts | null, model: string | null): string | null {
  if (!facts) return null;
  if (facts.expired) return 'api_key_expired';
  if (!facts.isSystemKey && !INFERENCE.includes(facts.purpose)) return 'non_inference_key';
  if (model !== null && facts.hasModelAccess === false) return 'model_access_denied';
  if (model !== null && facts.deniedPurpose !== null) return 'modality_blocked';
  const free = model !== null && facts.modelIsFree === true;
  if (facts.balance.lte(0) && !facts.balanceExempt && !facts.isSystemKey && !free) return 'insufficient_credits';
  const cap = facts.spendCap;
  if (cap && !free && cap.windowSpend.gte(cap.limit)) {
    return cap.windowCurrent ? 'spend_cap_exceeded' : 'spend_cap_reset_pending';
  }
  return null;
}

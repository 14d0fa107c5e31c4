import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { InvalidSpendCapError, UnknownApiKeyError } from '../errors.ts';
import { Decimal } from '../money.ts';
import { apiKeys, SPEND_LIMIT_INTERVALS, type SpendLimitInterval } from '../schema/index.ts';
import type { ApiKey } from '../types.ts';
import { MONEY_SCALE } from './credits.ts';

export interface SpendCapInput {
  /** The most the key's scope may spend in one window; above zero. */
  limit: Decimal;
  /** `daily`, `weekly` or `monthly` (UTC calendar windows); null for a one-off cap. */
  interval: SpendLimitInterval | null;
  /** Start a fresh window even when the cap already existed with this interval. @default false */
  resetWindow?: boolean;
}

function assertCap(input: SpendCapInput): void {
  const { limit, interval } = input;
  if (!(limit instanceof Decimal) || !limit.isFinite() || limit.lte(0) || limit.decimalPlaces() > MONEY_SCALE) {
    throw new InvalidSpendCapError(`a spend limit must be above 0 with at most ${MONEY_SCALE} decimal places`);
  }
  if (interval !== null && !SPEND_LIMIT_INTERVALS.includes(interval)) {
    throw new InvalidSpendCapError(`a spend limit interval is one of ${SPEND_LIMIT_INTERVALS.join(', ')} or null`);
  }
}

/**
 * Restart a scope's window: a row in `api_key_spend_window_resets`, whose trigger moves the start
 * forward (never back, never past the clock), recounts the window from the ledger and tells a
 * router (`api_key_spend_cap_rearm:<micros>` on `auth_config_changed`) in this transaction.
 */
async function restartWindow(db: Database, rootKeyId: string, at: Date | null): Promise<void> {
  await db.execute(sql`insert into api_key_spend_window_resets (api_key_id, reset_at)
                       values (${rootKeyId}::uuid, coalesce(${at?.toISOString() ?? null}::timestamptz, now()))`);
}

async function liveKey(db: Database, keyId: string): Promise<ApiKey> {
  const [key] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.isDeleted, false)))
    .for('update');
  if (!key) throw new UnknownApiKeyError(keyId);
  return key;
}

/**
 * Cap a key's scope (the key and its children). As in dwctl, a new cap, an interval change or
 * `resetWindow` starts a fresh window; changing only the limit keeps the spend so far. A new cap
 * or interval restarts the window in the database (a trigger on `api_keys`, whoever writes the
 * row); `resetWindow` restarts it here when that did not. Either way a router is told once.
 */
export async function setApiKeySpendCap(db: Database, keyId: string, input: SpendCapInput): Promise<ApiKey> {
  assertCap(input);
  return db.transaction(async (tx) => {
    const key = await liveKey(tx, keyId);
    if (key.parentApiKeyId !== null) {
      throw new InvalidSpendCapError('a child key carries no cap of its own: cap its parent');
    }
    const [updated] = await tx
      .update(apiKeys)
      .set({ spendLimit: input.limit, spendLimitInterval: input.interval })
      .where(eq(apiKeys.id, keyId))
      .returning();
    if (!updated) throw new UnknownApiKeyError(keyId);
    const restarted = key.spendLimit === null || key.spendLimitInterval !== input.interval;
    if (input.resetWindow === true && !restarted) await restartWindow(tx, keyId, null);
    return updated;
  });
}

/** Uncap a key's scope. Its checkpoint stays: the lifetime total keeps counting, the window is no longer kept. False if already uncapped. */
export async function removeApiKeySpendCap(db: Database, keyId: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const key = await liveKey(tx, keyId);
    if (key.spendLimit === null) return false;
    await tx.update(apiKeys).set({ spendLimit: null, spendLimitInterval: null }).where(eq(apiKeys.id, keyId));
    return true;
  });
}

/**
 * Start a fresh window for a scope now (or at `at`, which moves the start only forward and is
 * refused beyond the ledger's clock skew): the window counts usage dated from its new start,
 * the lifetime total stays. Tells a router on `auth_config_changed`
 * (`api_key_spend_cap_rearm:<micros>`, dwctl's payload), so the key is readmitted at once.
 */
export async function resetApiKeySpendWindow(db: Database, keyId: string, at: Date | null = null): Promise<void> {
  await db.transaction(async (tx) => {
    const key = await liveKey(tx, keyId);
    const rootId = key.parentApiKeyId ?? key.id;
    await restartWindow(tx, rootId, at);
  });
}

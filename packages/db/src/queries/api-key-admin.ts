import type { Decimal } from 'decimal.js';
import { and, asc, eq, getTableColumns, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Database } from '../database.ts';
import { UnknownApiKeyError } from '../errors.ts';
import { apiKeySpendCheckpoints, apiKeys } from '../schema/index.ts';
import type { ApiKey } from '../types.ts';
import { type CreatedApiKey, generateApiKeySecret, hashSecret } from './api-keys.ts';

/** A key's metadata (never its digest) with the cap of its scope and what the scope spent. */
export type ApiKeyWithSpend = Omit<ApiKey, 'secretHash'> & {
  /** The cap that applies: the key's own, or its parent's for a child key; null when uncapped. */
  scopeLimit: Decimal | null;
  scopeInterval: string | null;
  /** Spend in the current window (0 once a window has passed without usage). */
  windowSpend: Decimal;
  totalSpend: Decimal;
};

const root = alias(apiKeys, 'scope_root');

function keysWithSpend(db: Database) {
  const { secretHash: _digest, ...columns } = getTableColumns(apiKeys);
  return db
    .select({
      ...columns,
      scopeLimit: root.spendLimit,
      scopeInterval: root.spendLimitInterval,
      // A checkpoint whose window has passed still holds the old window's spend until the next usage.
      windowSpend:
        sql<string>`case when api_key_cap_window_current(${apiKeySpendCheckpoints.windowStartedAt}, ${root.spendLimitInterval})
        then ${apiKeySpendCheckpoints.windowSpend} else 0 end`.mapWith(root.spendLimit),
      totalSpend: sql<string>`coalesce(${apiKeySpendCheckpoints.totalSpend}, 0)`.mapWith(root.spendLimit),
    })
    .from(apiKeys)
    .innerJoin(root, eq(root.id, sql`coalesce(${apiKeys.parentApiKeyId}, ${apiKeys.id})`))
    .leftJoin(apiKeySpendCheckpoints, eq(apiKeySpendCheckpoints.apiKeyId, root.id));
}

/** A user's keys, live and revoked, oldest first, each with its scope's cap and spend. */
export async function listApiKeysWithSpend(db: Database, userId: string): Promise<ApiKeyWithSpend[]> {
  return (await keysWithSpend(db)
    .where(eq(apiKeys.userId, userId))
    .orderBy(asc(apiKeys.createdAt), asc(apiKeys.id))) as ApiKeyWithSpend[];
}

/** One key by id with its scope's cap and spend; null when there is none. */
export async function findApiKeyWithSpend(db: Database, keyId: string): Promise<ApiKeyWithSpend | null> {
  const [row] = (await keysWithSpend(db).where(eq(apiKeys.id, keyId)).limit(1)) as ApiKeyWithSpend[];
  return row ?? null;
}

/** The child keys of a key (its cap scope), live and revoked. */
export async function listChildKeys(db: Database, keyId: string): Promise<Omit<ApiKey, 'secretHash'>[]> {
  const { secretHash: _digest, ...columns } = getTableColumns(apiKeys);
  return db.select(columns).from(apiKeys).where(eq(apiKeys.parentApiKeyId, keyId)).orderBy(asc(apiKeys.createdAt));
}

/** Columns a rotation gives the new key afresh; every other column is copied from the old one. */
const FRESH_COLUMNS = ['id', 'secretHash', 'isDeleted', 'createdAt', 'lastUsed'] as const;

export interface RotatedApiKey extends CreatedApiKey {
  /** The key that was revoked. */
  revokedId: string;
}

/**
 * Replace a live key by a new one with a new secret, in one transaction: every settings column
 * (name, purpose, owner, cap, parent, and any column added later) is copied, the old key is
 * revoked, its child keys move to the new key, and its cap scope's spend checkpoint is carried
 * over, so a rotation never resets a cap. Throws `UnknownApiKeyError` for an unknown or revoked key.
 */
export async function rotateApiKey(db: Database, keyId: string): Promise<RotatedApiKey> {
  return db.transaction(async (tx) => {
    const [old] = await tx
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.id, keyId), eq(apiKeys.isDeleted, false)))
      .for('update');
    if (!old) throw new UnknownApiKeyError(keyId);
    const settings: Record<string, unknown> = { ...old };
    for (const column of FRESH_COLUMNS) delete settings[column];
    // Revoked first: a live child is unique per (parent, purpose).
    await tx.update(apiKeys).set({ isDeleted: true }).where(eq(apiKeys.id, old.id));
    const secret = generateApiKeySecret();
    const [key] = await tx
      .insert(apiKeys)
      .values({ ...(settings as typeof apiKeys.$inferInsert), secretHash: hashSecret(secret) })
      .returning();
    if (!key) throw new Error('rotateApiKey: insert returned no row');
    await tx.update(apiKeys).set({ parentApiKeyId: key.id }).where(eq(apiKeys.parentApiKeyId, old.id));
    await tx.execute(sql`
      insert into api_key_spend_checkpoints (api_key_id, total_spend, window_spend, window_started_at)
      select ${key.id}::uuid, total_spend, window_spend, window_started_at
      from api_key_spend_checkpoints where api_key_id = ${old.id}::uuid`);
    return { key, secret, revokedId: old.id };
  });
}

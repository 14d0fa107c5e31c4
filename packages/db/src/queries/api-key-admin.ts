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

/**
 * Give a live key a new secret, in one statement: the old secret is unknown from the moment it
 * commits, and everything else stays the key's own (its id, name, purpose, owner, cap, expiry,
 * parent, child keys, usage history and cap spend). The rotation keeps the id on purpose: the
 * ledger's usage rows and the spend checkpoint are keyed by it, so a new row would either reset
 * the cap or need its checkpoint rewritten, which only the ledger's own triggers may do; and usage
 * the router records for requests still in flight lands on the same key. The router hears of the
 * new secret through `api_keys`' configuration-change notification. Throws `UnknownApiKeyError`
 * for an unknown or revoked key.
 */
export async function rotateApiKey(db: Database, keyId: string): Promise<CreatedApiKey> {
  const secret = generateApiKeySecret();
  const [key] = await db
    .update(apiKeys)
    .set({ secretHash: hashSecret(secret) })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.isDeleted, false)))
    .returning();
  if (!key) throw new UnknownApiKeyError(keyId);
  return { key, secret };
}

import { and, eq, type SQL, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import { apiKeys } from '../schema/index.ts';

/** When a key stops working: an instant, a span from now, or now; all read on the database clock. */
export type KeyExpiry = { at: Date } | { in: string } | 'now';

/** The key's new expiry, and whether the database clock has already reached it. */
export interface KeyExpiryChange {
  id: string;
  expiresAt: Date;
  expired: boolean;
}

function instantOf(expiry: KeyExpiry): SQL {
  if (expiry === 'now') return sql`now()`;
  return 'at' in expiry ? sql`${expiry.at.toISOString()}::timestamptz` : sql`(now() + ${expiry.in}::interval)`;
}

/**
 * The instant an expiry names on the database clock (the clock every reader of `expires_at`
 * compares with), and whether it has passed. `in` is a Postgres interval (`30 days`).
 */
export async function resolveKeyExpiry(db: Database, expiry: KeyExpiry): Promise<{ at: Date; passed: boolean }> {
  const at = instantOf(expiry);
  // Milliseconds since the epoch: a text form of a timestamptz would follow the session's DateStyle.
  const [row] = rowsOf<{ ms: string; passed: boolean }>(
    await db.execute(sql`select floor(extract(epoch from ${at}) * 1000)::text as ms, ${at} <= now() as passed`),
  );
  if (!row) throw new Error('resolveKeyExpiry: no row');
  return { at: new Date(Number(row.ms)), passed: row.passed };
}

/**
 * Set when a live (not revoked) key expires, `now` by default: from then on it is refused as an
 * unknown key and its holder is told it expired. The router is notified (api_keys trigger). Null
 * when there is no such live key.
 */
export async function setApiKeyExpiry(
  db: Database,
  keyId: string,
  expiry: KeyExpiry = 'now',
): Promise<KeyExpiryChange | null> {
  const rows = await db
    .update(apiKeys)
    .set({ expiresAt: instantOf(expiry) })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.isDeleted, false)))
    .returning({ id: apiKeys.id, expiresAt: apiKeys.expiresAt, expired: sql<boolean>`${apiKeys.expiresAt} <= now()` });
  const [row] = rows;
  if (!row?.expiresAt) return null;
  return { id: row.id, expiresAt: row.expiresAt, expired: row.expired };
}

import { Decimal } from 'decimal.js';
import { type SQL, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import { deniedPurpose, isPossibleAlias, userReachesAlias } from './access-sql.ts';
import { hashSecret } from './api-keys.ts';

/** Everything needed to explain a router's 403 for one key and model, in the seed's check order. */
export interface DenialFacts {
  /** Owner of the presented key. */
  userId: string;
  /** The presented key's purpose. */
  purpose: string;
  /** Whether the owner reaches the alias; null when no alias was given. */
  hasModelAccess: boolean | null;
  /** The key's purpose when a deny rule on the alias matches it; null otherwise or without alias. */
  deniedPurpose: string | null;
  /** The owner's balance (0 without ledger). */
  balance: Decimal;
}

interface DenialRow {
  user_id: string;
  purpose: string;
  has_access: boolean | null;
  denied_purpose: string | null;
  balance: string;
}

/**
 * Diagnose a denial in one SQL statement (one round trip). Returns null for an unknown or
 * deleted key: such a caller is told nothing about accounts, models or balances.
 */
export async function explainDenial(db: Database, secret: string, alias: string | null): Promise<DenialFacts | null> {
  // An alias no row can hold is unknown: no access, no rule, but the key and balance still count.
  const impossible = alias !== null && !isPossibleAlias(alias);
  const userId = sql`k.user_id`;
  const aliasParam = sql`${alias}::text`;
  const access: SQL =
    alias === null ? sql`null::boolean` : impossible ? sql`false` : userReachesAlias(userId, aliasParam);
  const denied: SQL = alias === null || impossible ? sql`null::text` : deniedPurpose(sql`k.purpose`, aliasParam);
  const result = await db.execute(sql`
    select k.user_id, k.purpose,
           ${access} as has_access,
           ${denied} as denied_purpose,
           coalesce((select c.balance from user_balance_checkpoints c where c.user_id = k.user_id), 0)::text as balance
    from api_keys k
    where k.secret_hash = ${hashSecret(secret)} and k.is_deleted = false
    limit 1`);
  const [row] = rowsOf<DenialRow>(result);
  if (!row) return null;
  return {
    userId: row.user_id,
    purpose: row.purpose,
    hasModelAccess: row.has_access,
    deniedPurpose: row.denied_purpose,
    balance: new Decimal(row.balance),
  };
}

import { Decimal } from 'decimal.js';
import { type SQL, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import { deniedPurpose, isPossibleAlias, userReachesAlias } from './access-sql.ts';
import { hashSecret } from './api-keys.ts';
import { preparedStatement } from './prepared-statement.ts';

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

const HASH = sql.placeholder('hash');
const ALIAS = sql`${sql.placeholder('alias')}::text`;

/** The diagnosis, with the two model checks as given (per alias shape). */
function explainDenialSql(access: SQL, denied: SQL): SQL {
  return sql`
    select k.user_id, k.purpose,
           ${access} as has_access,
           ${denied} as denied_purpose,
           coalesce((select c.balance from user_balance_checkpoints c where c.user_id = k.user_id), 0)::text as balance
    from api_keys k
    where k.secret_hash = ${HASH} and k.is_deleted = false
    limit 1`;
}

// One statement per shape of alias, its text rendered once: none given, one no row can hold (no
// access, no rule, and the alias itself never sent), and a real one.
const STATEMENTS = {
  none: preparedStatement<{ hash: string }>(() => explainDenialSql(sql`null::boolean`, sql`null::text`), {
    name: 'explain_denial_none',
  }),
  impossible: preparedStatement<{ hash: string }>(() => explainDenialSql(sql`false`, sql`null::text`), {
    name: 'explain_denial_impossible',
  }),
  alias: preparedStatement<{ hash: string; alias: string }>(
    () => explainDenialSql(userReachesAlias(sql`k.user_id`, ALIAS), deniedPurpose(sql`k.purpose`, ALIAS)),
    { name: 'explain_denial_alias' },
  ),
};

/**
 * Diagnose a denial in one SQL statement (one round trip). Returns null for an unknown or
 * deleted key: such a caller is told nothing about accounts, models or balances.
 */
export async function explainDenial(db: Database, secret: string, alias: string | null): Promise<DenialFacts | null> {
  const hash = hashSecret(secret);
  const result =
    alias === null
      ? await STATEMENTS.none(db, { hash })
      : !isPossibleAlias(alias)
        ? await STATEMENTS.impossible(db, { hash })
        : await STATEMENTS.alias(db, { hash, alias });
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

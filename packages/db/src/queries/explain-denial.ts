import { Decimal } from 'decimal.js';
import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import type { SpendLimitInterval } from '../schema/index.ts';
import { isStorableText } from './access-sql.ts';
import { hashSecret } from './api-keys.ts';
import { positionalStatement } from './positional.ts';

/** The spending cap of a key's cap scope (the key itself, or its parent for a child key). */
export interface SpendCapFacts {
  /** The scope root: the capped key (the presented key, or its parent). */
  rootKeyId: string;
  limit: Decimal;
  /** Null: a one-off cap, whose window never ends. */
  interval: SpendLimitInterval | null;
  /** Spend recorded in the checkpoint's window (0 without a checkpoint). */
  windowSpend: Decimal;
  /** Whether that window is the current one (false without a checkpoint). */
  windowCurrent: boolean;
  /** The next window boundary, RFC 3339 in whole seconds (`2026-11-28T00:00:00Z`); null for a one-off cap. */
  resetsAt: string | null;
}

/** Everything needed to explain a router's 403 for one key and model, in one round trip. */
export interface DenialFacts {
  /** The presented key's id. */
  keyId: string;
  /** Owner of the presented key. */
  userId: string;
  /** The presented key's purpose. */
  purpose: string;
  /** Whether the key belongs to the system user (the nil uuid), which the router always admits. */
  isSystemKey: boolean;
  /** Whether the owner reaches the alias; null when no alias was given. */
  hasModelAccess: boolean | null;
  /** The purpose of a deny rule on the alias matching the rule purpose (default: the key's); null otherwise or without alias. */
  deniedPurpose: string | null;
  /** The owner's balance (0 without ledger). */
  balance: Decimal;
  /** The owner's `ALLOW_NEGATIVE_BALANCE` flag is enabled: the balance never stops them. */
  balanceExempt: boolean;
  /** No active tariff of the alias has a price above 0; null when no alias was given. */
  modelIsFree: boolean | null;
  /** The cap of the key's scope; null when the scope is uncapped. */
  spendCap: SpendCapFacts | null;
}

export interface ExplainDenialOptions {
  /**
   * The purpose whose deny rules apply, e.g. `batch` for a request that will run on the owner's
   * batch key whatever the presented key's purpose.
   * @default the presented key's purpose
   */
  rulePurpose?: string;
}

interface DenialRow {
  key_id: string;
  user_id: string;
  purpose: string;
  has_access: boolean | null;
  denied_purpose: string | null;
  balance: string;
  balance_exempt: boolean;
  model_free: boolean | null;
  root_id: string;
  spend_limit: string | null;
  spend_limit_interval: SpendLimitInterval | null;
  window_spend: string;
  window_current: boolean;
  resets_at: string | null;
}

/*
 * One statement answers every check: `explain_denial` (migration 0004) holds the query, so each
 * connection plans it once. $1: the key's SHA-256 hex digest; $2: the alias, or null when the
 * request named none; $3: the purpose whose deny rules apply, or null for the key's own. Every
 * fact is an indexed lookup by a unique key, so the cost does not grow with the ledger.
 */
const EXPLAIN_DENIAL_SQL = 'select * from explain_denial($1::text, $2::text, $3::text)';

const explainDenialStatement = positionalStatement(EXPLAIN_DENIAL_SQL);

/**
 * Diagnose a denial in one SQL statement (one round trip). Returns null for an unknown or
 * deleted key: such a caller is told nothing about accounts, models or balances.
 */
export async function explainDenial(
  db: Database,
  secret: string,
  alias: string | null,
  options: ExplainDenialOptions = {},
): Promise<DenialFacts | null> {
  // An alias no row can hold is unknown: no access, no rule, but the key, balance and cap still
  // count. It is never sent (Postgres text cannot carry U+0000).
  const impossible = alias !== null && !isStorableText(alias);
  const { rulePurpose = null } = options;
  const noRule = impossible || (rulePurpose !== null && !isStorableText(rulePurpose));
  const result = await explainDenialStatement(db, [
    hashSecret(secret),
    impossible ? '' : alias,
    noRule ? null : rulePurpose,
  ]);
  const [row] = rowsOf<DenialRow>(result);
  if (!row) return null;
  return {
    keyId: row.key_id,
    userId: row.user_id,
    purpose: row.purpose,
    isSystemKey: row.user_id === '00000000-0000-0000-0000-000000000000',
    hasModelAccess: impossible ? false : row.has_access,
    deniedPurpose: noRule ? null : row.denied_purpose,
    balance: new Decimal(row.balance),
    balanceExempt: row.balance_exempt,
    modelIsFree: impossible ? true : row.model_free,
    spendCap:
      row.spend_limit === null
        ? null
        : {
            rootKeyId: row.root_id,
            limit: new Decimal(row.spend_limit),
            interval: row.spend_limit_interval,
            windowSpend: new Decimal(row.window_spend),
            windowCurrent: row.window_current,
            resetsAt: row.resets_at,
          },
  };
}

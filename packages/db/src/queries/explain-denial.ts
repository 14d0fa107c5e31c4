import { type SQL, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import { Decimal } from '../money.ts';
import type { SpendLimitInterval } from '../schema/index.ts';
import { isPossibleAlias, isStorableText } from './access-sql.ts';
import { hashSecret } from './api-keys.ts';
import { preparedStatement } from './prepared-statement.ts';

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
  /** The presented key's name (shown to its holder only, in the expiry message). */
  keyName: string;
  /** The presented key's purpose. */
  purpose: string;
  /** The database clock has reached the key's `expires_at`: the key is known but not live. */
  expired: boolean;
  /** The key's `expires_at`, RFC 3339 in whole seconds (`2026-11-28T00:00:00Z`); null: never expires. */
  expiresAt: string | null;
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
  key_name: string;
  purpose: string;
  expired: boolean;
  expires_at: string | null;
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

const HASH = sql`${sql.placeholder('hash')}::text`;
const RULE_PURPOSE = sql`${sql.placeholder('rulePurpose')}::text`;

/*
 * The diagnosis, one statement answering every check, for one shape of alias (`alias`: the alias
 * placeholder, or a constant when no alias is sent). `explain_denial` (migration 0006) holds the
 * query, so each connection plans it once; every fact in it is an indexed lookup by a unique key,
 * so the cost does not grow with the ledger. `rulePurpose` null means the key's own purpose.
 */
function explainDenialSql(alias: SQL): SQL {
  // The row as one JSON text column: every fact is text or boolean already, and one column costs
  // the client far less to decode than fourteen.
  return sql`select row_to_json(f)::text as facts from explain_denial(${HASH}, ${alias}, ${RULE_PURPOSE}) f`;
}

/** One `explain_denial` row, read as JSON text (`row_to_json(f)::text`), as facts. */
export function parseDenialFacts(json: string): DenialFacts {
  const row = JSON.parse(json) as DenialRow;
  return {
    keyId: row.key_id,
    userId: row.user_id,
    keyName: row.key_name,
    purpose: row.purpose,
    expired: row.expired,
    expiresAt: row.expires_at,
    isSystemKey: row.user_id === '00000000-0000-0000-0000-000000000000',
    hasModelAccess: row.has_access,
    deniedPurpose: row.denied_purpose,
    balance: new Decimal(row.balance),
    balanceExempt: row.balance_exempt,
    modelIsFree: row.model_free,
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

type Values = { hash: string; rulePurpose: string | null };

// One statement per shape of alias, its text rendered once: none given, one no row can hold (its
// facts are answered below without sending it: no access, no rule, free), and a real one.
const STATEMENTS = {
  none: preparedStatement<Values>(() => explainDenialSql(sql`null::text`), { name: 'explain_denial_none' }),
  impossible: preparedStatement<Values>(() => explainDenialSql(sql`''::text`), {
    name: 'explain_denial_impossible',
  }),
  alias: preparedStatement<Values & { alias: string }>(() => explainDenialSql(sql`${sql.placeholder('alias')}::text`), {
    name: 'explain_denial_alias',
  }),
};

/**
 * Diagnose a denial in one SQL statement (one round trip). Returns null for a key that is not
 * known (unknown, deleted, or of a deleted owner: `known_api_key` in migration 0006): such a
 * caller is told nothing about accounts, models or balances. An expired key is returned with
 * `expired` set; it is live only while that is false.
 */
export async function explainDenial(
  db: Database,
  secret: string,
  alias: string | null,
  options: ExplainDenialOptions = {},
): Promise<DenialFacts | null> {
  // An alias no row can hold (U+0000, or over MAX_ALIAS_BYTES) is unknown: no access, no rule,
  // but the key, balance and cap still count. It is never sent.
  const impossible = alias !== null && !isPossibleAlias(alias);
  const { rulePurpose = null } = options;
  const noRule = impossible || (rulePurpose !== null && !isStorableText(rulePurpose));
  const values = { hash: hashSecret(secret), rulePurpose: noRule ? null : rulePurpose };
  const result =
    alias === null
      ? await STATEMENTS.none(db, values)
      : impossible
        ? await STATEMENTS.impossible(db, values)
        : await STATEMENTS.alias(db, { ...values, alias });
  const [found] = rowsOf<{ facts: string }>(result);
  if (!found) return null;
  const facts = parseDenialFacts(found.facts);
  if (!impossible && !noRule) return facts;
  return {
    ...facts,
    hasModelAccess: impossible ? false : facts.hasModelAccess,
    deniedPurpose: null,
    modelIsFree: impossible ? true : facts.modelIsFree,
  };
}

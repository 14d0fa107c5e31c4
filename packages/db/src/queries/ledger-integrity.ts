import { sql } from 'drizzle-orm';
import { type Database, rowsOf } from '../database.ts';
import { Decimal } from '../money.ts';

/** A user whose checkpoint does not hold the signed sum of their ledger. */
export interface LedgerDrift {
  userId: string;
  /** What balance reads return: the checkpoint, or 0 when the user has none. */
  checkpointBalance: Decimal;
  /** Whether a checkpoint row exists at all. */
  hasCheckpoint: boolean;
  /** The signed sum of the user's ledger rows (0 without any). */
  ledgerBalance: Decimal;
  /** `ledgerBalance − checkpointBalance`: what the checkpoint misses. */
  difference: Decimal;
}

/**
 * A cap scope whose spend checkpoint does not hold its ledger sums. The lifetime total is every
 * usage row billed to the scope's keys; the window (capped scopes only) is those dated at or
 * after the checkpoint's `windowStartedAt`.
 */
export interface SpendDrift {
  /** The scope's root key. */
  apiKeyId: string;
  hasCheckpoint: boolean;
  /** Whether the root carries a cap (only then is the window kept, and compared). */
  capped: boolean;
  windowStartedAt: Date | null;
  checkpointTotal: Decimal;
  ledgerTotal: Decimal;
  /** `ledgerTotal − checkpointTotal`. */
  totalDifference: Decimal;
  /** Null when the window is not compared (uncapped, or no checkpoint). */
  checkpointWindow: Decimal | null;
  ledgerWindow: Decimal | null;
  /** `ledgerWindow − checkpointWindow`. */
  windowDifference: Decimal | null;
}

export interface LedgerCheck {
  /** True when every balance and spend checkpoint equals its ledger sums. */
  ok: boolean;
  /** Users with a checkpoint, ledger rows, or both. */
  usersChecked: number;
  /** The users that differ, by user id. */
  drift: LedgerDrift[];
  /** Cap scopes with a spend checkpoint, usage, or both. */
  scopesChecked: number;
  /** The cap scopes that differ, by root key id. */
  spendDrift: SpendDrift[];
  /** The newest ledger row the check saw (null for an empty ledger). */
  ledgerSeq: number | null;
}

export interface LedgerRebuild {
  /** The row recording this rebuild in `user_balance_rebuilds`. */
  id: number;
  rebuiltAt: Date;
  /** The database role that ran it. */
  rebuiltBy: string;
  /** The drift the rebuild found, and repaired, under its lock. */
  repaired: LedgerDrift[];
  /** The spend drift the rebuild found, and repaired, under its lock. */
  spendRepaired: SpendDrift[];
  /** Spend checkpoints after the rebuild, and how many it inserted or changed. */
  spendCheckpoints: number;
  spendCheckpointsRewritten: number;
  /** Checkpoints after the rebuild. */
  checkpoints: number;
  /** Checkpoints inserted, changed (balance or seq) or removed. */
  checkpointsRewritten: number;
  ledgerSeq: number | null;
}

interface CheckRow {
  users: number;
  scopes: number;
  ledger_seq: string | null;
  drift: { user_id: string; checkpoint: string | null; ledger: string }[];
  spend_drift: {
    api_key_id: string;
    has_checkpoint: boolean;
    capped: boolean;
    window_started_at: string | null;
    checkpoint_total: string;
    ledger_total: string;
    checkpoint_window: string | null;
    ledger_window: string | null;
  }[];
}

function spendDriftOf(d: CheckRow['spend_drift'][number]): SpendDrift {
  const checkpointTotal = new Decimal(d.checkpoint_total);
  const ledgerTotal = new Decimal(d.ledger_total);
  const compared = d.ledger_window !== null && d.checkpoint_window !== null;
  const checkpointWindow = compared ? new Decimal(d.checkpoint_window ?? 0) : null;
  const ledgerWindow = compared ? new Decimal(d.ledger_window ?? 0) : null;
  return {
    apiKeyId: d.api_key_id,
    hasCheckpoint: d.has_checkpoint,
    capped: d.capped,
    windowStartedAt: d.window_started_at === null ? null : new Date(d.window_started_at),
    checkpointTotal,
    ledgerTotal,
    totalDifference: ledgerTotal.minus(checkpointTotal),
    checkpointWindow,
    ledgerWindow,
    windowDifference: ledgerWindow && checkpointWindow ? ledgerWindow.minus(checkpointWindow) : null,
  };
}

/**
 * Compare every balance checkpoint with the signed sum of its user's ledger, and every spend
 * checkpoint with its scope's usage (`api_key_spend_drift()`, which the rebuild reads too), in one statement
 * (one snapshot: a checkpoint and its ledger rows are always written in the same transaction,
 * so concurrent writers cause no false drift). Reads the whole ledger: an audit, not a request path.
 *
 * @example
 * const check = await checkLedger(db);
 * if (!check.ok) for (const d of check.drift) console.log(d.userId, d.difference.toFixed());
 */
export async function checkLedger(db: Database): Promise<LedgerCheck> {
  const result = await db.execute(sql`
    with sums as (
      select user_id,
             sum(case when transaction_type in ('purchase', 'admin_grant') then amount else -amount end) as balance
      from credits_transactions
      group by user_id
    ), joined as (
      select coalesce(s.user_id, c.user_id) as user_id, c.balance as checkpoint, coalesce(s.balance, 0) as ledger
      from sums s full join user_balance_checkpoints c on c.user_id = s.user_id
    )
    select count(*)::int as users,
           (select count(*)::int from (
              select api_key_id from api_key_spend_checkpoints
              union
              select coalesce(k.parent_api_key_id, k.id)
              from credits_transactions t join api_keys k on k.id = t.api_key_id
              where t.transaction_type = 'usage' and t.user_id <> '00000000-0000-0000-0000-000000000000'
            ) s) as scopes,
           (select coalesce(jsonb_agg(jsonb_build_object(
                      'api_key_id', d.api_key_id, 'has_checkpoint', d.has_checkpoint, 'capped', d.capped,
                      'window_started_at', d.window_started_at, 'checkpoint_total', d.checkpoint_total::text,
                      'ledger_total', d.ledger_total::text, 'checkpoint_window', d.checkpoint_window::text,
                      'ledger_window', d.ledger_window::text) order by d.api_key_id), '[]'::jsonb)
            from api_key_spend_drift() d) as spend_drift,
           (select max(seq) from credits_transactions)::text as ledger_seq,
           coalesce(jsonb_agg(jsonb_build_object('user_id', user_id, 'checkpoint', checkpoint::text, 'ledger', ledger::text)
                              order by user_id)
                    filter (where coalesce(checkpoint, 0) <> ledger), '[]'::jsonb) as drift
    from joined`);
  const [row] = rowsOf<CheckRow>(result);
  if (!row) throw new Error('checkLedger: the check returned no row');
  const drift = row.drift.map((d): LedgerDrift => {
    const checkpointBalance = new Decimal(d.checkpoint ?? 0);
    const ledgerBalance = new Decimal(d.ledger);
    return {
      userId: d.user_id,
      checkpointBalance,
      hasCheckpoint: d.checkpoint !== null,
      ledgerBalance,
      difference: ledgerBalance.minus(checkpointBalance),
    };
  });
  const spendDrift = row.spend_drift.map(spendDriftOf);
  return {
    ok: drift.length === 0 && spendDrift.length === 0,
    usersChecked: row.users,
    drift,
    scopesChecked: row.scopes,
    spendDrift,
    ledgerSeq: row.ledger_seq === null ? null : Number(row.ledger_seq),
  };
}

interface RebuildRow {
  id: string;
  rebuilt_at: Date | string;
  rebuilt_by: string;
  checkpoints: number;
  checkpoints_rewritten: number;
  spend_checkpoints: number;
  spend_checkpoints_rewritten: number;
  ledger_seq: string | null;
}

/**
 * Recompute every balance and spend checkpoint from the ledger (the trigger of a
 * `user_balance_rebuilds` row, which the application's role may insert: it writes nothing but
 * what the ledger says), in one transaction that first locks the ledger
 * against inserts (those in flight finish first, new ones wait until the rebuild commits), so no
 * concurrent write is lost or counted twice. Recorded in `user_balance_rebuilds`.
 *
 * @example
 * const rebuild = await rebuildCheckpoints(db);
 * console.log(`${rebuild.repaired.length} balances repaired`);
 */
export async function rebuildCheckpoints(db: Database): Promise<LedgerRebuild> {
  // Read committed whatever the server's default: each statement must see the rows committed
  // before the lock was granted.
  return db.transaction(
    async (tx) => {
      // The rebuild's own lock, taken first so the drift read below is the drift it repairs.
      await tx.execute(sql`select lock_ledger_for_rebuild()`);
      const before = await checkLedger(tx);
      const [row] = rowsOf<RebuildRow>(
        await tx.execute(sql`insert into user_balance_rebuilds default values
                             returning id::text, rebuilt_at, rebuilt_by, checkpoints, checkpoints_rewritten,
                                       spend_checkpoints, spend_checkpoints_rewritten, ledger_seq::text`),
      );
      if (!row) throw new Error('rebuildCheckpoints: the rebuild returned no row');
      return {
        id: Number(row.id),
        rebuiltAt: new Date(row.rebuilt_at),
        rebuiltBy: row.rebuilt_by,
        repaired: before.drift,
        spendRepaired: before.spendDrift,
        checkpoints: row.checkpoints,
        checkpointsRewritten: row.checkpoints_rewritten,
        spendCheckpoints: row.spend_checkpoints,
        spendCheckpointsRewritten: row.spend_checkpoints_rewritten,
        ledgerSeq: row.ledger_seq === null ? null : Number(row.ledger_seq),
      };
    },
    { isolationLevel: 'read committed' },
  );
}

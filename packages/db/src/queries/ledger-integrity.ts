import { Decimal } from 'decimal.js';
import { sql } from 'drizzle-orm';
import { type Database, rowsOf } from '../database.ts';

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

export interface LedgerCheck {
  /** True when every checkpoint equals its ledger sum. */
  ok: boolean;
  /** Users with a checkpoint, ledger rows, or both. */
  usersChecked: number;
  /** The users that differ, by user id. */
  drift: LedgerDrift[];
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
  /** Checkpoints after the rebuild. */
  checkpoints: number;
  /** Checkpoints inserted, changed (balance or seq) or removed. */
  checkpointsRewritten: number;
  ledgerSeq: number | null;
}

interface CheckRow {
  users: number;
  ledger_seq: string | null;
  drift: { user_id: string; checkpoint: string | null; ledger: string }[];
}

/**
 * Compare every balance checkpoint with the signed sum of its user's ledger, in one statement
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
  return {
    ok: drift.length === 0,
    usersChecked: row.users,
    drift,
    ledgerSeq: row.ledger_seq === null ? null : Number(row.ledger_seq),
  };
}

interface RebuildRow {
  id: string;
  rebuilt_at: Date | string;
  rebuilt_by: string;
  checkpoints: number;
  checkpoints_rewritten: number;
  ledger_seq: string | null;
}

/**
 * Recompute every checkpoint from the ledger, in one transaction that first locks the ledger
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
      await tx.execute(sql`lock table credits_transactions in share row exclusive mode`);
      const before = await checkLedger(tx);
      const [row] = rowsOf<RebuildRow>(
        await tx.execute(sql`insert into user_balance_rebuilds default values
                             returning id::text, rebuilt_at, rebuilt_by, checkpoints, checkpoints_rewritten, ledger_seq::text`),
      );
      if (!row) throw new Error('rebuildCheckpoints: the rebuild returned no row');
      return {
        id: Number(row.id),
        rebuiltAt: new Date(row.rebuilt_at),
        rebuiltBy: row.rebuilt_by,
        repaired: before.drift,
        checkpoints: row.checkpoints,
        checkpointsRewritten: row.checkpoints_rewritten,
        ledgerSeq: row.ledger_seq === null ? null : Number(row.ledger_seq),
      };
    },
    { isolationLevel: 'read committed' },
  );
}

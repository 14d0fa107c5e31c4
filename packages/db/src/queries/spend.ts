import type { Decimal } from 'decimal.js';
import { eq, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import { InvalidAmountError, SourceIdConflictError, UnknownApiKeyError } from '../errors.ts';
import { apiKeySpendCheckpoints, creditsTransactions } from '../schema/index.ts';
import type { SpendCheckpoint } from '../types.ts';
import { MONEY_SCALE, type RecordedTransaction } from './credits.ts';

export interface RecordUsageInput {
  /** The key that was billed (a child key's spend counts toward its parent's cap). */
  apiKeyId: string;
  /** What the usage cost; positive, at most 15 decimal places. */
  amount: Decimal;
  /** Idempotency key (e.g. the request id): a replay is not charged twice. */
  sourceId: string;
  description?: string | null;
  /**
   * When the usage happened: it counts in the window when dated at or after the window's start;
   * at most 5 minutes ahead of the database clock. @default the insert's clock
   */
  at?: Date;
}

/**
 * Charge usage against a key: one `usage` ledger row for the key's owner, in one statement. The
 * database folds it into the owner's balance and into the scope's spend checkpoint (the
 * lifetime total; when capped, the window too, rolling it at the first usage after a boundary)
 * in that same statement. A row dated more than 5 minutes ahead of the database clock is
 * refused (SQLSTATE 23514) and nothing is written. A replayed `sourceId` charges nothing and returns the first row.
 */
export async function recordUsage(db: Database, input: RecordUsageInput): Promise<RecordedTransaction> {
  const { amount } = input;
  if (!amount.isFinite() || amount.lte(0) || amount.decimalPlaces() > MONEY_SCALE) {
    throw new InvalidAmountError(`usage must be positive with at most ${MONEY_SCALE} decimal places, got ${amount}`);
  }
  const at = input.at ?? null;
  const result = await db.execute(sql`
    insert into credits_transactions (user_id, transaction_type, amount, source_id, description, api_key_id, created_at)
    select k.user_id, 'usage', ${amount.toFixed()}::numeric, ${input.sourceId}, ${input.description ?? null}, k.id,
           coalesce(${at?.toISOString() ?? null}::timestamptz, clock_timestamp())
    from api_keys k
    where k.id = ${input.apiKeyId}::uuid
    on conflict (source_id) do nothing
    returning id`);
  const created = rowsOf<{ id: string }>(result).length > 0;
  const [row] = await db
    .select()
    .from(creditsTransactions)
    .where(eq(creditsTransactions.sourceId, input.sourceId))
    .limit(1);
  if (!row) throw new UnknownApiKeyError(input.apiKeyId);
  const same = row.transactionType === 'usage' && row.apiKeyId === input.apiKeyId && row.amount.eq(amount);
  if (!created && !same) throw new SourceIdConflictError(input.sourceId, row);
  return { transaction: row, created };
}

/** The spend checkpoint of a scope (by its root key), or null before any usage or cap. */
export async function getSpendCheckpoint(db: Database, rootKeyId: string): Promise<SpendCheckpoint | null> {
  const [row] = await db.select().from(apiKeySpendCheckpoints).where(eq(apiKeySpendCheckpoints.apiKeyId, rootKeyId));
  return row ?? null;
}

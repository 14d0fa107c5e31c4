import { desc, eq, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import { InvalidAmountError, SourceIdConflictError } from '../errors.ts';
import { Decimal } from '../money.ts';
import { CREDIT_TYPES, creditsTransactions, type TransactionType, userBalanceCheckpoints } from '../schema/index.ts';
import type { CreditTransaction } from '../types.ts';

/** Fractional digits the ledger stores (`numeric(38, 15)`); more would be rounded, so they are refused. */
export const MONEY_SCALE = 15;
const MAX_INTEGER_DIGITS = 38 - MONEY_SCALE;

export interface CreateTransactionInput {
  userId: string;
  type: TransactionType;
  /** Always positive; the type gives the sign. */
  amount: Decimal;
  /** Idempotency key: a replay with the same content returns the first row. */
  sourceId: string;
  description?: string | null;
  fusilladeBatchId?: string | null;
  apiKeyId?: string | null;
}

export interface RecordedTransaction {
  transaction: CreditTransaction;
  /** False when `sourceId` was already recorded and the existing row is returned. */
  created: boolean;
}

/** Signed effect of a ledger row on its user's balance. */
export function signedAmount(type: TransactionType, amount: Decimal): Decimal {
  return CREDIT_TYPES.includes(type) ? amount : amount.negated();
}

function assertStorableAmount(amount: Decimal): void {
  if (!amount.isFinite() || amount.lte(0)) {
    throw new InvalidAmountError(`amount must be a positive finite number, got ${amount.toString()}`);
  }
  if (amount.decimalPlaces() > MONEY_SCALE) {
    throw new InvalidAmountError(`amount has more than ${MONEY_SCALE} decimal places: ${amount.toFixed()}`);
  }
  if (amount.trunc().toFixed().length > MAX_INTEGER_DIGITS) {
    throw new InvalidAmountError(`amount has more than ${MAX_INTEGER_DIGITS} integer digits`);
  }
}

function sameContent(row: CreditTransaction, input: CreateTransactionInput): boolean {
  // Postgres returns a uuid in lower case whatever case it was given in.
  return row.userId === input.userId.toLowerCase() && row.transactionType === input.type && row.amount.eq(input.amount);
}

/**
 * Append a ledger row. The balance checkpoint is folded in by the database in the same statement.
 * A repeated `sourceId` never counts twice: with the same user, type and amount the existing row
 * comes back (`created: false`); with different content a `SourceIdConflictError` is thrown.
 */
export async function createTransaction(db: Database, input: CreateTransactionInput): Promise<RecordedTransaction> {
  assertStorableAmount(input.amount);
  const [inserted] = await db
    .insert(creditsTransactions)
    .values({
      userId: input.userId,
      transactionType: input.type,
      amount: input.amount,
      sourceId: input.sourceId,
      description: input.description ?? null,
      fusilladeBatchId: input.fusilladeBatchId ?? null,
      apiKeyId: input.apiKeyId ?? null,
    })
    // A concurrent insert of the same source_id makes this wait for that transaction's outcome.
    .onConflictDoNothing({ target: creditsTransactions.sourceId })
    .returning();
  if (inserted) return { transaction: inserted, created: true };

  const [existing] = await db
    .select()
    .from(creditsTransactions)
    .where(eq(creditsTransactions.sourceId, input.sourceId))
    .limit(1);
  if (!existing) throw new Error(`createTransaction: source_id ${input.sourceId} conflicted but no row holds it`);
  if (!sameContent(existing, input)) throw new SourceIdConflictError(input.sourceId, existing);
  return { transaction: existing, created: false };
}

/** A user's balance: one primary-key read of the checkpoint; 0 for a user with no ledger. */
export async function getUserBalance(db: Database, userId: string): Promise<Decimal> {
  const [row] = await db
    .select({ balance: userBalanceCheckpoints.balance })
    .from(userBalanceCheckpoints)
    .where(eq(userBalanceCheckpoints.userId, userId));
  return row?.balance ?? new Decimal(0);
}

/**
 * The balance recomputed from the whole ledger, for audits and tests: it must always equal
 * `getUserBalance`. Cost grows with the ledger; never on a request path.
 */
export async function sumLedger(db: Database, userId: string): Promise<Decimal> {
  const result = await db.execute(sql`
    select coalesce(sum(case when ${creditsTransactions.transactionType} in ('purchase', 'admin_grant')
                             then ${creditsTransactions.amount} else -${creditsTransactions.amount} end), 0)::text as total
    from ${creditsTransactions}
    where ${creditsTransactions.userId} = ${userId}`);
  const [row] = rowsOf<{ total: string }>(result);
  return new Decimal(row?.total ?? 0);
}

/** A user's ledger rows, newest first, at most `limit` of them. */
export async function listTransactions(db: Database, userId: string, limit = 50): Promise<CreditTransaction[]> {
  return db
    .select()
    .from(creditsTransactions)
    .where(eq(creditsTransactions.userId, userId))
    .orderBy(desc(creditsTransactions.seq))
    .limit(limit);
}

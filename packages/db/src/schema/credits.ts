import { sql } from 'drizzle-orm';
import { bigint, bigserial, check, index, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { money } from './columns.ts';
import { users } from './users.ts';

/** Ledger entry types; the first two add to a balance, the last two subtract. */
export const TRANSACTION_TYPES = ['purchase', 'admin_grant', 'admin_removal', 'usage'] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];
export const CREDIT_TYPES: readonly TransactionType[] = ['purchase', 'admin_grant'];

/**
 * The append-only ledger. UPDATE, DELETE and TRUNCATE are refused by triggers (see the
 * `ledger_rules` migration); `amount` is always positive and the sign comes from the type.
 */
export const creditsTransactions = pgTable(
  'credits_transactions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    seq: bigserial('seq', { mode: 'number' }).notNull().unique(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id),
    transactionType: text('transaction_type').$type<TransactionType>().notNull(),
    amount: money('amount').notNull(),
    // Idempotency key: a payment id, a grant id, a usage batch id.
    sourceId: text('source_id').notNull().unique(),
    description: text('description'),
    fusilladeBatchId: uuid('fusillade_batch_id'),
    apiKeyId: uuid('api_key_id'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().default(sql`clock_timestamp()`),
  },
  (t) => [
    check(
      'credits_transactions_transaction_type_check',
      sql`${t.transactionType} in ('purchase', 'admin_grant', 'admin_removal', 'usage')`,
    ),
    check('credits_transactions_amount_positive', sql`${t.amount} > 0`),
    // A user's history, newest first (statements, audits).
    index('idx_credits_transactions_user_seq').on(t.userId, t.seq.desc()),
    // A cap scope's usage from a date on (the window fold's recount, the spend check).
    index('idx_credits_transactions_api_key_created').on(t.apiKeyId, t.createdAt).where(sql`${t.apiKeyId} is not null`),
  ],
);

/**
 * One row per user with ledger entries: the exact signed sum of that user's ledger, kept by an
 * AFTER INSERT trigger on the ledger so that a balance read is one primary-key lookup.
 */
export const userBalanceCheckpoints = pgTable('user_balance_checkpoints', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  balance: money('balance').notNull().default(sql`0`),
  checkpointSeq: bigint('checkpoint_seq', { mode: 'number' }).notNull().default(0),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

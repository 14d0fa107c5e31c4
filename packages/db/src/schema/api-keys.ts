import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  boolean,
  check,
  index,
  integer,
  pgTable,
  real,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  varchar,
} from 'drizzle-orm/pg-core';
import { money } from './columns.ts';
import { users } from './users.ts';

/** Purposes a key can carry; dwctl's `ApiKeyPurpose`. */
export const API_KEY_PURPOSES = ['platform', 'realtime', 'batch', 'playground'] as const;
export type ApiKeyPurpose = (typeof API_KEY_PURPOSES)[number];

/** Purposes the router serves inference for; dwctl's `is_inference_purpose`. */
export const INFERENCE_PURPOSES: readonly string[] = ['realtime', 'batch', 'playground'];

/** How often a key's spending cap resets, on UTC calendar boundaries (weeks start on Monday). */
export const SPEND_LIMIT_INTERVALS = ['daily', 'weekly', 'monthly'] as const;
export type SpendLimitInterval = (typeof SPEND_LIMIT_INTERVALS)[number];

export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: varchar('name').notNull(),
    description: text('description'),
    // Lowercase hex SHA-256 of the whole key string; the plaintext is never stored.
    secretHash: varchar('secret_hash', { length: 64 }).notNull().unique(),
    purpose: varchar('purpose').$type<ApiKeyPurpose>().notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdBy: uuid('created_by')
      .notNull()
      .references(() => users.id),
    requestsPerSecond: real('requests_per_second'),
    burstSize: integer('burst_size'),
    hidden: boolean('hidden').notNull().default(false),
    isDeleted: boolean('is_deleted').notNull().default(false),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    lastUsed: timestamp('last_used', { withTimezone: true }),
    // The cap of the key's cap scope (this key and its children); null: uncapped. Same scale as
    // the ledger, so spend compared with it is never rounded.
    spendLimit: money('spend_limit'),
    // Null with a limit: a one-off cap that never resets.
    spendLimitInterval: text('spend_limit_interval').$type<SpendLimitInterval>(),
    // Set on a hidden child (the batch key of a capped key): its spend counts toward the parent.
    parentApiKeyId: uuid('parent_api_key_id').references((): AnyPgColumn => apiKeys.id),
    // From this instant on (by the database clock) the key is refused as if unknown and explained
    // as expired; null: never.
    expiresAt: timestamp('expires_at', { withTimezone: true }),
  },
  (t) => [
    check('api_keys_purpose_check', sql`${t.purpose} in ('platform', 'realtime', 'batch', 'playground')`),
    check('api_keys_secret_hash_hex', sql`${t.secretHash} ~ '^[0-9a-f]{64}$'`),
    // Listing a user's live keys (admin views, soft-delete cascades).
    index('idx_api_keys_user_id').on(t.userId).where(sql`${t.isDeleted} = false`),
    check('api_keys_spend_limit_positive', sql`${t.spendLimit} is null or ${t.spendLimit} > 0`),
    check(
      'api_keys_spend_limit_interval_valid',
      sql`${t.spendLimitInterval} is null or ${t.spendLimitInterval} in ('daily', 'weekly', 'monthly')`,
    ),
    check('api_keys_interval_requires_limit', sql`${t.spendLimitInterval} is null or ${t.spendLimit} is not null`),
    check('api_keys_children_carry_no_cap', sql`${t.parentApiKeyId} is null or ${t.spendLimit} is null`),
    // 'infinity' would read as never and '-infinity' has no instant to name in the denial.
    check('api_keys_expires_at_finite', sql`${t.expiresAt} is null or isfinite(${t.expiresAt})`),
    // One live child per (parent, purpose), as dwctl mints them.
    uniqueIndex('idx_api_keys_child_purpose')
      .on(t.parentApiKeyId, t.purpose)
      .where(sql`${t.hidden} = true and ${t.isDeleted} = false and ${t.parentApiKeyId} is not null`),
    // Capped roots are a small minority: the spend fold and the router's key set look them up here.
    index('idx_api_keys_capped_roots').on(t.id).where(sql`${t.spendLimit} is not null`),
  ],
);

/**
 * Running spend per cap scope, keyed by the scope root (`coalesce(parent_api_key_id, id)` of the
 * billed key). Folded from usage rows of the ledger by a trigger, in the statement that inserts
 * them; `window_spend` rolls over lazily, at the first usage after a calendar boundary.
 */
export const apiKeySpendCheckpoints = pgTable('api_key_spend_checkpoints', {
  apiKeyId: uuid('api_key_id')
    .primaryKey()
    .references(() => apiKeys.id, { onDelete: 'cascade' }),
  // Lifetime spend of the scope: every usage row billed to its keys.
  totalSpend: money('total_spend').notNull().default(sql`0`),
  // While capped: usage of the scope dated at or after `window_started_at`.
  windowSpend: money('window_spend').notNull().default(sql`0`),
  windowStartedAt: timestamp('window_started_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

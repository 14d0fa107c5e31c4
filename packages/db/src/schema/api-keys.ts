import { sql } from 'drizzle-orm';
import { boolean, check, index, integer, pgTable, real, text, timestamp, uuid, varchar } from 'drizzle-orm/pg-core';
import { users } from './users.ts';

/** Purposes a key can carry; dwctl's `ApiKeyPurpose`. */
export const API_KEY_PURPOSES = ['platform', 'realtime', 'batch', 'playground'] as const;
export type ApiKeyPurpose = (typeof API_KEY_PURPOSES)[number];

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
  },
  (t) => [
    check('api_keys_purpose_check', sql`${t.purpose} in ('platform', 'realtime', 'batch', 'playground')`),
    check('api_keys_secret_hash_hex', sql`${t.secretHash} ~ '^[0-9a-f]{64}$'`),
    // Listing a user's live keys (admin views, soft-delete cascades).
    index('idx_api_keys_user_id').on(t.userId).where(sql`${t.isDeleted} = false`),
  ],
);

import { boolean, pgTable, unique, uuid, varchar } from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';

export const users = pgTable('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  username: varchar('username').notNull().unique(),
  email: varchar('email').notNull(),
  displayName: varchar('display_name'),
  authSource: varchar('auth_source').notNull().default('native'),
  isAdmin: boolean('is_admin').notNull().default(false),
  isDeleted: boolean('is_deleted').notNull().default(false),
  ...timestamps,
});

/** A user whose `ALLOW_NEGATIVE_BALANCE` flag is enabled is never stopped by the balance. */
export const ALLOW_NEGATIVE_BALANCE = 'ALLOW_NEGATIVE_BALANCE';

/** Per-user switches; dwctl's `user_feature_flags`. */
export const userFeatureFlags = pgTable(
  'user_feature_flags',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    featureFlag: varchar('feature_flag').notNull(),
    enabled: boolean('enabled').notNull().default(true),
    ...timestamps,
  },
  // Also serves the diagnosis' lookup of one flag of one user.
  (t) => [unique('user_feature_flags_user_id_feature_flag_key').on(t.userId, t.featureFlag)],
);

import { boolean, pgTable, uuid, varchar } from 'drizzle-orm/pg-core';
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

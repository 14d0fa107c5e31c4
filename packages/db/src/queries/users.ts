import { and, eq } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { users } from '../schema/index.ts';
import type { NewUser, User } from '../types.ts';

/** Insert a user; `username` and `email` are the only required fields. */
export async function createUser(db: Database, input: NewUser): Promise<User> {
  const [row] = await db.insert(users).values(input).returning();
  if (!row) throw new Error('createUser: insert returned no row');
  return row;
}

/** Soft-delete a user (GDPR style: the row stays, flagged). Returns false if already deleted or absent. */
export async function softDeleteUser(db: Database, userId: string): Promise<boolean> {
  const rows = await db
    .update(users)
    .set({ isDeleted: true, updatedAt: new Date() })
    .where(and(eq(users.id, userId), eq(users.isDeleted, false)))
    .returning({ id: users.id });
  return rows.length > 0;
}

import { and, asc, eq, ne } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { NIL_UUID, users } from '../schema/index.ts';
import type { NewUser, User } from '../types.ts';

/** What `updateUser` may change. */
export type UserPatch = Partial<Pick<NewUser, 'email' | 'displayName'>>;

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

/** A user by username, deleted or not; null when none has it. */
export async function findUserByUsername(db: Database, username: string): Promise<User | null> {
  const [row] = await db.select().from(users).where(eq(users.username, username)).limit(1);
  return row ?? null;
}

/** Every user but the system user, oldest first; soft-deleted ones included (they carry the flag). */
export async function listUsers(db: Database): Promise<User[]> {
  return db.select().from(users).where(ne(users.id, NIL_UUID)).orderBy(asc(users.createdAt), asc(users.username));
}

/** Change a live user's email or display name; null when the user is deleted or absent. */
export async function updateUser(db: Database, userId: string, patch: UserPatch): Promise<User | null> {
  const [row] = await db
    .update(users)
    .set({ ...patch, updatedAt: new Date() })
    .where(and(eq(users.id, userId), eq(users.isDeleted, false)))
    .returning();
  return row ?? null;
}

/** Undo a soft delete. Returns false when the user is not deleted or absent. */
export async function restoreUser(db: Database, userId: string): Promise<boolean> {
  const rows = await db
    .update(users)
    .set({ isDeleted: false, updatedAt: new Date() })
    .where(and(eq(users.id, userId), eq(users.isDeleted, true)))
    .returning({ id: users.id });
  return rows.length > 0;
}

/** A user by id, deleted or not; null when there is none. */
export async function findUserById(db: Database, userId: string): Promise<User | null> {
  const [row] = await db.select().from(users).where(eq(users.id, userId)).limit(1);
  return row ?? null;
}

import { createHash, randomBytes } from 'node:crypto';
import { and, asc, eq, getTableColumns, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import { type ApiKeyPurpose, apiKeys } from '../schema/index.ts';
import type { ApiKey } from '../types.ts';
import { knownApiKey } from './access-sql.ts';

/** Lowercase hex SHA-256 of the whole key string: the only form in which a key is stored. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** A new key: `sk-` and 43 base64url characters (32 random bytes). */
export function generateApiKeySecret(): string {
  return `sk-${randomBytes(32).toString('base64url')}`;
}

export interface CreateApiKeyInput {
  userId: string;
  name: string;
  purpose: ApiKeyPurpose;
  createdBy: string;
  description?: string | null;
  hidden?: boolean;
  requestsPerSecond?: number | null;
  burstSize?: number | null;
  /** Makes this a child key of a cap scope: its spend counts toward that parent's cap. */
  parentApiKeyId?: string | null;
  /** From this instant on the key is refused and its holder told it expired; null: never. */
  expiresAt?: Date | null;
  /** Supply a known plaintext (demo seeds, imports); generated when absent. */
  secret?: string;
}

export interface CreatedApiKey {
  key: ApiKey;
  /** The plaintext key. Returned once, here; the database keeps only its digest. */
  secret: string;
}

export async function createApiKey(db: Database, input: CreateApiKeyInput): Promise<CreatedApiKey> {
  const { secret = generateApiKeySecret(), ...fields } = input;
  const [key] = await db
    .insert(apiKeys)
    .values({ ...fields, secretHash: hashSecret(secret) })
    .returning();
  if (!key) throw new Error('createApiKey: insert returned no row');
  return { key, secret };
}

/** The owner of a live key, or null for any other (unknown, deleted, of a deleted owner, expired). */
export async function getUserIdBySecret(db: Database, secret: string): Promise<string | null> {
  const result = await db.execute(
    sql`select k.user_id from ${knownApiKey(sql`${hashSecret(secret)}`)} k where not k.expired limit 1`,
  );
  return rowsOf<{ user_id: string }>(result)[0]?.user_id ?? null;
}

/** Soft-delete a key. Returns false when it was already deleted or does not exist. */
export async function deleteApiKey(db: Database, keyId: string): Promise<boolean> {
  const rows = await db
    .update(apiKeys)
    .set({ isDeleted: true })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.isDeleted, false)))
    .returning({ id: apiKeys.id });
  return rows.length > 0;
}

/** A user's keys, live and revoked, oldest first. Only metadata: the digest is not returned. */
export async function listApiKeys(db: Database, userId: string): Promise<Omit<ApiKey, 'secretHash'>[]> {
  const { secretHash: _digest, ...columns } = getTableColumns(apiKeys);
  return db.select(columns).from(apiKeys).where(eq(apiKeys.userId, userId)).orderBy(asc(apiKeys.createdAt));
}

/** A key by id, live or revoked, without its digest; null when there is none. */
export async function findApiKeyById(db: Database, keyId: string): Promise<Omit<ApiKey, 'secretHash'> | null> {
  const { secretHash: _digest, ...columns } = getTableColumns(apiKeys);
  const [row] = await db.select(columns).from(apiKeys).where(eq(apiKeys.id, keyId)).limit(1);
  return row ?? null;
}

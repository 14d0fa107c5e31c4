import { type SQL, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';

/**
 * Run statements as a superuser with no ordinary trigger firing (session_replication_role =
 * replica): how a test puts a checkpoint into a state the ledger would never leave it in, such
 * as a window that began days ago. Only a superuser can; the application's role cannot.
 */
export async function bypassLedgerGuard(db: Database, ...statements: SQL[]): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.execute(sql`set local session_replication_role = replica`);
    for (const statement of statements) await tx.execute(statement);
  });
}

/**
 * Start a cap scope's window at `at` behind the guard, with the window spend the ledger holds
 * from then on (as a restart at that instant would have left it).
 */
export async function startSpendWindowAt(db: Database, rootKeyId: string, at: Date): Promise<void> {
  await bypassLedgerGuard(
    db,
    sql`update api_key_spend_checkpoints
        set window_started_at = ${at.toISOString()}::timestamptz,
            window_spend = api_key_scope_spend(${rootKeyId}::uuid, ${at.toISOString()}::timestamptz)
        where api_key_id = ${rootKeyId}::uuid`,
  );
}

/**
 * Move a cap scope back in time by `interval` (e.g. '1 day') behind the guard: its usage rows'
 * dates and its window's start alike, as if all of it had happened that much earlier. How a test
 * reaches "the window rolled at midnight" without waiting for midnight.
 */
export async function shiftSpendBack(db: Database, rootKeyId: string, interval: string): Promise<void> {
  await bypassLedgerGuard(
    db,
    sql`update credits_transactions t set created_at = t.created_at - ${interval}::interval
        from api_keys k
        where k.id = t.api_key_id and (k.id = ${rootKeyId}::uuid or k.parent_api_key_id = ${rootKeyId}::uuid)`,
    sql`update api_key_spend_checkpoints set window_started_at = window_started_at - ${interval}::interval
        where api_key_id = ${rootKeyId}::uuid`,
  );
}

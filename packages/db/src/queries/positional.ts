import { type SQL, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';

const PLACEHOLDER = /\$(\d+)/g;

/**
 * A statement whose text is fixed once (at module load), with positional parameters `$1`, `$2`…,
 * bound per call. It goes through Drizzle, so a Drizzle logger sees it like any other statement.
 */
export function positionalStatement(text: string): (db: Database, params: readonly unknown[]) => Promise<unknown> {
  const parts = text.split(PLACEHOLDER);
  return (db, params) => {
    const chunks: SQL[] = parts.map((part, i) =>
      i % 2 === 0 ? sql.raw(part) : sql`${params[Number(part) - 1] ?? null}`,
    );
    return db.execute(sql.join(chunks));
  };
}

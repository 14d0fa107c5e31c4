import type { SQL } from 'drizzle-orm';
import { PgDialect, type PgPreparedQuery, type PreparedQueryConfig } from 'drizzle-orm/pg-core';
import type { Database } from '../database.ts';

const dialect = new PgDialect();

export interface PreparedStatementOptions {
  /**
   * The statement's name on a database that opted in with `useNamedStatements(db)`, where Postgres
   * then parses and plans it once per connection. Elsewhere the statement is unnamed (its text is
   * sent with every execution).
   */
  name?: string;
}

const NAMED = new WeakSet<Database>();

/**
 * Opt in to named prepared statements on `db`: each statement is parsed and planned once per
 * connection instead of at every execution. Not for a database reached through a transaction-mode
 * pooler (PgBouncer before 1.21), which hands each statement to any server connection, where the
 * name may not exist; the default, unnamed statements, work through one.
 *
 * @example
 * const { db } = await openDatabase(url);
 * useNamedStatements(db);
 */
export function useNamedStatements(db: Database): void {
  NAMED.add(db);
}

/**
 * A statement whose SQL text is rendered once, at its first execution, and then only run with new
 * values (`sql.placeholder(name)` in `build`'s SQL): no SQL building per call. The rendering is kept
 * per database, so one statement serves every database it is run against.
 *
 * @example
 * const byId = preparedStatement<{ id: string }>(() => sql`select * from users where id = ${sql.placeholder('id')}`);
 * const result = await byId(db, { id });
 */
export function preparedStatement<V extends Record<string, unknown>>(
  build: () => SQL,
  options: PreparedStatementOptions = {},
): (db: Database, values: V) => Promise<unknown> {
  let query: { sql: string; params: unknown[] } | undefined;
  const prepared = new WeakMap<Database, PgPreparedQuery<PreparedQueryConfig>>();
  return (db, values) => {
    query ??= dialect.sqlToQuery(build());
    let statement = prepared.get(db);
    if (!statement) {
      const name = NAMED.has(db) ? options.name : undefined;
      statement = db._.session.prepareQuery<PreparedQueryConfig>(query, undefined, name, false);
      prepared.set(db, statement);
    }
    return statement.execute(values);
  };
}

import type { SQL } from 'drizzle-orm';
import { PgDialect, type PgPreparedQuery, type PreparedQueryConfig } from 'drizzle-orm/pg-core';
import type { Database } from '../database.ts';

const dialect = new PgDialect();

export interface PreparedStatementOptions {
  /**
   * Give the statement a name, so that Postgres parses and plans it once per connection. Off by
   * default: a transaction-mode pooler (PgBouncer before 1.21) hands each statement to any server
   * connection, where a named statement may not exist.
   * @default undefined (an unnamed statement: the text is sent with every execution)
   */
  name?: string;
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
      statement = db._.session.prepareQuery<PreparedQueryConfig>(query, undefined, options.name, false);
      prepared.set(db, statement);
    }
    return statement.execute(values);
  };
}

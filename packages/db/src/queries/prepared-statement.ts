import { fillPlaceholders, type Logger, type SQL } from 'drizzle-orm';
import { PgDialect, type PgPreparedQuery, type PreparedQueryConfig } from 'drizzle-orm/pg-core';
import pg from 'pg';
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

/** What a prepared statement needs of a node-postgres pool (kept structural: no `pg` types in the API). */
export interface StatementPool {
  query(config: QueryConfig, values: unknown[]): Promise<unknown>;
}

interface QueryConfig {
  text: string;
  name?: string | undefined;
  types: TypeParsers;
}

/** A database opened on a node-postgres pool, with the logger it was given. */
interface DirectPool {
  pool: StatementPool;
  logger: Logger | undefined;
}

const DIRECT = new WeakMap<Database, DirectPool>();

// The types Drizzle's node-postgres driver leaves as text (timestamps, dates, intervals, and
// arrays of them and of numerics): a statement run directly must read back what it reads back.
const RAW_TYPE_IDS: ReadonlySet<number> = new Set([1082, 1114, 1184, 1186, 1115, 1182, 1185, 1187, 1231]);
const asText = (value: string) => value;
/** node-postgres's `types` option: how to read each column type. */
export interface TypeParsers {
  getTypeParser(typeId: number, format?: 'text' | 'binary'): (value: string) => unknown;
}
const DRIZZLE_TYPES: TypeParsers = {
  getTypeParser: (typeId, format) =>
    RAW_TYPE_IDS.has(typeId) ? asText : (pg.types.getTypeParser(typeId, format) as (value: string) => unknown),
};

/**
 * Run the prepared statements of `db` straight on its node-postgres pool: the same SQL text,
 * parameters, type parsing and logging as through Drizzle, without the layers Drizzle adds to
 * every call. Called by `openDatabase`; a transaction or any other database goes through Drizzle
 * as before.
 */
export function runPreparedStatementsOnPool(db: Database, pool: StatementPool, logger: Logger | undefined): void {
  DIRECT.set(db, { pool, logger });
}

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
  // node-postgres copies a query config per call, so one per statement serves every call.
  let configs: { named: QueryConfig; unnamed: QueryConfig } | undefined;
  return (db, values) => {
    query ??= dialect.sqlToQuery(build());
    const direct = DIRECT.get(db);
    if (direct) {
      configs ??= {
        named: { text: query.sql, name: options.name, types: DRIZZLE_TYPES },
        unnamed: { text: query.sql, types: DRIZZLE_TYPES },
      };
      const params = fillPlaceholders(query.params, values);
      direct.logger?.logQuery(query.sql, params);
      const named = NAMED.has(db) && options.name !== undefined;
      return direct.pool.query(named ? configs.named : configs.unnamed, params);
    }
    let statement = prepared.get(db);
    if (!statement) {
      const name = NAMED.has(db) ? options.name : undefined;
      statement = db._.session.prepareQuery<PreparedQueryConfig>(query, undefined, name, false);
      prepared.set(db, statement);
    }
    return statement.execute(values);
  };
}

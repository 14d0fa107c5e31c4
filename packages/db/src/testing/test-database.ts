import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'drizzle-orm';
import pg from 'pg';
import { type Database, MIGRATIONS_FOLDER, migrate, openDatabase } from '../database.ts';
import { sharedTestPostgres, type TestPostgres } from './test-postgres.ts';

export interface TestDatabase {
  db: Database;
  /** URL of this database alone, for code under test that opens its own pool. */
  url: string;
  name: string;
  /** Close the pool and drop the database. */
  close: () => Promise<void>;
}

export interface TestDatabaseOptions {
  /** Server to create the database on. @default the process-wide shared server */
  server?: TestPostgres;
  /** Pool size of the returned `db`. @default 10 */
  poolSize?: number;
  /** Drizzle logger for the returned `db`. */
  logger?: Logger;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** The template's name changes whenever a migration does, so a stale template is never cloned. */
function templateName(): string {
  const hash = createHash('sha256');
  for (const file of readdirSync(MIGRATIONS_FOLDER)
    .filter((f) => f.endsWith('.sql'))
    .sort()) {
    hash.update(file).update(readFileSync(join(MIGRATIONS_FOLDER, file)));
  }
  return `cl_template_${hash.digest('hex').slice(0, 12)}`;
}

const templates = new Map<string, Promise<string>>();

/** One statement on a connection of its own (database creation and the like, outside any pool). */
export async function adminQuery<T extends pg.QueryResultRow>(url: string, text: string, values?: unknown[]) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query<T>(text, values);
  } finally {
    await client.end();
  }
}

/** Create (once per server, under an advisory lock across processes) the migrated template. */
async function ensureTemplate(serverUrl: string): Promise<string> {
  const name = templateName();
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock(hashtext($1))', [name]);
    const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (exists.rowCount === 0) {
      const building = `${name}_building`;
      await client.query(`drop database if exists "${building}"`);
      await client.query(`create database "${building}"`);
      const opened = await openDatabase(withDatabase(serverUrl, building), { poolSize: 1 });
      try {
        await migrate(opened.db);
      } finally {
        await opened.close();
      }
      // Renamed only once complete, so a crash mid-migration never leaves a half-built template.
      await client.query(`alter database "${building}" rename to "${name}"`);
    }
    return name;
  } finally {
    await client.query('select pg_advisory_unlock(hashtext($1))', [name]).catch(() => {});
    await client.end();
  }
}

/**
 * A fresh, migrated database for one test: a clone of a migrated template (tens of milliseconds,
 * not a migration run each time).
 *
 * @example
 * const t = await createTestDatabase();
 * try { await createUser(t.db, { username: 'a', email: 'a@x' }); } finally { await t.close(); }
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const server = options.server ?? (await sharedTestPostgres());
  let template = templates.get(server.url);
  if (!template) {
    template = ensureTemplate(server.url);
    templates.set(server.url, template);
  }
  const templateDb = await template;
  const name = `cl_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(server.url, `create database "${name}" template "${templateDb}"`);
  const url = withDatabase(server.url, name);
  const opened = await openDatabase(url, {
    poolSize: options.poolSize ?? 10,
    ...(options.logger && { logger: options.logger }),
  });
  let closed = false;
  return {
    db: opened.db,
    url,
    name,
    close: async () => {
      if (closed) return;
      closed = true;
      await opened.close();
      await adminQuery(server.url, `drop database if exists "${name}" with (force)`);
    },
  };
}

/** A database with nothing in it, not even the schema. */
export interface EmptyTestDatabase {
  url: string;
  name: string;
  /** Drop the database (connections still open to it are cut). */
  close: () => Promise<void>;
}

/**
 * A database with nothing in it, not even the schema: what a new user, a migration run or an
 * installed package starts from.
 *
 * @example
 * const empty = await createEmptyTestDatabase();
 * try { await migrate((await openDatabase(empty.url)).db); } finally { await empty.close(); }
 */
export async function createEmptyTestDatabase(
  options: { server?: TestPostgres; prefix?: string } = {},
): Promise<EmptyTestDatabase> {
  const server = options.server ?? (await sharedTestPostgres());
  const name = `${options.prefix ?? 'cl_empty'}_${randomBytes(6).toString('hex')}`;
  await adminQuery(server.url, `create database "${name}"`);
  return {
    url: withDatabase(server.url, name),
    name,
    close: async () => {
      await adminQuery(server.url, `drop database if exists "${name}" with (force)`);
    },
  };
}

/** Run `fn` against a fresh test database, dropped afterwards whatever happens. */
export async function withTestDatabase<T>(
  fn: (db: Database, t: TestDatabase) => Promise<T>,
  options: TestDatabaseOptions = {},
): Promise<T> {
  const t = await createTestDatabase(options);
  try {
    return await fn(t.db, t);
  } finally {
    await t.close();
  }
}

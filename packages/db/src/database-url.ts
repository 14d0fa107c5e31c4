import path from 'node:path';

/** What a `DATABASE_URL` names: a Postgres server, or an embedded PGlite data directory. */
export type DatabaseTarget = { kind: 'postgres'; url: string } | { kind: 'embedded'; dataDir: string };

/** A `DATABASE_URL` that names no database; the message says what is accepted. */
export class DatabaseUrlError extends Error {
  override readonly name = 'DatabaseUrlError';
}

const EMBEDDED_PREFIX = 'pglite:';
const POSTGRES_PROTOCOLS = new Set(['postgres:', 'postgresql:']);
// Query parameters libpq and node-postgres read a secret from.
const SECRET_PARAMS = ['password', 'sslpassword', 'sslkey'];

export const DATABASE_URL_FORMS = 'a postgres:// or postgresql:// URL, or pglite:<directory> for an embedded database';

/**
 * The one reading of `DATABASE_URL`, shared by the gateway, `pnpm db:migrate` and
 * `drizzle.config.ts`: `postgres://…` / `postgresql://…` (checked with a URL parser) for a
 * server, `pglite:<directory>` (relative to `cwd`) for an embedded database. Anything else is a
 * `DatabaseUrlError` whose message never repeats the value (it may hold a password).
 *
 * @example
 * parseDatabaseUrl('pglite:./.data/pglite', '/repo'); // { kind: 'embedded', dataDir: '/repo/.data/pglite' }
 */
export function parseDatabaseUrl(value: string, cwd = process.cwd()): DatabaseTarget {
  const raw = value.trim();
  if (raw === '') throw new DatabaseUrlError(`DATABASE_URL is empty; it must be ${DATABASE_URL_FORMS}`);
  if (raw.toLowerCase().startsWith(EMBEDDED_PREFIX)) {
    const dir = raw.slice(EMBEDDED_PREFIX.length);
    if (dir === '') throw new DatabaseUrlError('DATABASE_URL pglite: needs a directory, e.g. pglite:./.data/pglite');
    return { kind: 'embedded', dataDir: path.resolve(cwd, dir) };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new DatabaseUrlError(`DATABASE_URL has no scheme; it must be ${DATABASE_URL_FORMS}`);
  }
  if (!POSTGRES_PROTOCOLS.has(`${scheme}:`)) {
    throw new DatabaseUrlError(`DATABASE_URL has the scheme "${scheme}:"; it must be ${DATABASE_URL_FORMS}`);
  }
  if (!URL.canParse(raw) || !raw.slice(scheme.length + 1).startsWith('//')) {
    throw new DatabaseUrlError(
      'DATABASE_URL is not a valid URL (postgres://user:password@host:port/database; percent-encode ' +
        'reserved characters in the user name and password)',
    );
  }
  return { kind: 'postgres', url: raw };
}

/**
 * A URL fit for a log line: the password of the user info and secret query parameters
 * (`password`, `sslpassword`, `sslkey`) become `***`. Parsed, not pattern-matched; a value that
 * does not parse is replaced whole, and a `pglite:` directory is returned as it is.
 *
 * @example
 * maskUrl('postgres://app:s3cret@db/app?password=x'); // 'postgres://app:***@db/app?password=***'
 */
export function maskUrl(value: string): string {
  if (value.toLowerCase().startsWith(EMBEDDED_PREFIX)) return value;
  if (!URL.canParse(value)) return '[unparseable URL]';
  const url = new URL(value);
  if (url.password !== '') url.password = '***';
  for (const name of [...url.searchParams.keys()]) {
    if (SECRET_PARAMS.includes(name.toLowerCase())) url.searchParams.set(name, '***');
  }
  return url.href;
}

/** Where a target lives, for a log line: the masked URL, or the embedded directory. */
export function describeTarget(target: DatabaseTarget): string {
  return target.kind === 'postgres' ? maskUrl(target.url) : `embedded PGlite at ${target.dataDir}`;
}

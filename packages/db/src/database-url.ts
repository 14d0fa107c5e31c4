import path from 'node:path';

/** What a `DATABASE_URL` names: a Postgres server, or an embedded PGlite data directory. */
export type DatabaseTarget = { kind: 'postgres'; url: string } | { kind: 'embedded'; dataDir: string };

/** A `DATABASE_URL` that names no database; the message says what is accepted. */
export class DatabaseUrlError extends Error {
  override readonly name = 'DatabaseUrlError';
}

export interface ParseDatabaseUrlOptions {
  /**
   * What the value is called in messages: the variable or flag it came from.
   * @default 'DATABASE_URL'
   */
  name?: string;
}

const EMBEDDED_PREFIX = 'pglite:';
const POSTGRES_PROTOCOLS = new Set(['postgres:', 'postgresql:']);
// Query parameters libpq and node-postgres read a secret from.
const SECRET_PARAMS = ['password', 'sslpassword', 'sslkey'];

export const DATABASE_URL_FORMS = 'a postgres:// or postgresql:// URL, or pglite:<directory> for an embedded database';

/**
 * The one reading of `DATABASE_URL`, shared by `openDatabase`, the gateway, the admin tool,
 * `pnpm db:migrate` and `drizzle.config.ts`: `postgres://…` / `postgresql://…` (checked with a URL
 * parser) for a server, `pglite:<directory>` (relative to `cwd`) for an embedded database.
 * Anything else, unset and empty included, is a `DatabaseUrlError` whose message never repeats
 * the value (it may hold a password). A near miss of a scheme (`postgress://`) or a bare path is
 * refused, never read as a directory: only `pglite:` names one.
 *
 * @example
 * parseDatabaseUrl('pglite:./.data/pglite', '/repo'); // { kind: 'embedded', dataDir: '/repo/.data/pglite' }
 */
export function parseDatabaseUrl(
  value: string | undefined,
  cwd = process.cwd(),
  { name = 'DATABASE_URL' }: ParseDatabaseUrlOptions = {},
): DatabaseTarget {
  if (value === undefined || value === null) {
    throw new DatabaseUrlError(`${name} is not set; it must be ${DATABASE_URL_FORMS}`);
  }
  if (typeof value !== 'string') throw new DatabaseUrlError(`${name} must be a string: ${DATABASE_URL_FORMS}`);
  const raw = value.trim();
  if (raw === '') throw new DatabaseUrlError(`${name} is empty; it must be ${DATABASE_URL_FORMS}`);
  if (raw.toLowerCase().startsWith(EMBEDDED_PREFIX)) {
    const dir = raw.slice(EMBEDDED_PREFIX.length);
    if (dir === '') throw new DatabaseUrlError(`${name} pglite: needs a directory, e.g. pglite:./.data/pglite`);
    // `pglite://host/db` or `pglite:postgres://…` is a URL typed where a directory belongs.
    if (dir.startsWith('//') || /^[a-z][a-z0-9+.-]*:\/\//i.test(dir)) {
      throw new DatabaseUrlError(`${name} pglite: takes a directory, not a URL, e.g. pglite:./.data/pglite`);
    }
    return { kind: 'embedded', dataDir: path.resolve(cwd, dir) };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new DatabaseUrlError(
      `${name} has no scheme; it must be ${DATABASE_URL_FORMS} (a bare path is refused: write pglite:<directory>)`,
    );
  }
  if (!POSTGRES_PROTOCOLS.has(`${scheme}:`)) {
    const hint = isNearMiss(scheme) ? ' (did you mean postgres://?)' : '';
    throw new DatabaseUrlError(`${name} has the scheme "${scheme}:"${hint}; it must be ${DATABASE_URL_FORMS}`);
  }
  if (!URL.canParse(raw) || !raw.slice(scheme.length + 1).startsWith('//')) {
    throw new DatabaseUrlError(
      `${name} is not a valid URL (postgres://user:password@host:port/database; percent-encode ` +
        'reserved characters in the user name and password)',
    );
  }
  return { kind: 'postgres', url: raw };
}

/** A scheme one or two edits away from `postgres` or `postgresql` (`postgress`, `postgers`, `postgre`). */
function isNearMiss(scheme: string): boolean {
  return ['postgres', 'postgresql'].some((wanted) => editDistance(scheme, wanted) <= 2);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The target as a string `parseDatabaseUrl` reads back to it: the URL, or `pglite:<directory>`. */
export function targetUrl(target: DatabaseTarget): string {
  return target.kind === 'postgres' ? target.url : `${EMBEDDED_PREFIX}${target.dataDir}`;
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

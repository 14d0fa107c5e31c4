import path from 'node:path';

const POSTGRES_URL = /^postgres(ql)?:\/\//i;

type Env = Record<string, string | undefined>;

/**
 * The database the tool works on: `--database-url`, else `DATABASE_URL`, else the embedded PGlite
 * directory `pnpm start` uses (`./.data/pglite`, or under `DATA_DIR`). The same rules as the
 * gateway's configuration, so both always open the same database.
 */
export function resolveDatabaseUrl(flag: string | undefined, env: Env = process.env, cwd = process.cwd()): string {
  const given = (flag ?? env.DATABASE_URL)?.trim();
  if (given) {
    if (!POSTGRES_URL.test(given)) {
      throw new Error(
        'the database URL must be a postgres:// or postgresql:// URL (unset it to use the embedded database)',
      );
    }
    return given;
  }
  // `pnpm cli` runs from the repository root; INIT_CWD is where the command was typed.
  const base = env.INIT_CWD?.trim() || cwd;
  return path.join(path.resolve(base, env.DATA_DIR?.trim() || '.data'), 'pglite');
}

/** The URL with its password masked, for messages. */
export function redactedUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

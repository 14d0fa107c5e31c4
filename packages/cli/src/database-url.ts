import path from 'node:path';
import { maskUrl, parseDatabaseUrl } from '@control-layer/db';

type Env = Record<string, string | undefined>;

/**
 * The database the tool works on: `--database-url`, else `DATABASE_URL` (both read by
 * `parseDatabaseUrl`, the same parser as the gateway's and `pnpm db:migrate`'s), else the embedded
 * PGlite directory `pnpm start` uses (`./.data/pglite`, or under `DATA_DIR`), so the tool and the
 * gateway always open the same database.
 */
export function resolveDatabaseUrl(flag: string | undefined, env: Env = process.env, cwd = process.cwd()): string {
  // `pnpm cli` runs from the repository root; INIT_CWD is where the command was typed.
  const base = env.INIT_CWD?.trim() || cwd;
  const given = (flag ?? env.DATABASE_URL)?.trim();
  if (given) {
    const target = parseDatabaseUrl(given, base);
    return target.kind === 'postgres' ? target.url : target.dataDir;
  }
  return path.join(path.resolve(base, env.DATA_DIR?.trim() || '.data'), 'pglite');
}

/** The URL with its password (user info and secret query parameters) masked, for messages. */
export function redactedUrl(url: string): string {
  return /^postgres(ql)?:\/\//i.test(url) ? maskUrl(url) : url;
}

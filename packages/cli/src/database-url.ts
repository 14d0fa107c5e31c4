import path from 'node:path';
import { type DatabaseTarget, describeTarget, type OpenDatabaseOptions, parseDatabaseUrl } from '@control-layer/db';
import { CliError } from './cli-error.ts';

type Env = Record<string, string | undefined>;

/**
 * The database the tool works on: `--database-url`, else `DATABASE_URL` (both read by
 * `parseDatabaseUrl`, the parser of `openDatabase`, the gateway and `pnpm db:migrate`, so the same
 * strings are refused with the same messages, naming the flag or the variable the value came
 * from), else the embedded PGlite directory `pnpm start` uses (`./.data/pglite`, or under
 * `DATA_DIR`), so the tool and the gateway always open the same database. An empty
 * `DATABASE_URL` counts as unset, as for the gateway; an empty `--database-url` is refused.
 */
export function resolveDatabaseTarget(
  flag: string | undefined,
  env: Env = process.env,
  cwd = process.cwd(),
): DatabaseTarget {
  // `pnpm cli` runs from the repository root; INIT_CWD is where the command was typed.
  const base = env.INIT_CWD?.trim() || cwd;
  if (flag !== undefined) return parseDatabaseUrl(flag, base, { name: '--database-url' });
  const fromEnv = env.DATABASE_URL?.trim();
  if (fromEnv) return parseDatabaseUrl(fromEnv, base);
  return { kind: 'embedded', dataDir: path.join(path.resolve(base, env.DATA_DIR?.trim() || '.data'), 'pglite') };
}

/** The database for messages: the URL with its password masked, or the embedded directory. */
export function redactedTarget(target: DatabaseTarget): string {
  return target.kind === 'postgres' ? describeTarget(target) : target.dataDir;
}

/** Connections the tool opens when DATABASE_POOL_MAX allows it: a command needs no more. */
const TOOL_POOL_SIZE = 2;

/**
 * How the tool connects, from the variables the gateway reads: never more connections than
 * `DATABASE_POOL_MAX` allows a process (a budget sized for PgBouncer or `max_connections` holds
 * for the tool too), and named prepared statements only with `DATABASE_PREPARED_STATEMENTS=on`
 * (off, the default, works through PgBouncer in transaction mode). A bad value is refused with
 * the message the gateway gives.
 */
export function connectionOptions(
  env: Env = process.env,
): Pick<OpenDatabaseOptions, 'poolSize' | 'preparedStatements'> {
  const poolRaw = env.DATABASE_POOL_MAX?.trim() || undefined;
  let poolMax = TOOL_POOL_SIZE;
  if (poolRaw !== undefined) {
    const value = Number(poolRaw);
    if (!/^\d+$/.test(poolRaw) || value < 1 || value > 1000) {
      throw new CliError(`DATABASE_POOL_MAX must be an integer from 1 to 1000, got ${JSON.stringify(poolRaw)}`);
    }
    poolMax = value;
  }
  const prepared = (env.DATABASE_PREPARED_STATEMENTS?.trim() || 'off').toLowerCase();
  if (prepared !== 'on' && prepared !== 'off') {
    throw new CliError(`DATABASE_PREPARED_STATEMENTS must be on or off, got ${JSON.stringify(prepared)}`);
  }
  return { poolSize: Math.min(TOOL_POOL_SIZE, poolMax), preparedStatements: prepared === 'on' };
}

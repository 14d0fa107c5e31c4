import { startContainerPostgres } from './container-postgres.ts';
import { findLocalPostgresBin, startLocalPostgres } from './local-postgres.ts';

/** A running Postgres server for tests; `url` points at its `postgres` maintenance database. */
export interface TestPostgres {
  url: string;
  via: 'env' | 'testcontainers' | 'local';
  stop: () => Promise<void>;
}

/**
 * A real Postgres server: `TEST_DATABASE_URL` when set; else a container when a container
 * runtime answers; else a throwaway cluster from the local Postgres binaries.
 *
 * @example
 * const pg = await startTestPostgres();
 * try { ... } finally { await pg.stop(); }
 */
export async function startTestPostgres(): Promise<TestPostgres> {
  const fromEnv = process.env.TEST_DATABASE_URL;
  if (fromEnv) return { url: fromEnv, via: 'env', stop: async () => {} };
  const container = await startContainerPostgres();
  if (container) return container;
  const bin = findLocalPostgresBin();
  if (bin) return startLocalPostgres(bin);
  throw new Error(
    'No Postgres for tests: set TEST_DATABASE_URL, start a container runtime, or install the server ' +
      '(apt-get install postgresql).',
  );
}

let shared: Promise<TestPostgres> | undefined;

/** One server per process, started on first use and stopped when the process exits. */
export function sharedTestPostgres(): Promise<TestPostgres> {
  shared ??= startTestPostgres();
  return shared;
}

import type { Database } from '@control-layer/db';
import { createTestDatabase, startTestPostgres } from '../../packages/db/src/testing/index.ts';

export interface BenchDatabase {
  /** URL of the migrated database, for the servers under test. */
  url: string;
  db: Database;
  /** How the server was found: `env` (TEST_DATABASE_URL), `testcontainers` or `local`. */
  via: string;
  /** Drop the database and stop the server this process started (none for `env`). */
  close: () => Promise<void>;
}

/**
 * A real, migrated Postgres database through the test harness: `TEST_DATABASE_URL` when set,
 * else a container or a throwaway local cluster that `close()` removes.
 */
export async function startBenchDatabase(options: { poolSize?: number } = {}): Promise<BenchDatabase> {
  const server = await startTestPostgres();
  try {
    const t = await createTestDatabase({ server, poolSize: options.poolSize ?? 10 });
    return {
      url: t.url,
      db: t.db,
      via: server.via,
      close: async () => {
        try {
          await t.close();
        } finally {
          await server.stop();
        }
      },
    };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

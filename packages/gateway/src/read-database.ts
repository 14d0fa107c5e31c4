import { createReadRouter, type Database, openDatabase, type ReadRouter } from '@control-layer/db';
import type { GatewayConfig } from './config.ts';
import type { GatewayLogger } from './create-gateway.ts';

/**
 * The replica side of `DATABASE_REPLICA_URL`: its own pool (as large as the primary's) and a read
 * router in front of both, logging each change of the replica's state. Null without a replica.
 */
export async function openReadDatabase(
  primary: Database,
  config: GatewayConfig,
  logger: GatewayLogger,
): Promise<{ readDb: ReadRouter; close: () => Promise<void> } | null> {
  if (config.databaseReplicaUrl === null) return null;
  const replica = await openDatabase(config.databaseReplicaUrl, {
    poolSize: config.databasePoolMax,
    preparedStatements: config.databasePreparedStatements,
    // A replica that stopped answering must not hold a diagnosis for the whole connect timeout.
    connectionTimeoutMs: 1000,
  });
  const readDb = createReadRouter(primary, replica.db, {
    maxLagMs: config.databaseReplicaMaxLagMs,
    onStateChange: (state, { lagMs, error }) => {
      const fields = { replica: state, lagMs, ...(error !== undefined && { err: error }) };
      if (state === 'fresh') logger.info(fields, 'diagnoses read from the replica');
      else logger.warn(fields, 'diagnoses read from the primary');
    },
  });
  return {
    readDb,
    close: async () => {
      readDb.close();
      await replica.close();
    },
  };
}

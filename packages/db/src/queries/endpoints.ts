import { and, asc, eq } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { deployedModels, inferenceEndpoints } from '../schema/index.ts';
import type { InferenceEndpoint, NewInferenceEndpoint } from '../types.ts';

/** An inference endpoint by its unique name; null when none has it. */
export async function findEndpointByName(db: Database, name: string): Promise<InferenceEndpoint | null> {
  const [row] = await db.select().from(inferenceEndpoints).where(eq(inferenceEndpoints.name, name)).limit(1);
  return row ?? null;
}

export async function listEndpoints(db: Database): Promise<InferenceEndpoint[]> {
  return db.select().from(inferenceEndpoints).orderBy(asc(inferenceEndpoints.name));
}

/** Change an endpoint's name, URL or description; null when it does not exist. */
export async function updateEndpoint(
  db: Database,
  endpointId: string,
  patch: Partial<Pick<NewInferenceEndpoint, 'name' | 'url' | 'description'>>,
): Promise<InferenceEndpoint | null> {
  const [row] = await db
    .update(inferenceEndpoints)
    .set({ ...patch, updatedAt: new Date() })
    .where(eq(inferenceEndpoints.id, endpointId))
    .returning();
  return row ?? null;
}

/**
 * Delete an endpoint that hosts no live model. Its soft-deleted models are kept, detached (the
 * foreign key would delete them with it). Returns the aliases of the live models that stop it
 * (empty: deleted), or null when the endpoint does not exist.
 */
export async function deleteEndpoint(db: Database, endpointId: string): Promise<string[] | null> {
  return db.transaction(async (tx) => {
    const [endpoint] = await tx
      .select({ id: inferenceEndpoints.id })
      .from(inferenceEndpoints)
      .where(eq(inferenceEndpoints.id, endpointId))
      .for('update');
    if (!endpoint) return null;
    const live = await tx
      .select({ alias: deployedModels.alias })
      .from(deployedModels)
      .where(and(eq(deployedModels.hostedOn, endpointId), eq(deployedModels.deleted, false)))
      .orderBy(asc(deployedModels.alias));
    if (live.length > 0) return live.map((row) => row.alias);
    await tx.update(deployedModels).set({ hostedOn: null }).where(eq(deployedModels.hostedOn, endpointId));
    await tx.delete(inferenceEndpoints).where(eq(inferenceEndpoints.id, endpointId));
    return [];
  });
}

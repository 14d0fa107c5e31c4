import { and, asc, eq } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { deployedModels, inferenceEndpoints } from '../schema/index.ts';
import type { DeployedModel, NewDeployedModel } from '../types.ts';
import { isStorableText } from './access-sql.ts';

/** A deployed model by alias, soft-deleted or not (aliases stay unique across both); null when none. */
export async function findDeployedModelByAlias(db: Database, alias: string): Promise<DeployedModel | null> {
  if (!isStorableText(alias)) return null;
  const [row] = await db.select().from(deployedModels).where(eq(deployedModels.alias, alias)).limit(1);
  return row ?? null;
}

export interface DeployedModelListing {
  id: string;
  alias: string;
  modelName: string;
  endpoint: string | null;
  deleted: boolean;
  status: string;
  description: string | null;
  createdAt: Date;
}

/** Every deployed model with the name of its endpoint, by alias; soft-deleted ones carry the flag. */
export async function listDeployedModels(db: Database): Promise<DeployedModelListing[]> {
  return db
    .select({
      id: deployedModels.id,
      alias: deployedModels.alias,
      modelName: deployedModels.modelName,
      endpoint: inferenceEndpoints.name,
      deleted: deployedModels.deleted,
      status: deployedModels.status,
      description: deployedModels.description,
      createdAt: deployedModels.createdAt,
    })
    .from(deployedModels)
    .leftJoin(inferenceEndpoints, eq(inferenceEndpoints.id, deployedModels.hostedOn))
    .orderBy(asc(deployedModels.alias));
}

/** Change a live model's status, model name, endpoint or description; null when deleted or absent. */
export async function updateDeployedModel(
  db: Database,
  deploymentId: string,
  patch: Partial<Pick<NewDeployedModel, 'status' | 'modelName' | 'hostedOn' | 'description'>>,
): Promise<DeployedModel | null> {
  const [row] = await db
    .update(deployedModels)
    .set({ ...patch, updatedAt: new Date() })
    .where(and(eq(deployedModels.id, deploymentId), eq(deployedModels.deleted, false)))
    .returning();
  return row ?? null;
}

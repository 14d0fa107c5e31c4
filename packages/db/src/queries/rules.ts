import { and, asc, eq } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import type { Database } from '../database.ts';
import { deployedModels, modelTrafficRules } from '../schema/index.ts';

/** Remove the rule for (model, purpose), whatever its action. Returns false when there was none. */
export async function removeTrafficRule(
  db: Database,
  deployedModelId: string,
  apiKeyPurpose: string,
): Promise<boolean> {
  const rows = await db
    .delete(modelTrafficRules)
    .where(
      and(eq(modelTrafficRules.deployedModelId, deployedModelId), eq(modelTrafficRules.apiKeyPurpose, apiKeyPurpose)),
    )
    .returning({ id: modelTrafficRules.id });
  return rows.length > 0;
}

export interface TrafficRuleListing {
  model: string;
  purpose: string;
  action: string;
  /** The alias a `redirect` rule sends to; null for `deny`. */
  redirectTo: string | null;
  createdAt: Date;
}

const target = alias(deployedModels, 'redirect_target');

/** Every routing rule (of one deployment when `deployedModelId` is given), by model and purpose. */
export async function listTrafficRules(db: Database, deployedModelId?: string): Promise<TrafficRuleListing[]> {
  return db
    .select({
      model: deployedModels.alias,
      purpose: modelTrafficRules.apiKeyPurpose,
      action: modelTrafficRules.action,
      redirectTo: target.alias,
      createdAt: modelTrafficRules.createdAt,
    })
    .from(modelTrafficRules)
    .innerJoin(deployedModels, eq(deployedModels.id, modelTrafficRules.deployedModelId))
    .leftJoin(target, eq(target.id, modelTrafficRules.redirectTargetId))
    .where(deployedModelId === undefined ? undefined : eq(modelTrafficRules.deployedModelId, deployedModelId))
    .orderBy(asc(deployedModels.alias), asc(modelTrafficRules.apiKeyPurpose));
}

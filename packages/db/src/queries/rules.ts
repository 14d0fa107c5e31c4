import { and, eq } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { modelTrafficRules } from '../schema/index.ts';

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

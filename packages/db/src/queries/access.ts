import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { rowsOf } from '../database.ts';
import {
  deployedModels,
  deploymentGroups,
  groups,
  inferenceEndpoints,
  modelTrafficRules,
  NIL_UUID,
  userGroups,
} from '../schema/index.ts';
import type {
  DeployedModel,
  Group,
  InferenceEndpoint,
  NewDeployedModel,
  NewGroup,
  NewInferenceEndpoint,
  TrafficRule,
} from '../types.ts';
import { deniedPurpose, isPossibleAlias, knownApiKey, userReachesAlias } from './access-sql.ts';
import { hashSecret } from './api-keys.ts';

/** The nil-uuid group every user but the system user belongs to implicitly. */
export const EVERYONE_GROUP_ID = NIL_UUID;
/** The nil-uuid system user. */
export const SYSTEM_USER_ID = NIL_UUID;

function one<T>(rows: T[], what: string): T {
  const [row] = rows;
  if (!row) throw new Error(`${what}: insert returned no row`);
  return row;
}

export async function createGroup(db: Database, input: NewGroup): Promise<Group> {
  return one(await db.insert(groups).values(input).returning(), 'createGroup');
}

/** Idempotent: adding an existing member changes nothing. */
export async function addUserToGroup(db: Database, userId: string, groupId: string): Promise<void> {
  await db.insert(userGroups).values({ userId, groupId }).onConflictDoNothing();
}

export async function createInferenceEndpoint(db: Database, input: NewInferenceEndpoint): Promise<InferenceEndpoint> {
  return one(await db.insert(inferenceEndpoints).values(input).returning(), 'createInferenceEndpoint');
}

export async function createDeployedModel(db: Database, input: NewDeployedModel): Promise<DeployedModel> {
  return one(await db.insert(deployedModels).values(input).returning(), 'createDeployedModel');
}

export async function softDeleteDeployedModel(db: Database, deploymentId: string): Promise<boolean> {
  const rows = await db
    .update(deployedModels)
    .set({ deleted: true, updatedAt: new Date() })
    .where(and(eq(deployedModels.id, deploymentId), eq(deployedModels.deleted, false)))
    .returning({ id: deployedModels.id });
  return rows.length > 0;
}

/** Grant a group access to a deployment. Idempotent. */
export async function addDeploymentToGroup(
  db: Database,
  deploymentId: string,
  groupId: string,
  grantedBy: string | null = null,
): Promise<void> {
  await db.insert(deploymentGroups).values({ deploymentId, groupId, grantedBy }).onConflictDoNothing();
}

export type TrafficRuleInput =
  | { deployedModelId: string; apiKeyPurpose: string; action: 'deny' }
  | { deployedModelId: string; apiKeyPurpose: string; action: 'redirect'; redirectTargetId: string };

/** Set the one rule for (model, purpose), replacing any rule already there. */
export async function setTrafficRule(db: Database, input: TrafficRuleInput): Promise<TrafficRule> {
  const redirectTargetId = input.action === 'redirect' ? input.redirectTargetId : null;
  const rows = await db
    .insert(modelTrafficRules)
    .values({ ...input, redirectTargetId })
    .onConflictDoUpdate({
      target: [modelTrafficRules.deployedModelId, modelTrafficRules.apiKeyPurpose],
      set: { action: input.action, redirectTargetId },
    })
    .returning();
  return one(rows, 'setTrafficRule');
}

/** Whether the user reaches a live deployment with this alias through their groups or Everyone. */
export async function checkUserHasModelAccess(db: Database, userId: string, alias: string): Promise<boolean> {
  if (!isPossibleAlias(alias)) return false;
  const result = await db.execute(sql`select ${userReachesAlias(sql`${userId}::uuid`, sql`${alias}`)} as has_access`);
  return rowsOf<{ has_access: boolean }>(result)[0]?.has_access === true;
}

/**
 * The purpose denied on this alias for the presented key, or null. Only `deny` rules count, only
 * on live deployments, and only against the key's own purpose; a key that is not live (unknown,
 * deleted, of a deleted owner, or expired) is null.
 */
export async function checkModalityBlocked(db: Database, secret: string, alias: string): Promise<string | null> {
  if (!isPossibleAlias(alias)) return null;
  const result = await db.execute(
    sql`select ${deniedPurpose(sql`k.purpose`, sql`${alias}`)} as purpose
        from ${knownApiKey(sql`${hashSecret(secret)}`)} k
        where not k.expired`,
  );
  return rowsOf<{ purpose: string | null }>(result)[0]?.purpose ?? null;
}

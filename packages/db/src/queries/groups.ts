import { and, eq } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { deploymentGroups, groups, userGroups } from '../schema/index.ts';
import type { Group } from '../types.ts';

/** A group by its unique name (`Everyone` included); null when none has it. */
export async function findGroupByName(db: Database, name: string): Promise<Group | null> {
  const [row] = await db.select().from(groups).where(eq(groups.name, name)).limit(1);
  return row ?? null;
}

/** Take a user out of a group. Returns false when they were not a member. */
export async function removeUserFromGroup(db: Database, userId: string, groupId: string): Promise<boolean> {
  const rows = await db
    .delete(userGroups)
    .where(and(eq(userGroups.userId, userId), eq(userGroups.groupId, groupId)))
    .returning({ id: userGroups.id });
  return rows.length > 0;
}

/** Withdraw a group's access to a deployment. Returns false when it had none. */
export async function removeDeploymentFromGroup(db: Database, deploymentId: string, groupId: string): Promise<boolean> {
  const rows = await db
    .delete(deploymentGroups)
    .where(and(eq(deploymentGroups.deploymentId, deploymentId), eq(deploymentGroups.groupId, groupId)))
    .returning({ id: deploymentGroups.id });
  return rows.length > 0;
}

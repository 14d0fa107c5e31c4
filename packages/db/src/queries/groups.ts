import { and, asc, eq, ne, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { deployedModels, deploymentGroups, groups, NIL_UUID, userGroups, users } from '../schema/index.ts';
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

export interface GroupListing {
  id: string;
  name: string;
  description: string | null;
  /** Members, deleted users included (Everyone: every user but the system user). */
  members: number;
  /** Models granted to the group, deleted ones excluded. */
  models: number;
  createdAt: Date;
}

/** Every group, by name, with its member and model counts. */
export async function listGroups(db: Database): Promise<GroupListing[]> {
  return db
    .select({
      id: groups.id,
      name: groups.name,
      description: groups.description,
      members: sql<number>`case when groups.id = ${NIL_UUID}::uuid
        then (select count(*) from users u where u.id <> ${NIL_UUID}::uuid)
        else (select count(*) from user_groups ug where ug.group_id = groups.id) end`.mapWith(Number),
      models: sql<number>`(select count(*) from deployment_groups dg join deployed_models d on d.id = dg.deployment_id
        where dg.group_id = groups.id and not d.deleted)`.mapWith(Number),
      createdAt: groups.createdAt,
    })
    .from(groups)
    .orderBy(asc(groups.name));
}

export interface GroupMember {
  username: string;
  email: string;
  deleted: boolean;
  /** Null for Everyone, whose membership is implicit. */
  joinedAt: Date | null;
}

/** A group's members by username (Everyone: every user but the system user). */
export async function listGroupMembers(db: Database, groupId: string): Promise<GroupMember[]> {
  const fields = { username: users.username, email: users.email, deleted: users.isDeleted };
  if (groupId === NIL_UUID) {
    const rows = await db.select(fields).from(users).where(ne(users.id, NIL_UUID)).orderBy(asc(users.username));
    return rows.map((row) => ({ ...row, joinedAt: null }));
  }
  return db
    .select({ ...fields, joinedAt: userGroups.joinedAt })
    .from(userGroups)
    .innerJoin(users, eq(users.id, userGroups.userId))
    .where(eq(userGroups.groupId, groupId))
    .orderBy(asc(users.username));
}

/** The aliases of the live models granted to a group. */
export async function listGroupModels(db: Database, groupId: string): Promise<string[]> {
  const rows = await db
    .select({ alias: deployedModels.alias })
    .from(deploymentGroups)
    .innerJoin(deployedModels, eq(deployedModels.id, deploymentGroups.deploymentId))
    .where(and(eq(deploymentGroups.groupId, groupId), eq(deployedModels.deleted, false)))
    .orderBy(asc(deployedModels.alias));
  return rows.map((row) => row.alias);
}

/** The names of the groups a user was added to (Everyone, implicit, is not among them). */
export async function listUserGroups(db: Database, userId: string): Promise<string[]> {
  const rows = await db
    .select({ name: groups.name })
    .from(userGroups)
    .innerJoin(groups, eq(groups.id, userGroups.groupId))
    .where(eq(userGroups.userId, userId))
    .orderBy(asc(groups.name));
  return rows.map((row) => row.name);
}

/** Delete a group with its memberships and grants. Returns false when it did not exist. */
export async function deleteGroup(db: Database, groupId: string): Promise<boolean> {
  const rows = await db.delete(groups).where(eq(groups.id, groupId)).returning({ id: groups.id });
  return rows.length > 0;
}

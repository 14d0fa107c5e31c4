import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../database.ts';
import { userFeatureFlags } from '../schema/index.ts';

/** Turn a user's feature flag on or off (e.g. `ALLOW_NEGATIVE_BALANCE`). Idempotent. */
export async function setUserFeatureFlag(db: Database, userId: string, flag: string, enabled: boolean): Promise<void> {
  await db
    .insert(userFeatureFlags)
    .values({ userId, featureFlag: flag, enabled })
    .onConflictDoUpdate({
      target: [userFeatureFlags.userId, userFeatureFlags.featureFlag],
      set: { enabled, updatedAt: sql`now()` },
    });
}

/** Whether the flag is set and enabled for the user. */
export async function hasUserFeatureFlag(db: Database, userId: string, flag: string): Promise<boolean> {
  const [row] = await db
    .select({ enabled: userFeatureFlags.enabled })
    .from(userFeatureFlags)
    .where(and(eq(userFeatureFlags.userId, userId), eq(userFeatureFlags.featureFlag, flag)));
  return row?.enabled === true;
}

import { randomUUID } from 'node:crypto';
import {
  type ApiKeyPurpose,
  addUserToGroup,
  createTransaction,
  type Database,
  Decimal,
  modelTrafficRules,
  setTrafficRule,
  userGroups,
} from '@control-layer/db';
import { and, eq } from 'drizzle-orm';

/** What decides a verdict for the soak's keys: group membership, deny rules, balances. */
export interface WorldState {
  member: Record<string, boolean>;
  deny: Record<ApiKeyPurpose, boolean>;
  /** Balance by user, in whole credits. */
  balance: Record<string, number>;
}

export type StateChange =
  | { kind: 'membership'; userId: string; member: boolean }
  | { kind: 'rule'; purpose: ApiKeyPurpose; deny: boolean }
  | { kind: 'credits'; userId: string; type: 'admin_grant' | 'usage'; amount: number };

export interface World {
  groupId: string;
  deploymentId: string;
}

/**
 * Apply one administrative change to the database, as an operator would: grant or revoke a user's
 * group (and so the model), set or lift a deny rule, add credits or record usage. The same typed
 * queries the admin tool (`packages/cli`: `groups add-user|remove-user`, `rules deny|remove`,
 * `credits grant|charge`) runs, called in-process. Driving them through the tool, a fresh process
 * per change, was tried: while the two clusters and 16 clients share this machine's 2 cores, a
 * change then takes about 1.4 s (32 changes in the 45 s run, against about 700 in-process), and
 * the replica gateway answered 23 requests from a state already replaced when they were sent,
 * against about 1,700: the staleness bounds this soak is for would go almost untested. The tool's
 * own path, PgBouncer included, is covered by packages/cli's tests.
 */
export async function applyChange(db: Database, world: World, change: StateChange): Promise<void> {
  switch (change.kind) {
    case 'membership':
      if (change.member) await addUserToGroup(db, change.userId, world.groupId);
      else
        await db
          .delete(userGroups)
          .where(and(eq(userGroups.userId, change.userId), eq(userGroups.groupId, world.groupId)));
      return;
    case 'rule':
      if (change.deny) {
        await setTrafficRule(db, {
          deployedModelId: world.deploymentId,
          apiKeyPurpose: change.purpose,
          action: 'deny',
        });
      } else {
        await db
          .delete(modelTrafficRules)
          .where(
            and(
              eq(modelTrafficRules.deployedModelId, world.deploymentId),
              eq(modelTrafficRules.apiKeyPurpose, change.purpose),
            ),
          );
      }
      return;
    case 'credits':
      await createTransaction(db, {
        userId: change.userId,
        type: change.type,
        amount: new Decimal(change.amount),
        sourceId: `soak-${randomUUID()}`,
      });
      return;
  }
}

/** The state after `change`. */
export function nextState(state: WorldState, change: StateChange): WorldState {
  switch (change.kind) {
    case 'membership':
      return { ...state, member: { ...state.member, [change.userId]: change.member } };
    case 'rule':
      return { ...state, deny: { ...state.deny, [change.purpose]: change.deny } };
    case 'credits': {
      const sign = change.type === 'admin_grant' ? 1 : -1;
      const balance = (state.balance[change.userId] ?? 0) + sign * change.amount;
      return { ...state, balance: { ...state.balance, [change.userId]: balance } };
    }
  }
}

/** The verdict the middleware must give for a key of `userId` with `purpose`, in dwctl's order. */
export function expectedCode(state: WorldState, userId: string, purpose: ApiKeyPurpose): string | null {
  if (!state.member[userId]) return 'model_access_denied';
  if (state.deny[purpose]) return 'modality_blocked';
  if ((state.balance[userId] ?? 0) <= 0) return 'insufficient_credits';
  return null;
}

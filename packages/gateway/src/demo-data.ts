import {
  type ApiKeyPurpose,
  addDeploymentToGroup,
  addUserToGroup,
  apiKeys,
  createApiKey,
  createDeployedModel,
  createGroup,
  createInferenceEndpoint,
  createTransaction,
  createUser,
  type Database,
  deployedModels,
  groups,
  hashSecret,
  inferenceEndpoints,
  SYSTEM_USER_ID,
  setTrafficRule,
  type TransactionType,
  users,
} from '@control-layer/db';
import { Decimal } from 'decimal.js';
import { eq } from 'drizzle-orm';

/** The model every demo request names. */
export const DEMO_MODEL = 'demo-chat';

/** A demo key's plaintext: `sk-` and 43 base64url characters, like a real key, but memorable. */
function demoSecret(label: string): string {
  return `sk-${`demo-${label}-`.padEnd(43, '0')}`;
}

/** The demo keys, each showing one outcome. Known plaintexts: demo databases only. */
export const DEMO_KEYS = {
  working: demoSecret('working'),
  modalityBlocked: demoSecret('batch-key'),
  noCredits: demoSecret('no-credits'),
  noAccess: demoSecret('no-access'),
} as const;

interface DemoUser {
  username: string;
  /** Member of the group that reaches the demo model. */
  member: boolean;
  credits: { type: TransactionType; amount: string }[];
  keys: { secret: string; purpose: ApiKeyPurpose }[];
}

const DEMO_USERS: DemoUser[] = [
  {
    username: 'demo-alice',
    member: true,
    credits: [{ type: 'admin_grant', amount: '100.00' }],
    keys: [
      { secret: DEMO_KEYS.working, purpose: 'realtime' },
      { secret: DEMO_KEYS.modalityBlocked, purpose: 'batch' },
    ],
  },
  {
    username: 'demo-bob',
    member: true,
    credits: [
      { type: 'admin_grant', amount: '10.00' },
      { type: 'usage', amount: '25.00' },
    ],
    keys: [{ secret: DEMO_KEYS.noCredits, purpose: 'realtime' }],
  },
  {
    username: 'demo-carol',
    member: false,
    credits: [{ type: 'admin_grant', amount: '100.00' }],
    keys: [{ secret: DEMO_KEYS.noAccess, purpose: 'realtime' }],
  },
];

/**
 * Seed the demo world: `demo-chat` reachable through `demo-group`, batch keys denied on it;
 * alice (member, credits), bob (member, balance -15) and carol (credits, not a member). Every
 * row is found before it is made and ledger rows carry fixed source ids, so seeding again (each
 * restart) changes nothing.
 */
export async function seedDemoData(db: Database): Promise<void> {
  await db.transaction(async (tx) => {
    const endpointId =
      (await tx.select().from(inferenceEndpoints).where(eq(inferenceEndpoints.name, 'demo-endpoint')))[0]?.id ??
      (
        await createInferenceEndpoint(tx, {
          name: 'demo-endpoint',
          url: 'http://127.0.0.1/',
          createdBy: SYSTEM_USER_ID,
        })
      ).id;
    const modelId =
      (await tx.select().from(deployedModels).where(eq(deployedModels.alias, DEMO_MODEL)))[0]?.id ??
      (
        await createDeployedModel(tx, {
          modelName: 'stub-chat',
          alias: DEMO_MODEL,
          hostedOn: endpointId,
          createdBy: SYSTEM_USER_ID,
        })
      ).id;
    const groupId =
      (await tx.select().from(groups).where(eq(groups.name, 'demo-group')))[0]?.id ??
      (await createGroup(tx, { name: 'demo-group', description: 'Reaches demo-chat', createdBy: SYSTEM_USER_ID })).id;
    await addDeploymentToGroup(tx, modelId, groupId, SYSTEM_USER_ID);
    await setTrafficRule(tx, { deployedModelId: modelId, apiKeyPurpose: 'batch', action: 'deny' });

    for (const demo of DEMO_USERS) {
      const userId =
        (await tx.select().from(users).where(eq(users.username, demo.username)))[0]?.id ??
        (
          await createUser(tx, {
            username: demo.username,
            email: `${demo.username}@example.com`,
            displayName: demo.username,
            authSource: 'demo',
          })
        ).id;
      if (demo.member) await addUserToGroup(tx, userId, groupId);
      for (const [i, credit] of demo.credits.entries()) {
        await createTransaction(tx, {
          userId,
          type: credit.type,
          amount: new Decimal(credit.amount),
          sourceId: `demo-seed:${demo.username}:${i}`,
          description: 'demo data',
        });
      }
      for (const key of demo.keys) {
        const [existing] = await tx
          .select()
          .from(apiKeys)
          .where(eq(apiKeys.secretHash, hashSecret(key.secret)));
        if (existing) continue;
        await createApiKey(tx, {
          userId,
          createdBy: userId,
          name: `${demo.username} ${key.purpose}`,
          purpose: key.purpose,
          secret: key.secret,
        });
      }
    }
  });
}

export interface DemoCommand {
  /** What the command shows. */
  title: string;
  command: string;
}

/** Ready-to-paste `curl` commands against the gateway, one per outcome the demo data shows. */
export function demoCurlCommands(baseUrl: string): DemoCommand[] {
  const url = `${baseUrl}/ai/v1/chat/completions`;
  const body = (stream: boolean) =>
    JSON.stringify({ model: DEMO_MODEL, messages: [{ role: 'user', content: 'Hello' }], ...(stream && { stream }) });
  const curl = (key: string, stream = false) =>
    `curl -sS${stream ? 'N' : ''} ${url} -H 'authorization: Bearer ${key}' -H 'content-type: application/json' -d '${body(stream)}'`;
  return [
    { title: 'a working key: a chat completion', command: curl(DEMO_KEYS.working) },
    { title: 'the same, streamed as server-sent events', command: curl(DEMO_KEYS.working, true) },
    { title: 'no access to the model: 403 model_access_denied', command: curl(DEMO_KEYS.noAccess) },
    { title: "the key's purpose is blocked: 403 modality_blocked", command: curl(DEMO_KEYS.modalityBlocked) },
    { title: 'no credits left: 402 insufficient_credits', command: curl(DEMO_KEYS.noCredits) },
    { title: "an unknown key: the router's bare 403 forbidden, untouched", command: curl(demoSecret('unknown')) },
  ];
}

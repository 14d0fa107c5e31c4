import {
  type ApiKeyPurpose,
  activeTariffs,
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
  Decimal,
  deployedModels,
  groups,
  hashSecret,
  inferenceEndpoints,
  recordUsage,
  SYSTEM_USER_ID,
  setApiKeySpendCap,
  setModelTariff,
  setTrafficRule,
  type TransactionType,
  users,
} from '@control-layer/db';
import { eq } from 'drizzle-orm';

/** The paid model most demo requests name. */
export const DEMO_MODEL = 'demo-chat';
/** A model without a tariff: the balance and caps do not apply to it. */
export const DEMO_FREE_MODEL = 'demo-free';
/** What the demo's paid model costs per token (a completion of the stub costs a few thousandths of a cent). */
const DEMO_PRICES = { input: new Decimal('0.000001'), output: new Decimal('0.000002') };
/** The capped demo key's one-off cap, spent by the seed. */
const DEMO_CAP = new Decimal('1.00');

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
  platform: demoSecret('platform'),
  capped: demoSecret('capped'),
} as const;

interface DemoUser {
  username: string;
  /** Member of the group that reaches the demo model. */
  member: boolean;
  credits: { type: TransactionType; amount: string }[];
  keys: { secret: string; purpose: ApiKeyPurpose; capped?: true }[];
}

const DEMO_USERS: DemoUser[] = [
  {
    username: 'demo-alice',
    member: true,
    credits: [{ type: 'admin_grant', amount: '100.00' }],
    keys: [
      { secret: DEMO_KEYS.working, purpose: 'realtime' },
      { secret: DEMO_KEYS.modalityBlocked, purpose: 'batch' },
      { secret: DEMO_KEYS.platform, purpose: 'platform' },
      { secret: DEMO_KEYS.capped, purpose: 'realtime', capped: true },
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

async function findOrCreateModel(tx: Database, alias: string, endpointId: string): Promise<string> {
  return (
    (await tx.select().from(deployedModels).where(eq(deployedModels.alias, alias)))[0]?.id ??
    (
      await createDeployedModel(tx, {
        modelName: `stub-${alias}`,
        alias,
        hostedOn: endpointId,
        createdBy: SYSTEM_USER_ID,
      })
    ).id
  );
}

/**
 * Seed the demo world: `demo-chat` (paid) and `demo-free` (no tariff) reachable through
 * `demo-group`, batch keys denied on `demo-chat`; alice (member, credits, with a platform key and
 * a key whose $1 one-off cap is spent), bob (member, balance -15) and carol (credits, not a
 * member). Every row is found before it is made and ledger rows carry fixed source ids, so
 * seeding again (each restart) changes nothing.
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
    const modelId = await findOrCreateModel(tx, DEMO_MODEL, endpointId);
    const freeModelId = await findOrCreateModel(tx, DEMO_FREE_MODEL, endpointId);
    if ((await activeTariffs(tx, modelId)).length === 0) {
      await setModelTariff(tx, {
        deployedModelId: modelId,
        name: 'demo tariff',
        inputPricePerToken: DEMO_PRICES.input,
        outputPricePerToken: DEMO_PRICES.output,
      });
    }
    const groupId =
      (await tx.select().from(groups).where(eq(groups.name, 'demo-group')))[0]?.id ??
      (await createGroup(tx, { name: 'demo-group', description: 'Reaches demo-chat', createdBy: SYSTEM_USER_ID })).id;
    await addDeploymentToGroup(tx, modelId, groupId, SYSTEM_USER_ID);
    await addDeploymentToGroup(tx, freeModelId, groupId, SYSTEM_USER_ID);
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
        const created = await createApiKey(tx, {
          userId,
          createdBy: userId,
          name: `${demo.username} ${key.purpose}${key.capped ? ' capped' : ''}`,
          purpose: key.purpose,
          secret: key.secret,
        });
        if (key.capped) {
          // Spent by real usage, folded into the cap's window like any other.
          await setApiKeySpendCap(tx, created.key.id, { limit: DEMO_CAP, interval: null });
          await recordUsage(tx, {
            apiKeyId: created.key.id,
            amount: DEMO_CAP,
            sourceId: `demo-seed:${demo.username}:capped-usage`,
            description: 'demo data',
          });
        }
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
  const body = (stream: boolean, model: string) =>
    JSON.stringify({ model, messages: [{ role: 'user', content: 'Hello' }], ...(stream && { stream }) });
  const curl = (key: string, stream = false, model = DEMO_MODEL) =>
    `curl -sS${stream ? 'N' : ''} ${url} -H 'authorization: Bearer ${key}' -H 'content-type: application/json' -d '${body(stream, model)}'`;
  return [
    { title: 'a working key: a chat completion', command: curl(DEMO_KEYS.working) },
    { title: 'the same, streamed as server-sent events', command: curl(DEMO_KEYS.working, true) },
    { title: 'no access to the model: 403 model_access_denied', command: curl(DEMO_KEYS.noAccess) },
    { title: "the key's purpose is blocked: 403 modality_blocked", command: curl(DEMO_KEYS.modalityBlocked) },
    { title: 'no credits left: 402 insufficient_credits', command: curl(DEMO_KEYS.noCredits) },
    { title: "an unknown key: the router's bare 403 forbidden, untouched", command: curl(demoSecret('unknown')) },
    { title: 'a platform key used for inference: 403 non_inference_key', command: curl(DEMO_KEYS.platform) },
    { title: 'a key over its spending cap: 402 spend_cap_exceeded', command: curl(DEMO_KEYS.capped) },
    {
      title: 'a free model, used by a user with no credits: a chat completion',
      command: curl(DEMO_KEYS.noCredits, false, DEMO_FREE_MODEL),
    },
    {
      title: 'the models a key reaches: the OpenAI model list',
      command: `curl -sS ${baseUrl}/ai/v1/models -H 'authorization: Bearer ${DEMO_KEYS.working}'`,
    },
  ];
}

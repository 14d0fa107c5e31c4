import type { ApiKeyPurpose, Database } from '@control-layer/db';
import { addDeploymentToGroup, addUserToGroup, setTrafficRule } from '@control-layer/db';
import {
  addTestCredits,
  addTestTariff,
  createTestApiKey,
  createTestEndpoint,
  createTestGroup,
  createTestModel,
  createTestUser,
} from '@control-layer/db/testing';
import Koa, { type Context } from 'koa';
import { type ErrorEnrichmentOptions, errorEnrichment } from '../src/index.ts';

export type Downstream = (ctx: Context) => void | Promise<void>;

/** The router's bare 403, as onwards sends it. */
export const ROUTER_FORBIDDEN =
  '{"error":{"message":"Forbidden","type":"invalid_request_error","param":null,"code":"forbidden"}}';

/** A router stand-in that always answers 403 with `body`, counting its calls. */
export function forbidding(body = 'Forbidden') {
  const calls = { count: 0 };
  const downstream: Downstream = (ctx) => {
    calls.count++;
    ctx.status = 403;
    ctx.body = body;
  };
  return { downstream, calls };
}

/** A Koa app: the middleware, then `downstream` in place of the router. */
export function createApp(options: ErrorEnrichmentOptions, downstream: Downstream, before: Koa.Middleware[] = []): Koa {
  const app = new Koa();
  app.silent = true;
  for (const middleware of before) app.use(middleware);
  app.use(errorEnrichment(options));
  app.use(async (ctx) => {
    await downstream(ctx);
  });
  return app;
}

/**
 * A user with a key of `purpose`, optionally credits, in a group granted `alias` (unless
 * `grant: false`); the model has a paid tariff unless `paid: false`.
 */
export async function keyHolder(
  db: Database,
  options: { purpose?: ApiKeyPurpose; credits?: string | null; alias?: string; grant?: boolean; paid?: boolean } = {},
) {
  const { purpose = 'realtime', credits = '50.00', alias = 'authorized-model', grant = true, paid = true } = options;
  const user = await createTestUser(db);
  const { key, secret } = await createTestApiKey(db, user.id, purpose);
  if (credits !== null) await addTestCredits(db, user.id, credits);
  const endpointId = await createTestEndpoint(db, `endpoint-${user.id}`, user.id);
  const deploymentId = await createTestModel(db, `${alias}-name`, alias, endpointId, user.id);
  const group = await createTestGroup(db);
  await addUserToGroup(db, user.id, group.id);
  if (grant) await addDeploymentToGroup(db, deploymentId, group.id, user.id);
  if (paid) await addTestTariff(db, deploymentId);
  return { user, key, secret, endpointId, deploymentId, group };
}

export async function denyPurpose(db: Database, deploymentId: string, purpose: string): Promise<void> {
  await setTrafficRule(db, { deployedModelId: deploymentId, apiKeyPurpose: purpose, action: 'deny' });
}

export const chat = (model: unknown) => ({ model, messages: [{ role: 'user', content: 'Hello' }] });

import { randomUUID } from 'node:crypto';
import { type Database, type DenialFacts, deployedModels, explainDenial, isPossibleAlias } from '@control-layer/db';
import Router from '@koa/router';
import { and, eq } from 'drizzle-orm';
import Koa, { type Context, type Next } from 'koa';
import { koaBody } from 'koa-body';
import { admits } from './stub-admission.ts';
import { chargeUsage } from './stub-billing.ts';
import { cannedChunks, cannedCompletion, cannedUsage, eventStream } from './stub-completions.ts';

export interface StubUpstreamOptions {
  /** The database the keys, groups, rules and balances are read from. */
  db: Database;
  /**
   * Pause between two streamed chunks, in ms.
   * @default 25
   */
  chunkDelayMs?: number;
}

/** Onwards' bodies, byte for byte: these are what the gateway passes through or explains. */
export const FORBIDDEN_BODY =
  '{"error":{"message":"Forbidden","type":"invalid_request_error","param":null,"code":"forbidden"}}';
const UNAUTHENTICATED_BODY =
  '{"error":{"message":"Please supply an authentication token to access this resource","type":"invalid_request_error","param":null,"code":"unauthenticated"}}';

function openAiError(message: string, code: string | null, param: string | null = null) {
  return { error: { message, type: 'invalid_request_error', param, code } };
}

function rawJson(ctx: Context, status: number, body: string): void {
  ctx.status = status;
  ctx.type = 'application/json';
  ctx.body = body;
}

declare module 'koa' {
  interface DefaultState {
    /** The admitted key's facts, for charging the completion. */
    stubFacts?: DenialFacts;
  }
}

/** Onwards reads the key with `strip_prefix("Bearer ")`: case-sensitive, untrimmed. */
function bearer(header: string): string | null {
  return header.startsWith('Bearer ') && header.length > 'Bearer '.length ? header.slice('Bearer '.length) : null;
}

/**
 * A stand-in for the dwctl router ("onwards") on `/v1/*`, deciding from the same database as
 * error enrichment: 404 `model_not_found` for an unknown or inactive alias, 401 without a bearer
 * token, the bare 403 for a key the router would not admit (see `admits`); otherwise a canned
 * chat completion, as server-sent events when the request says `"stream": true`, charged as usage
 * against the key when the model has an active tariff. Checks run in onwards' order. A database
 * failure is a 503 in the JSON envelope, never a hang.
 *
 * @example
 * const stub = createStubUpstream({ db });
 * stub.listen(3001, '127.0.0.1');
 */
export function createStubUpstream(options: StubUpstreamOptions): Koa {
  const { db, chunkDelayMs = 25 } = options;
  const app = new Koa();
  const router = new Router();

  const jsonBody = koaBody({ json: true, multipart: false, urlencoded: false, text: false, jsonLimit: '10mb' });

  async function parseJson(ctx: Context, next: Next): Promise<void> {
    try {
      await jsonBody(ctx, async () => {});
    } catch (error) {
      const status = (error as { status?: unknown }).status;
      ctx.status = status === 413 ? 413 : 400;
      ctx.body = openAiError('We could not parse the JSON body of your request.', null);
      return;
    }
    await next();
  }

  async function modelExists(alias: string): Promise<boolean> {
    if (!isPossibleAlias(alias)) return false;
    const rows = await db
      .select({ id: deployedModels.id })
      .from(deployedModels)
      .where(
        and(eq(deployedModels.alias, alias), eq(deployedModels.deleted, false), eq(deployedModels.status, 'active')),
      )
      .limit(1);
    return rows.length > 0;
  }

  async function route(ctx: Context, next: Next): Promise<void> {
    const body: unknown = ctx.request.body;
    const model = body && typeof body === 'object' ? (body as { model?: unknown }).model : undefined;
    if (typeof model !== 'string' || model === '') {
      ctx.status = 400;
      ctx.body = openAiError('you must provide a model parameter', null);
      return;
    }
    if (!(await modelExists(model))) {
      ctx.status = 404;
      ctx.body = openAiError(
        `The model \`${model}\` does not exist or you do not have access to it.`,
        'model_not_found',
      );
      return;
    }
    const token = bearer(ctx.get('authorization'));
    if (!token) return rawJson(ctx, 401, UNAUTHENTICATED_BODY);
    const facts = await explainDenial(db, token, model);
    if (!facts || !admits(facts)) return rawJson(ctx, 403, FORBIDDEN_BODY);
    ctx.state.stubFacts = facts;
    await next();
  }

  /** The completion id is also the charge's idempotency key. */
  async function charge(ctx: Context, request: { model: string; messages?: unknown }, completionId: string) {
    const facts = ctx.state.stubFacts;
    if (!facts) return;
    await chargeUsage(db, {
      keyId: facts.keyId,
      purpose: facts.purpose,
      model: request.model,
      usage: cannedUsage(request),
      sourceId: `stub:${completionId}`,
    });
  }

  router.post('/v1/chat/completions', parseJson, route, async (ctx) => {
    const request = ctx.request.body as { model: string; stream?: unknown };
    const completionId = `chatcmpl-stub-${randomUUID()}`;
    // Charged before answering, as a router meters a request it serves.
    await charge(ctx, request, completionId);
    if (request.stream !== true) {
      ctx.body = cannedCompletion(request, completionId);
      return;
    }
    ctx.set('cache-control', 'no-cache');
    ctx.type = 'text/event-stream';
    ctx.body = eventStream(cannedChunks(request, completionId), chunkDelayMs);
  });

  // Any other `/v1` route: the same checks, then OpenAI's answer for a URL it does not serve.
  router.all('/v1{/*path}', parseJson, route, async (ctx) => {
    ctx.status = 404;
    ctx.body = openAiError(`Unknown request URL: ${ctx.method} ${ctx.path}.`, 'unknown_url');
  });

  // A database failure is the stub's own 503, in the error envelope (never Koa's plain-text 500,
  // whose log line would carry the failed SQL and its parameters).
  app.use(async function stubErrors(ctx, next) {
    try {
      await next();
    } catch {
      ctx.status = 503;
      ctx.body = {
        error: {
          message: 'The upstream could not reach its database. Please try again later.',
          type: 'api_error',
          param: null,
          code: 'database_unavailable',
        },
      };
    }
  });
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}

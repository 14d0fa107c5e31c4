import { randomUUID } from 'node:crypto';
import { type Database, type DenialFacts, deployedModels, explainDenial, isPossibleAlias } from '@control-layer/db';
import Router from '@koa/router';
import { and, eq } from 'drizzle-orm';
import Koa, { type Context, type Next } from 'koa';
import { koaBody } from 'koa-body';
import { admits, routerApiKey } from './stub-admission.ts';
import { chargeUsage, type Usage } from './stub-billing.ts';
import { type ChatRequest, cannedChunks, cannedCompletion, cannedUsage } from './stub-completions.ts';
import { stubError } from './stub-errors.ts';
import {
  cannedMessage,
  cannedMessageEvents,
  type MessagesRequest,
  messagesTokens,
  newMessageId,
} from './stub-messages.ts';
import {
  cannedResponse,
  cannedResponseEvents,
  newResponseId,
  type ResponsesRequest,
  responsesTokens,
} from './stub-responses.ts';
import { eventStream, type ServerSentEvent } from './stub-sse.ts';

export interface StubUpstreamOptions {
  /** The database the keys, groups, rules and balances are read from. */
  db: Database;
  /**
   * Pause between two streamed chunks, in ms.
   * @default 25
   */
  chunkDelayMs?: number;
}

/**
 * Onwards' denial, byte for byte, on every route (the Messages API included): this is what the
 * gateway explains, or passes through when there is nothing to explain.
 */
export const FORBIDDEN_BODY =
  '{"error":{"message":"Forbidden","type":"invalid_request_error","param":null,"code":"forbidden"}}';

const UNAUTHENTICATED_MESSAGE = 'Please supply an authentication token to access this resource';

declare module 'koa' {
  interface DefaultState {
    /** The admitted key's facts, for charging the completion. */
    stubFacts?: DenialFacts;
  }
}

/**
 * A stand-in for the dwctl router ("onwards") on `/v1/*`, deciding from the same database as
 * error enrichment: 404 `model_not_found` for an unknown or inactive alias, 401 without a key
 * (see `routerApiKey`), the bare 403 for a key the router would not admit (see `admits`);
 * otherwise a canned answer in the shape of the API asked (chat completions, Anthropic Messages,
 * OpenAI Responses), as server-sent events when the request says `"stream": true`, charged as
 * usage against the key when the model has an active tariff. Checks run in onwards' order. Its
 * own errors use the request's dialect; a database failure is a 503, never a hang. It answers
 * each API natively and translates none into another.
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
      return stubError(ctx, status === 413 ? 413 : 400, 'We could not parse the JSON body of your request.', null);
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
      return stubError(ctx, 400, 'you must provide a model parameter', null);
    }
    if (!(await modelExists(model))) {
      const message = `The model \`${model}\` does not exist or you do not have access to it.`;
      return stubError(ctx, 404, message, 'model_not_found');
    }
    const key = routerApiKey(ctx.headers);
    if (!key) return stubError(ctx, 401, UNAUTHENTICATED_MESSAGE, 'unauthenticated');
    const facts = await explainDenial(db, key, model);
    if (!facts || !admits(facts)) {
      ctx.status = 403;
      ctx.type = 'application/json';
      ctx.body = FORBIDDEN_BODY;
      return;
    }
    ctx.state.stubFacts = facts;
    await next();
  }

  /**
   * Charged before answering, as a router meters a request it serves, whichever API it came in:
   * the same tokens cost the same. The answer's id is also the charge's idempotency key.
   */
  async function charge(ctx: Context, model: string, usage: Usage, answerId: string) {
    const facts = ctx.state.stubFacts;
    if (!facts) return;
    await chargeUsage(db, { keyId: facts.keyId, purpose: facts.purpose, model, usage, sourceId: `stub:${answerId}` });
  }

  /** The body of a request `route` let through: an object with a model. */
  const admitted = <T>(ctx: Context) => ctx.request.body as unknown as T & { stream?: unknown };
  /** Chat completion chunks are unnamed events. */
  const dataOnly = (data: object): ServerSentEvent => ({ data });

  function stream(ctx: Context, events: ServerSentEvent[], trailer?: string) {
    ctx.set('cache-control', 'no-cache');
    ctx.type = 'text/event-stream';
    ctx.body = eventStream(events, chunkDelayMs, trailer);
  }

  router.post('/v1/chat/completions', parseJson, route, async (ctx) => {
    const request = admitted<ChatRequest>(ctx);
    const id = `chatcmpl-stub-${randomUUID()}`;
    await charge(ctx, request.model, cannedUsage(request), id);
    if (request.stream !== true) ctx.body = cannedCompletion(request, id);
    else stream(ctx, cannedChunks(request, id).map(dataOnly), 'data: [DONE]\n\n');
  });

  router.post('/v1/messages', parseJson, route, async (ctx) => {
    const request = admitted<MessagesRequest>(ctx);
    const id = newMessageId();
    await charge(ctx, request.model, messagesTokens(request), id);
    if (request.stream !== true) ctx.body = cannedMessage(request, id);
    else stream(ctx, cannedMessageEvents(request, id));
  });

  // What the Anthropic SDK's `messages.countTokens` asks: the prompt as the answer would count it, free.
  router.post('/v1/messages/count_tokens', parseJson, route, async (ctx) => {
    ctx.body = { input_tokens: messagesTokens(admitted<MessagesRequest>(ctx)).prompt_tokens };
  });

  router.post('/v1/responses', parseJson, route, async (ctx) => {
    const request = admitted<ResponsesRequest>(ctx);
    const id = newResponseId();
    await charge(ctx, request.model, responsesTokens(request), id);
    if (request.stream !== true) ctx.body = cannedResponse(request, id);
    else stream(ctx, cannedResponseEvents(request, id));
  });

  // Any other `/v1` route: the same checks, then a 404 `unknown_url`, as OpenAI answers a URL it does not serve.
  router.all('/v1{/*path}', parseJson, route, async (ctx) => {
    stubError(ctx, 404, `Unknown request URL: ${ctx.method} ${ctx.path}.`, 'unknown_url');
  });

  // A database failure is the stub's own 503, in the error envelope (never Koa's plain-text 500,
  // whose log line would carry the failed SQL and its parameters).
  app.use(async function stubErrors(ctx, next) {
    try {
      await next();
    } catch {
      stubError(ctx, 503, 'The upstream could not reach its database. Please try again later.', 'database_unavailable');
    }
  });
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}

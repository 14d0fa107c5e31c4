import { type Database, describeError, listModelsForKey } from '@control-layer/db';
import { bearerToken, type ReadSource, sendError } from '@control-layer/enrichment';
import type { Context, Middleware } from 'koa';

/** pino-compatible. */
export interface ModelsRouteLogger {
  warn(fields: object, message: string): void;
}

/** The route the list is answered on, ahead of the proxy. */
export const MODELS_ROUTE = '/ai/v1/models';

/** `owned_by` of every listed model: the deployment is this control layer's to serve, not a vendor's. */
export const MODEL_OWNER = 'control-layer';

const REALTIME_FILTER: Readonly<Record<string, boolean>> = { true: true, false: false };

/**
 * `GET /ai/v1/models` answered from the database, as dwctl does (not proxied): the models the
 * key's owner reaches through their groups or Everyone, live and active, sorted by alias, in
 * OpenAI's list shape (so `client.models.list()` works). 401 `missing_authorization` without a
 * bearer token, 401 `invalid_api_key` for a key that is unknown, deleted, of a deleted user, or
 * not an inference key (platform and system keys included), so no caller without a valid key
 * learns anything. `available_for_realtime=true` hides models with a `realtime` deny rule,
 * `false` lists only those.
 *
 * @example
 * router.get(MODELS_ROUTE, modelsRoute({ db, logger, readDb: createReadRouter(…) }));
 */
export function modelsRoute(options: { db: Database; logger: ModelsRouteLogger; readDb?: ReadSource }): Middleware {
  const { db, logger, readDb } = options;
  // A read: on the replica while it is healthy and within its lag bound, else on the primary.
  const list: typeof listModelsForKey = readDb
    ? (_primary, secret, filter) => readDb.run((read) => listModelsForKey(read, secret, filter))
    : listModelsForKey;
  return async function modelsRoute(ctx: Context): Promise<void> {
    const token = bearerToken(ctx.get('authorization'));
    if (!token) return sendError(ctx, 'missing_authorization', 'Missing Authorization header');
    const filter = ctx.query.available_for_realtime;
    const availableForRealtime = filter === undefined ? undefined : REALTIME_FILTER[String(filter)];
    if (filter !== undefined && availableForRealtime === undefined) {
      return sendError(ctx, 'invalid_query_parameter', 'available_for_realtime must be true or false', {
        param: 'available_for_realtime',
      });
    }
    let models: Awaited<ReturnType<typeof listModelsForKey>>;
    try {
      models = await list(db, token, availableForRealtime === undefined ? {} : { availableForRealtime });
    } catch (error) {
      logger.warn({ err: describeError(error) }, 'model listing failed');
      return sendError(ctx, 'internal_error', 'The model list could not be read. Please try again later.');
    }
    if (!models) return sendError(ctx, 'invalid_api_key', 'Invalid API key');
    ctx.set('cache-control', 'no-store');
    ctx.body = {
      object: 'list',
      data: models.map((m) => ({ id: m.alias, object: 'model', created: m.created, owned_by: MODEL_OWNER })),
    };
  };
}

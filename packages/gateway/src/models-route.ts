import { type Database, describeError, listModelsForKey } from '@control-layer/db';
import {
  diagnoseDenial,
  dialectOf,
  INVALID_API_KEY_MESSAGE,
  MISSING_API_KEY_MESSAGE,
  modelAvailability,
  type ReadSource,
  requestApiKey,
  sendError,
} from '@control-layer/enrichment';
import type { Context, Middleware } from 'koa';
import { MODEL_LIST_SHAPES } from './model-list-shapes.ts';

/** pino-compatible. */
export interface ModelsRouteLogger {
  warn(fields: object, message: string): void;
}

/** The route the list is answered on, ahead of the proxy. */
export const MODELS_ROUTE = '/ai/v1/models';

const REALTIME_FILTER: Readonly<Record<string, boolean>> = { true: true, false: false };

/**
 * `GET /ai/v1/models` answered from the database, as dwctl does (not proxied): the models the
 * key's owner reaches through their groups or Everyone, live and active, sorted by alias, in
 * OpenAI's list shape, or Anthropic's for a request with `anthropic-version` (so
 * `client.models.list()` of either SDK works). The key is the bearer token, else `x-api-key`.
 * 401 `missing_authorization` without a key, 401 `invalid_api_key` for a key that is unknown,
 * deleted, of a deleted user, or not an inference key (platform and system keys included), so no
 * caller without a valid key learns anything; 401 `api_key_expired` for an expired key (as a
 * request with it is told). Each entry carries its `availability` for this key (the denial a
 * request to it would get, by the diagnosis's own rules; see `modelAvailability`). Errors are in
 * the request's dialect. `available_for_realtime=true` hides models with a `realtime` deny rule,
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
    const token = requestApiKey(ctx.req.headers);
    if (!token) return sendError(ctx, 'missing_authorization', MISSING_API_KEY_MESSAGE);
    const filter = ctx.query.available_for_realtime;
    const availableForRealtime = filter === undefined ? undefined : REALTIME_FILTER[String(filter)];
    if (filter !== undefined && availableForRealtime === undefined) {
      return sendError(ctx, 'invalid_query_parameter', 'available_for_realtime must be true or false', {
        param: 'available_for_realtime',
      });
    }
    let listing: Awaited<ReturnType<typeof listModelsForKey>>;
    try {
      listing = await list(db, token, availableForRealtime === undefined ? {} : { availableForRealtime });
    } catch (error) {
      logger.warn({ err: describeError(error) }, 'model listing failed');
      return sendError(ctx, 'internal_error', 'The model list could not be read. Please try again later.');
    }
    if (listing.kind === 'unknown') return sendError(ctx, 'invalid_api_key', INVALID_API_KEY_MESSAGE);
    if (listing.kind === 'refused') {
      // Only expiry is explained: any other refused key is no inference key, told nothing more.
      const denial = listing.key.expired ? diagnoseDenial(listing.key, null) : null;
      if (!denial) return sendError(ctx, 'invalid_api_key', INVALID_API_KEY_MESSAGE);
      return sendError(ctx, denial.code, denial.message, denial.extras);
    }
    ctx.set('cache-control', 'no-store');
    const entries = listing.models.map((m) => ({
      alias: m.alias,
      created: m.created,
      availability: modelAvailability(m.facts, m.alias),
    }));
    ctx.body = MODEL_LIST_SHAPES[dialectOf(ctx)](entries);
  };
}

import { type Database, describeError } from '@control-layer/db';
import type { ReadSource } from './denial-lookup.ts';
import type { DenialCode } from './error-codes.ts';
import { HelpUrlError, type HelpUrls, parseHelpUrls } from './help-urls.ts';
import { DEFAULT_LINGER, type LingerLimits } from './lingering-close.ts';

/** pino-compatible: `logger.warn({ requestId }, 'message')`. */
export interface EnrichmentLogger {
  warn(fields: object, message: string): void;
  debug?(fields: object, message: string): void;
}

/** Why a response left the middleware unchanged; a closed set, fit for a metrics label. */
export const PASS_THROUGH_REASONS = [
  'status',
  'no_token',
  'unknown_key',
  'unexplained',
  'timeout',
  'db_error',
] as const;
export type PassThroughReason = (typeof PASS_THROUGH_REASONS)[number];

export interface EnrichedEvent {
  code: DenialCode;
  status: number;
  requestId: string | null;
}

export interface PassThroughEvent {
  reason: PassThroughReason;
  status: number;
  requestId: string | null;
}

export interface ErrorEnrichmentOptions {
  /** The database the keys, groups, rules and ledger live in. */
  db: Database;
  /**
   * Largest request body accepted, in bytes; larger ones get a 413 before reaching downstream.
   * @default 10485760 (10 MiB)
   */
  maxBodyBytes?: number;
  /**
   * After a 413, how long the rest of the refused upload is read and discarded before the
   * connection closes, in ms (nginx's `lingering_time`). Closing with unread bytes would reset the
   * connection, and most clients would see the reset instead of the 413.
   * @default 30000
   */
  lingeringTimeMs?: number;
  /**
   * After a 413, the longest silence from the client while discarding, in ms (nginx's
   * `lingering_timeout`).
   * @default 5000
   */
  lingeringTimeoutMs?: number;
  /**
   * Time budget of the diagnosis, in ms. Past it the original response passes through unchanged.
   * @default 1000
   */
  timeoutMs?: number;
  /**
   * Where warnings go (a diagnosis that failed or timed out).
   * @default a logger that writes nothing
   */
  logger?: EnrichmentLogger;
  /**
   * Where the diagnosis runs: a read replica router (`createReadRouter` from `@control-layer/db`),
   * which uses the replica while it is healthy and fresh and `db` otherwise.
   * @default `db`
   */
  readDb?: ReadSource;
  /**
   * Concurrent diagnoses of the same key and model share one statement.
   * @default true
   */
  coalesce?: boolean;
  /**
   * How long after a statement started a diagnosis may still share it, in ms: the most a shared
   * verdict can predate the request it answers.
   * @default 100
   */
  coalesceWindowMs?: number;
  /**
   * Least time between two `api_key_spend_cap_boundary` notifications to the router, in ms
   * (per middleware, so per process in the gateway).
   * @default 60000
   */
  boundaryResyncIntervalMs?: number;
  /**
   * A page per denial code telling the caller how to fix it (absolute http(s) URLs). An explained
   * denial with a URL carries `help_url` in `error` and a `link: <url>; rel="help"` header.
   * @default none
   */
  helpUrls?: HelpUrls;
  /** Called after a response was replaced by an explained error. */
  onEnriched?: (event: EnrichedEvent) => void;
  /** Called when a response is left as it was, with the reason. */
  onPassThrough?: (event: PassThroughEvent) => void;
}

export interface ResolvedOptions {
  db: Database;
  readDb: ReadSource | undefined;
  coalesce: boolean;
  coalesceWindowMs: number;
  maxBodyBytes: number;
  linger: LingerLimits;
  timeoutMs: number;
  logger: EnrichmentLogger;
  onEnriched: (event: EnrichedEvent) => void;
  onPassThrough: (event: PassThroughEvent) => void;
  boundaryResyncIntervalMs: number;
  helpUrls: Readonly<HelpUrls>;
}

/** Thrown by `errorEnrichment()` itself, at start-up, for options it cannot work with. */
export class EnrichmentOptionsError extends TypeError {
  override readonly name = 'EnrichmentOptionsError';
}

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 1000;
export const DEFAULT_COALESCE_WINDOW_MS = 100;
export const DEFAULT_BOUNDARY_RESYNC_INTERVAL_MS = 60_000;
// setTimeout's ceiling; a larger delay fires at once.
const MAX_TIMER_MS = 2_147_483_647;

const silent: EnrichmentLogger = { warn: () => {} };

/** A hook that can fail without failing the response it reports on (metrics must not break traffic). */
function guarded<E>(
  hook: ((event: E) => void) | undefined,
  name: string,
  logger: EnrichmentLogger,
): (event: E) => void {
  if (!hook) return () => {};
  return (event) => {
    try {
      hook(event);
    } catch (error) {
      logger.warn({ err: describeError(error) }, `errorEnrichment: ${name} hook threw`);
    }
  };
}

function isFunction(value: unknown): value is (...args: never[]) => unknown {
  return typeof value === 'function';
}

/** Validate once and fill in defaults, without touching the caller's object. */
export function resolveOptions(options: ErrorEnrichmentOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new EnrichmentOptionsError('errorEnrichment: options must be an object with at least `db`');
  }
  const {
    db,
    maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    lingeringTimeMs = DEFAULT_LINGER.lingeringTimeMs,
    lingeringTimeoutMs = DEFAULT_LINGER.lingeringTimeoutMs,
    logger = silent,
    boundaryResyncIntervalMs = DEFAULT_BOUNDARY_RESYNC_INTERVAL_MS,
  } = options;
  if (!db || !isFunction((db as { execute?: unknown }).execute)) {
    throw new EnrichmentOptionsError('errorEnrichment: `db` must be a database from openDatabase()');
  }
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes <= 0) {
    throw new EnrichmentOptionsError(
      `errorEnrichment: \`maxBodyBytes\` must be a positive integer, got ${maxBodyBytes}`,
    );
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMER_MS) {
    throw new EnrichmentOptionsError(
      `errorEnrichment: \`timeoutMs\` must be between 1 and ${MAX_TIMER_MS}, got ${timeoutMs}`,
    );
  }
  for (const [name, value] of [
    ['lingeringTimeMs', lingeringTimeMs],
    ['lingeringTimeoutMs', lingeringTimeoutMs],
  ] as const) {
    if (!Number.isSafeInteger(value) || value <= 0 || value > MAX_TIMER_MS) {
      throw new EnrichmentOptionsError(
        `errorEnrichment: \`${name}\` must be between 1 and ${MAX_TIMER_MS}, got ${value}`,
      );
    }
  }
  if (!Number.isFinite(boundaryResyncIntervalMs) || boundaryResyncIntervalMs < 0) {
    throw new EnrichmentOptionsError(
      `errorEnrichment: \`boundaryResyncIntervalMs\` must be a non-negative number, got ${boundaryResyncIntervalMs}`,
    );
  }
  if (!isFunction(logger?.warn)) {
    throw new EnrichmentOptionsError('errorEnrichment: `logger` must have a warn(fields, message) method');
  }
  if (options.readDb !== undefined && !isFunction((options.readDb as { run?: unknown } | null)?.run)) {
    throw new EnrichmentOptionsError('errorEnrichment: `readDb` must have a run(work) method (createReadRouter)');
  }
  if (options.coalesce !== undefined && typeof options.coalesce !== 'boolean') {
    throw new EnrichmentOptionsError('errorEnrichment: `coalesce` must be a boolean');
  }
  const { coalesceWindowMs = DEFAULT_COALESCE_WINDOW_MS } = options;
  if (!Number.isFinite(coalesceWindowMs) || coalesceWindowMs < 0 || coalesceWindowMs > MAX_TIMER_MS) {
    throw new EnrichmentOptionsError(
      `errorEnrichment: \`coalesceWindowMs\` must be between 0 and ${MAX_TIMER_MS}, got ${coalesceWindowMs}`,
    );
  }
  for (const hook of ['onEnriched', 'onPassThrough'] as const) {
    if (options[hook] !== undefined && !isFunction(options[hook])) {
      throw new EnrichmentOptionsError(`errorEnrichment: \`${hook}\` must be a function`);
    }
  }
  let helpUrls: Readonly<HelpUrls> = {};
  try {
    if (options.helpUrls !== undefined) helpUrls = parseHelpUrls(options.helpUrls, 'errorEnrichment: `helpUrls`');
  } catch (error) {
    if (error instanceof HelpUrlError) throw new EnrichmentOptionsError(error.message, { cause: error });
    throw error;
  }
  return {
    db,
    readDb: options.readDb,
    helpUrls,
    coalesce: options.coalesce ?? true,
    coalesceWindowMs,
    maxBodyBytes,
    linger: { lingeringTimeMs, lingeringTimeoutMs },
    timeoutMs,
    logger,
    onEnriched: guarded(options.onEnriched, 'onEnriched', logger),
    onPassThrough: guarded(options.onPassThrough, 'onPassThrough', logger),
    boundaryResyncIntervalMs,
  };
}

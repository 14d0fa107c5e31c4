import type { IncomingMessage } from 'node:http';
import {
  hasBody,
  isRequestTooLarge,
  isUnforwardableBody,
  requestIdOf,
  sendError,
  takeWholeBody,
} from '@control-layer/enrichment';
import type { Context, Middleware } from 'koa';
import type { Dispatcher } from 'undici';
import { endToEndHeaders } from './hop-by-hop.ts';
import { REQUEST_ID_HEADER } from './request-id.ts';
import type { GatewayTracing } from './request-tracing.ts';
import { type UpstreamFailureCode, upstreamFailure } from './upstream-errors.ts';
import { UpstreamExchange } from './upstream-exchange.ts';
import { isInsideUpstreamRoot } from './upstream-path.ts';

/** pino-compatible. */
export interface ProxyLogger {
  warn(fields: object, message: string): void;
  debug(fields: object, message: string): void;
}

export interface ProxyOptions {
  /**
   * Base URL of the upstream; a request for `${mountPath}/v1/x?q` goes to `${upstreamUrl}/v1/x?q`.
   * A path that would resolve outside `${upstreamUrl}/v1` is refused with a 400 `bad_request`.
   */
  upstreamUrl: string;
  /** Connection pool to the upstream's origin (see `createUpstreamPool`); owned by the caller. */
  dispatcher: Dispatcher;
  /**
   * The part of the incoming path that the upstream does not see.
   * @default '/ai'
   */
  mountPath?: string;
  /**
   * Time to wait for the upstream's response headers, in ms; past it the client gets a 504.
   * @default 300000
   */
  headersTimeoutMs?: number;
  /**
   * Longest silence between two chunks of the upstream's body, in ms; past it the response is cut.
   * @default 300000
   */
  bodyTimeoutMs?: number;
  /** @default a logger that writes nothing */
  logger?: ProxyLogger;
  /** Called when the upstream's response headers arrive. */
  onUpstreamResponse?: (event: { status: number; seconds: number }) => void;
  /** Called when no upstream response came, with the error code sent to the client instead. */
  onUpstreamFailure?: (event: { code: UpstreamFailureCode; seconds: number }) => void;
  /**
   * A span per upstream call, whose `traceparent` the upstream gets.
   * @default none (the client's own `traceparent`, if any, passes through like any header)
   */
  tracing?: GatewayTracing['upstream'];
}

/** Request headers the upstream must not get from the client. */
const REQUEST_DROP: ReadonlySet<string> = new Set([
  // The upstream's own host goes out instead.
  'host',
  // Node answered any `100-continue` already, and undici refuses to send `expect`.
  'expect',
  // Set to the gateway's id below.
  REQUEST_ID_HEADER,
]);

const silent: ProxyLogger = { warn: () => {}, debug: () => {} };

/**
 * A streaming reverse proxy to an OpenAI-compatible upstream: method, path, query, end-to-end
 * headers and body bytes go out unchanged; status, headers and body come back as they arrive, so
 * server-sent events reach the client chunk by chunk. An unreachable upstream becomes a 502
 * `upstream_unavailable`, a slow one a 504 `upstream_timeout`; a client that goes away cancels
 * the upstream request.
 *
 * @example
 * const pool = createUpstreamPool('http://127.0.0.1:3001');
 * router.all('/ai/v1{/*path}', proxy({ upstreamUrl: 'http://127.0.0.1:3001', dispatcher: pool }));
 */
export function proxy(options: ProxyOptions): Middleware {
  const {
    dispatcher,
    mountPath = '/ai',
    headersTimeoutMs = 300_000,
    bodyTimeoutMs = 300_000,
    logger = silent,
    onUpstreamResponse = () => {},
    onUpstreamFailure = () => {},
    tracing,
  } = options;
  const settings = { logger, onUpstreamResponse };
  const base = new URL(options.upstreamUrl);
  const basePath = base.pathname.replace(/\/+$/, '');
  const upstreamRoot = `${basePath}/v1`;
  if (!dispatcher || typeof dispatcher.dispatch !== 'function') {
    throw new TypeError('proxy: `dispatcher` must be an undici Dispatcher (see createUpstreamPool)');
  }

  return async function proxy(ctx: Context): Promise<void> {
    if (!ctx.url.startsWith(mountPath)) {
      ctx.status = 404;
      return;
    }
    const path = basePath + ctx.url.slice(mountPath.length);
    // An upstream that resolves `..`, `%2e`, `\` or a decoded `%2f` would otherwise serve a path
    // outside its `/v1` (RFC 3986 §5.2.4, WHATWG URL path parsing).
    if (!isInsideUpstreamRoot(base.origin, upstreamRoot, path)) {
      sendError(ctx, 'bad_request', 'The request path leaves /v1 once its dot segments are resolved.');
      return;
    }
    const requestId = requestIdOf(ctx);
    const headers = endToEndHeaders(ctx.req.headers, REQUEST_DROP);
    if (requestId) headers[REQUEST_ID_HEADER] = requestId;
    const endSpan = tracing?.(ctx, headers);

    // The body streams upstream as it arrives (through errorEnrichment's capture when mounted),
    // unless errorEnrichment already holds all of a small one: a buffer is cheaper to send.
    let body: IncomingMessage | Buffer | null = hasBody(ctx.req) ? ctx.req : null;
    const whole = body ? takeWholeBody(ctx.req) : null;
    if (whole) {
      // undici sets the length of a buffer itself, and refuses a header that disagrees (a
      // `delete` only when it does: it would turn the header object into a slower dictionary).
      if (headers['content-length'] !== String(whole.length)) delete headers['content-length'];
      body = whole;
    }

    const exchange = new UpstreamExchange(ctx, settings, requestId, endSpan);
    let piped: boolean;
    try {
      piped = await exchange.start(dispatcher, {
        path,
        method: ctx.method as Dispatcher.HttpMethod,
        headers,
        body,
        headersTimeout: headersTimeoutMs,
        bodyTimeout: bodyTimeoutMs,
      });
    } catch (error) {
      // The body crossed errorEnrichment's size limit on the way, which aborted the upstream
      // request: the refusal is errorEnrichment's to answer. A body that a parser in front read
      // and cannot give back byte for byte is the client's 400, not an upstream failure.
      if (isRequestTooLarge(error) || isUnforwardableBody(error)) {
        exchange.finishSpan({ error: isRequestTooLarge(error) ? 'request_too_large' : 'unforwardable_body' });
        throw error;
      }
      if (exchange.aborted) {
        exchange.finishSpan({ error: 'client_aborted' });
        // Nobody is left to answer; 499 (nginx's "client closed request") keeps the logs honest.
        ctx.status = 499;
        logger.debug({ requestId }, 'client went away before the upstream answered');
        return;
      }
      const failure = upstreamFailure(error);
      exchange.finishSpan({ error: failure.code });
      onUpstreamFailure({ code: failure.code, seconds: exchange.seconds() });
      logger.warn({ requestId, err: failure.detail, upstream: base.origin }, failure.logMessage);
      sendError(ctx, failure.code, failure.message);
      return;
    }
    // A success is already on its way to the client, straight from the upstream's socket.
    if (piped) return;
    // Errors stay Koa bodies, for error enrichment and the error headers to work on.
    ctx.body = exchange.errorBody();
    // Koa labels a stream or a buffer `application/octet-stream`; the client must see what the upstream sent.
    if (!exchange.typed) ctx.remove('content-type');
  };
}

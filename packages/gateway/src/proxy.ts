import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
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

/** Error bodies up to this size, with a declared length, are passed on as one buffer when they arrived whole. */
const BUFFERED_ERROR_MAX_BYTES = 64 * 1024;

/** Response headers the client must not get from the upstream: the gateway's request id wins. */
const RESPONSE_DROP: ReadonlySet<string> = new Set([REQUEST_ID_HEADER]);

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
  const base = new URL(options.upstreamUrl);
  const basePath = base.pathname.replace(/\/+$/, '');
  const upstreamRoot = `${basePath}/v1`;
  if (!dispatcher || typeof dispatcher.request !== 'function') {
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
      // undici sets the length of a buffer itself, and refuses a header that disagrees.
      delete headers['content-length'];
      body = whole;
    }

    // The client leaving before the response is complete cancels the upstream request: before
    // its headers through the signal, after them by destroying the body being piped. undici takes
    // an EventEmitter as a signal, which is cheaper than an AbortController per request.
    const signal = new EventEmitter();
    let aborted = false;
    // A success piped straight to the client (see pipeToClient), destroyed here if the client leaves.
    let piped: Readable | null = null;
    ctx.res.once('close', () => {
      if (ctx.res.writableFinished) return;
      aborted = true;
      signal.emit('abort');
      piped?.destroy();
    });

    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    let response: Dispatcher.ResponseData;
    try {
      response = await dispatcher.request({
        path,
        method: ctx.method,
        headers,
        body,
        signal,
        headersTimeout: headersTimeoutMs,
        bodyTimeout: bodyTimeoutMs,
      });
    } catch (error) {
      // The body crossed errorEnrichment's size limit on the way, which aborted the upstream
      // request: the refusal is errorEnrichment's to answer. A body that a parser in front read
      // and cannot give back byte for byte is the client's 400, not an upstream failure.
      if (isRequestTooLarge(error) || isUnforwardableBody(error)) {
        endSpan?.({ error: isRequestTooLarge(error) ? 'request_too_large' : 'unforwardable_body' });
        throw error;
      }
      if (aborted) {
        endSpan?.({ error: 'client_aborted' });
        // Nobody is left to answer; 499 (nginx's "client closed request") keeps the logs honest.
        ctx.status = 499;
        logger.debug({ requestId }, 'client went away before the upstream answered');
        return;
      }
      const failure = upstreamFailure(error);
      endSpan?.({ error: failure.code });
      onUpstreamFailure({ code: failure.code, seconds: seconds() });
      logger.warn({ requestId, err: failure.detail, upstream: base.origin }, failure.logMessage);
      sendError(ctx, failure.code, failure.message);
      return;
    }
    onUpstreamResponse({ status: response.statusCode, seconds: seconds() });
    // The call lasts until its body is read to the end (or cut): a stream's span covers the stream.
    if (endSpan) response.body.once('close', () => endSpan({ status: response.statusCode }));

    const upstreamBody: Readable = response.body;
    // Without a listener, an upstream body destroyed with an error (the client left, a body
    // timeout) throws UND_ERR_ABORTED out of the event loop and takes the process down.
    upstreamBody.on('error', (error: Error & { code?: string }) => {
      logger.debug({ requestId, err: error.code ?? error.message }, 'upstream body ended early');
    });

    ctx.status = response.statusCode;
    const responseHeaders = endToEndHeaders(response.headers, RESPONSE_DROP);
    // Straight onto the response (what ctx.set does, less its per-call checks): undici hands out
    // strings and arrays of strings only.
    const res = ctx.res;
    for (const name in responseHeaders) res.setHeader(name, responseHeaders[name] as string | string[]);
    if (response.statusCode >= 200 && response.statusCode < 300) {
      // A success is the upstream's to the last byte: no middleware rewrites it, so it is piped
      // straight to the socket. Koa's own pipeline would cost an AbortController and a
      // stream.pipeline per request (the largest per-request cost in the pass-through profile).
      piped = upstreamBody;
      pipeToClient(ctx, upstreamBody);
      return;
    }
    // Errors stay Koa bodies, for error enrichment and the error headers to work on. A small one
    // of known length (a router's 403) that has arrived whole with its headers is taken as a
    // buffer: replacing it then releases nothing, so the upstream connection is kept, and passing it
    // on is a plain write rather than a pipeline. One still on its way is never waited for here
    // (an upstream that stalls mid-body would hold the answer until `bodyTimeoutMs`): it stays a
    // stream, which error enrichment can replace at once, and Koa destroys the replaced stream,
    // which releases the upstream connection.
    const length = Number(response.headers['content-length']);
    const arrived = upstreamBody.readableLength;
    if (response.statusCode >= 400 && length > 0 && length <= BUFFERED_ERROR_MAX_BYTES && arrived >= length) {
      ctx.body = upstreamBody.read(arrived) as Buffer;
      // Nothing is left but the end of the stream: let it end, as a fully read body does.
      upstreamBody.resume();
    } else {
      ctx.body = upstreamBody;
    }
    // Koa labels a stream or a buffer `application/octet-stream`; the client must see what the upstream sent.
    if (responseHeaders['content-type'] === undefined) ctx.remove('content-type');
  };
}

/**
 * Write the status and headers set on `ctx` so far and pipe `body` to the client, bypassing Koa's
 * response handling. A body that fails mid-way cuts the client's connection, so a truncated
 * stream is never mistaken for a complete one. A client that leaves destroys the body, which
 * aborts the upstream request: the proxy's own `close` listener does it, so no second one is added.
 */
function pipeToClient(ctx: Context, body: Readable): void {
  const res = ctx.res;
  ctx.respond = false;
  // The headers are on `res` already (ctx.set writes through): passing a copy would validate and set
  // every one of them a second time.
  res.writeHead(ctx.status);
  body.once('error', () => res.destroy());
  body.pipe(res);
}

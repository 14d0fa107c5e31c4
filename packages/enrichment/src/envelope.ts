import type { OutgoingHttpHeaders } from 'node:http';
import type { Context } from 'koa';
import { type Dialect, dialectOf, ENVELOPES } from './dialect.ts';
import { ERROR_SPECS, type ErrorCode, type ErrorType } from './error-codes.ts';

/** Fields beyond the envelope's own that an error may carry, inside `error` where the SDKs keep them. */
export type ErrorExtras = Record<string, string | number | boolean | null>;

/** The OpenAI body (see `openaiEnvelope`). */
export interface ErrorBody {
  error: {
    message: string;
    type: ErrorType;
    code: ErrorCode;
    param: string | null;
    request_id: string | null;
    [extra: string]: string | number | boolean | null;
  };
}

/** What an error says, whichever dialect it is written in. */
export interface ErrorFields {
  code: ErrorCode;
  message: string;
  requestId: string | null;
  extras: ErrorExtras;
}

/** How one dialect writes an error: its JSON body, and the headers its clients read beside it. */
export interface Envelope {
  body(fields: ErrorFields): object;
  /** E.g. the request id under the header name the dialect's SDK reads. */
  headers(requestId: string | null): Readonly<Record<string, string>>;
}

/** An error ready to send: status, JSON body, and the headers beyond `content-type: application/json`. */
export interface ErrorResponse {
  status: number;
  body: object;
  headers: Record<string, string>;
}

/**
 * The one error writer: an error's code, message, extras and own headers (a rule's `retry-after`),
 * written in a dialect. Rules and the gateway never build a body by hand, so every error of a
 * request reads the same way to its client.
 */
export function errorResponse(
  dialect: Dialect,
  fields: ErrorFields,
  headers: Readonly<Record<string, string>> = {},
): ErrorResponse {
  const spec = ERROR_SPECS[fields.code];
  const envelope = ENVELOPES[dialect];
  // The SDKs check this header before the status: a denial or an oversize body won't pass on
  // retry; a retryable code (a cap window that has just reset) will.
  const retry: Record<string, string> = spec.retryable
    ? { 'x-should-retry': 'true' }
    : spec.status < 500 && spec.status !== 408
      ? { 'x-should-retry': 'false' }
      : {};
  return {
    status: spec.status,
    body: envelope.body(fields),
    headers: { ...retry, ...envelope.headers(fields.requestId), ...headers },
  };
}

/** The OpenAI body of an error (the `openai` dialect of `errorResponse`). */
export function errorEnvelope(
  code: ErrorCode,
  message: string,
  requestId: string | null,
  extras: ErrorExtras = {},
): ErrorBody {
  return ENVELOPES.openai.body({ code, message, requestId, extras }) as ErrorBody;
}

// A sane id is short and printable; anything else is never echoed back (header or log injection).
const SANE_REQUEST_ID = /^[\w.:@/+=-]{1,128}$/;

/** Whether a client- or gateway-supplied request id may be echoed back. */
export function isSaneRequestId(value: string | undefined): value is string {
  return value !== undefined && SANE_REQUEST_ID.test(value);
}

// The response's request id once found sane, on `ctx.state`: an exchange asks for it several times.
const CHECKED_REQUEST_ID = Symbol('checkedRequestId');

/** The request id of this exchange: the one the gateway set on the response, else a sane one the client sent. */
export function requestIdOf(ctx: Context): string | null {
  const fromResponse = ctx.res.getHeader('x-request-id');
  if (typeof fromResponse !== 'string') return saneFromRequest(ctx);
  const state = ctx.state as { [CHECKED_REQUEST_ID]?: string };
  if (state[CHECKED_REQUEST_ID] === fromResponse) return fromResponse;
  if (isSaneRequestId(fromResponse)) {
    state[CHECKED_REQUEST_ID] = fromResponse;
    return fromResponse;
  }
  return saneFromRequest(ctx);
}

function saneFromRequest(ctx: Context): string | null {
  const fromRequest = ctx.req.headers['x-request-id'];
  return typeof fromRequest === 'string' && isSaneRequestId(fromRequest) ? fromRequest : null;
}

/**
 * Let go of a response body that is being replaced. An upstream body that can be drained (undici's
 * `dump()`) is read to its end and discarded, so its kept-alive connection is reused; any other
 * stream is destroyed.
 */
function releaseBody(body: unknown): void {
  if (!body || typeof body !== 'object') return;
  const { dump, destroy } = body as { dump?: unknown; destroy?: unknown };
  if (typeof dump === 'function') {
    (dump.call(body) as Promise<void>).catch(() => {});
  } else if (typeof destroy === 'function') {
    destroy.call(body);
  }
}

// Headers that describe a body or a connection: never carried over to a new answer.
const REPRESENTATION_HEADERS: ReadonlySet<string> = new Set([
  'content-length',
  'content-encoding',
  'content-range',
  'content-md5',
  'content-type',
  'etag',
  'last-modified',
  'transfer-encoding',
  'connection',
  'keep-alive',
]);

// What described the body being replaced (content-type is overwritten with the new body's own).
const OLD_BODY_HEADERS: ReadonlySet<string> = new Set([
  'content-length',
  'content-encoding',
  'content-range',
  'content-md5',
  'etag',
  'transfer-encoding',
]);

/** The content type of every error body, as Koa's `ctx.type = 'application/json'` writes it. */
const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * Make `headers` (taken before anything downstream ran: the app's own, such as the request id
 * and security headers) the only headers of the response, dropping everything set since (an
 * upstream's `set-cookie`, `www-authenticate`, `retry-after`, private `x-…` headers).
 */
export function restoreOwnHeaders(ctx: Context, headers: OutgoingHttpHeaders): void {
  const res = ctx.res;
  // An own header still holding its own value stays where it is; only what changed is touched.
  for (const name of res.getHeaderNames()) {
    const own = headers[name];
    if (own === undefined || REPRESENTATION_HEADERS.has(name) || res.getHeader(name) !== own) res.removeHeader(name);
  }
  // Removing an upstream's `date` also turns off Node's own (sendDate); the answer is ours and dated now.
  res.sendDate = true;
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !REPRESENTATION_HEADERS.has(name) && !res.hasHeader(name)) res.setHeader(name, value);
  }
}

/**
 * Replace whatever response is in `ctx` by an error in the request's dialect (`dialectOf`), with
 * `headers` (a rule's own, such as `retry-after`) on top of the envelope's. The headers that
 * described the old body (length, encoding, ranges) go with it, and a streamed old body is
 * destroyed so the connection behind it (an upstream response) is released.
 */
export function sendError(
  ctx: Context,
  code: ErrorCode,
  message: string,
  extras: ErrorExtras = {},
  headers: Readonly<Record<string, string>> = {},
): void {
  releaseBody(ctx.body);
  const res = ctx.res;
  const response = errorResponse(dialectOf(ctx), { code, message, requestId: requestIdOf(ctx), extras }, headers);
  if (res.headersSent) {
    // Too late for an answer of ours; Koa's setters below do nothing but record it.
    ctx.status = response.status;
    ctx.body = response.body;
    return;
  }
  for (const name of res.getHeaderNames()) if (OLD_BODY_HEADERS.has(name)) res.removeHeader(name);
  ctx.status = response.status;
  // Set before the body: Koa's JSON body keeps a JSON type already there (it would keep an
  // upstream's `application/problem+json` too), so this is the one content-type written.
  res.setHeader('content-type', JSON_CONTENT_TYPE);
  ctx.body = response.body;
  for (const name in response.headers) res.setHeader(name, response.headers[name] as string);
}

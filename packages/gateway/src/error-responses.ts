import type { Socket } from 'node:net';
import { describeError, stackFrames } from '@control-layer/db';
import { type Dialect, type ErrorCode, errorResponse, requestDialect, sendError } from '@control-layer/enrichment';
import type { Context, Middleware, Next } from 'koa';

/** pino-compatible. */
export interface ErrorResponsesLogger {
  error(fields: object, message: string): void;
}

// Statuses a client error thrown inside the app may carry, and the code each is answered with.
const CLIENT_ERROR_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'bad_request',
  404: 'not_found',
  405: 'method_not_allowed',
  408: 'request_timeout',
  413: 'request_too_large',
  431: 'headers_too_large',
};

const INTERNAL_MESSAGE = 'The gateway could not complete the request. Please try again later.';

/**
 * The gateway's own errors in the request's dialect: an unknown route (404), a method a route does
 * not take (405), a client error thrown inside the app, and anything unexpected, which becomes a
 * 500 whose body names nothing internal (the details go to the log with the request id).
 * Responses that already have a body, the upstream's included, are left alone.
 *
 * @example
 * app.use(errorResponses({ logger }));
 */
export function errorResponses(options: { logger: ErrorResponsesLogger }): Middleware {
  const { logger } = options;
  return async function errorResponses(ctx: Context, next: Next): Promise<void> {
    try {
      await next();
    } catch (error) {
      answerThrown(ctx, error, logger);
      return;
    }
    answerUnanswered(ctx);
  };
}

/** The answer to an error thrown below `errorResponses()`: a client error's own, else a 500. */
export function answerThrown(ctx: Context, error: unknown, logger: ErrorResponsesLogger): void {
  const status = (error as { status?: unknown }).status;
  const expose = (error as { expose?: unknown }).expose === true;
  const code = typeof status === 'number' && expose ? CLIENT_ERROR_CODES[status] : undefined;
  if (code) {
    sendError(ctx, code, (error as Error).message);
    return;
  }
  logger.error(
    {
      requestId: ctx.state.requestId,
      err: describeError(error),
      stack: stackFrames(error),
    },
    'request failed',
  );
  sendError(ctx, 'internal_error', INTERNAL_MESSAGE);
}

/** The 404 or 405 in the envelope, for a response nothing below `errorResponses()` gave a body. */
export function answerUnanswered(ctx: Context): void {
  if (ctx.body != null) return;
  if (ctx.status === 404) sendError(ctx, 'not_found', `Unknown request URL: ${ctx.method} ${ctx.path}`);
  // The router's 501 is for a method it knows on no route (TRACE, PROPFIND): Koa would answer it
  // in plain text; the route takes none of those, so it is the 405 in the envelope.
  else if (ctx.status === 405 || ctx.status === 501)
    sendError(ctx, 'method_not_allowed', `Method ${ctx.method} is not allowed on ${ctx.path}`);
}

const CLIENT_ERROR_STATUS: Readonly<Record<string, [number, string, ErrorCode]>> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'headers_too_large'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'request_timeout'],
};

/**
 * The dialect of a request Node could not parse, from what arrived of it (`rawPacket`): the path of
 * its request line and whether an `anthropic-version` header came before the fault.
 */
function rawDialect(packet: Buffer | undefined): Dialect {
  if (!packet) return 'openai';
  const head = packet.subarray(0, 16 * 1024).toString('latin1');
  const end = head.indexOf('\r\n\r\n');
  const [line = '', ...headers] = (end === -1 ? head : head.slice(0, end)).split('\r\n');
  const target = line.split(' ')[1] ?? '';
  const query = target.indexOf('?');
  const versioned = headers.some((header) => /^anthropic-version[ \t]*:/i.test(header));
  return requestDialect(query === -1 ? target : target.slice(0, query), versioned ? '' : undefined);
}

/**
 * Node's answer to a request it cannot even parse (bad request line, invalid header characters,
 * conflicting lengths, oversized headers), in the envelope rather than a bare status line. The
 * connection is closed after it, as Node does.
 */
export function onClientError(error: Error & { code?: string; rawPacket?: Buffer }, socket: Socket): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, reason, code] = CLIENT_ERROR_STATUS[error.code ?? ''] ?? [400, 'Bad Request', 'bad_request'];
  const answer = errorResponse(rawDialect(error.rawPacket), {
    code,
    message: 'The request could not be parsed as HTTP/1.1.',
    requestId: null,
    extras: {},
  });
  const body = JSON.stringify(answer.body);
  const own = Object.entries(answer.headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\ndate: ${new Date().toUTCString()}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `${own}x-content-type-options: nosniff\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`,
  );
}

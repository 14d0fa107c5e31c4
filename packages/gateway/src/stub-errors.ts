import { randomUUID } from 'node:crypto';
import { anthropicErrorType, requestDialect } from '@control-layer/enrichment';
import type { Context } from 'koa';

/** The statuses of the stub's own errors. Its denial is not one: that is onwards' bare 403, byte for byte. */
export const STUB_ERROR_STATUSES = [400, 401, 404, 413, 503] as const;
export type StubErrorStatus = (typeof STUB_ERROR_STATUSES)[number];

/** The OpenAI error `type` of each status, as onwards writes it (Anthropic's comes from its table). */
const OPENAI_ERROR_TYPES: Record<StubErrorStatus, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  404: 'invalid_request_error',
  413: 'invalid_request_error',
  503: 'api_error',
};

/**
 * Answer with one of the stub's own errors in the request's dialect: Anthropic's envelope
 * (`{"type":"error","error":{type,message,code},"request_id"}`) on the Messages API or when the
 * client sent `anthropic-version`, else OpenAI's (`{"error":{message,type,param,code}}`, which for
 * the 401 is onwards' body byte for byte). The status is the same in both.
 */
export function stubError(ctx: Context, status: StubErrorStatus, message: string, code: string | null): void {
  const dialect = requestDialect(ctx.path, ctx.headers['anthropic-version']);
  const type = dialect === 'anthropic' ? anthropicErrorType(status) : OPENAI_ERROR_TYPES[status];
  ctx.status = status;
  ctx.body =
    dialect === 'anthropic'
      ? {
          type: 'error',
          error: { type, message, ...(code !== null && { code }) },
          // The gateway sends its request id upstream; echo it, as Anthropic echoes its own.
          request_id: ctx.get('x-request-id') || `req_stub_${randomUUID().replaceAll('-', '')}`,
        }
      : { error: { message, type, param: null, code } };
}

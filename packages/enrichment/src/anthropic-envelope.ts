import type { Envelope, ErrorFields } from './envelope.ts';
import { ERROR_SPECS } from './error-codes.ts';

/** The error `type`s of Anthropic's API, which its SDKs and Claude Code show. */
export type AnthropicErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'billing_error'
  | 'permission_error'
  | 'not_found_error'
  | 'request_too_large'
  | 'rate_limit_error'
  | 'api_error'
  | 'timeout_error'
  | 'overloaded_error';

/** Anthropic's documented type for each status ("Errors" in its API reference). */
export const ANTHROPIC_ERROR_TYPES: Readonly<Record<number, AnthropicErrorType>> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  502: 'api_error',
  503: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

/** The type of a status: Anthropic's own, else the class's (a client error, or the API's). */
export function anthropicErrorType(status: number): AnthropicErrorType {
  return ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/**
 * Anthropic's error body, `{ type: "error", error: { type, message, code, …extras }, request_id }`,
 * with the same message, code and extras as the OpenAI body. The Anthropic SDK keeps the whole
 * body as `err.error` and reads `err.requestID` from the `request-id` header, not `x-request-id`.
 */
export const anthropicEnvelope: Envelope = {
  body: ({ code, message, requestId, extras }: ErrorFields) => ({
    type: 'error',
    error: { type: anthropicErrorType(ERROR_SPECS[code].status), message, code, ...extras },
    request_id: requestId,
  }),
  headers: (requestId): Record<string, string> =>
    requestId === null ? {} : { 'request-id': requestId, 'x-request-id': requestId },
};

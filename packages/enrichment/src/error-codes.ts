/**
 * The closed vocabulary of errors this project writes. Adding a code fails to compile until the
 * table below knows its status and type (design.md §4).
 */
export const ERROR_CODES = [
  'api_key_expired',
  'non_inference_key',
  'model_access_denied',
  'modality_blocked',
  'insufficient_credits',
  'spend_cap_exceeded',
  'spend_cap_reset_pending',
  'missing_authorization',
  'invalid_api_key',
  'invalid_query_parameter',
  'request_too_large',
  'upstream_unavailable',
  'upstream_timeout',
  'bad_request',
  'not_found',
  'method_not_allowed',
  'request_timeout',
  'headers_too_large',
  'internal_error',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The codes that explain a router's denial, in the order the checks run. */
export const DENIAL_CODES = [
  'api_key_expired',
  'non_inference_key',
  'model_access_denied',
  'modality_blocked',
  'insufficient_credits',
  'spend_cap_exceeded',
  'spend_cap_reset_pending',
] as const;
export type DenialCode = (typeof DENIAL_CODES)[number];

/** OpenAI error `type`s we use; the SDKs expose them as `err.type`. */
export type ErrorType =
  | 'invalid_request_error'
  | 'insufficient_quota'
  | 'rate_limit_error'
  | 'authentication_error'
  | 'api_error';

export interface ErrorSpec {
  status: number;
  type: ErrorType;
  /** The request field at fault, as OpenAI's `param`. */
  param: string | null;
  /** The same request may succeed shortly: `x-should-retry: true` instead of `false`. */
  retryable?: true;
}

export const ERROR_SPECS: Record<ErrorCode, ErrorSpec> = {
  // OpenAI answers a bad key with `invalid_request_error`; the status says it is about the key.
  api_key_expired: { status: 401, type: 'invalid_request_error', param: null },
  non_inference_key: { status: 403, type: 'invalid_request_error', param: null },
  model_access_denied: { status: 403, type: 'invalid_request_error', param: 'model' },
  modality_blocked: { status: 403, type: 'invalid_request_error', param: 'model' },
  insufficient_credits: { status: 402, type: 'insufficient_quota', param: null },
  spend_cap_exceeded: { status: 402, type: 'insufficient_quota', param: null },
  spend_cap_reset_pending: { status: 429, type: 'rate_limit_error', param: null, retryable: true },
  missing_authorization: { status: 401, type: 'authentication_error', param: null },
  invalid_api_key: { status: 401, type: 'authentication_error', param: null },
  invalid_query_parameter: { status: 400, type: 'invalid_request_error', param: null },
  request_too_large: { status: 413, type: 'invalid_request_error', param: null },
  upstream_unavailable: { status: 502, type: 'api_error', param: null },
  upstream_timeout: { status: 504, type: 'api_error', param: null },
  bad_request: { status: 400, type: 'invalid_request_error', param: null },
  not_found: { status: 404, type: 'invalid_request_error', param: null },
  method_not_allowed: { status: 405, type: 'invalid_request_error', param: null },
  request_timeout: { status: 408, type: 'invalid_request_error', param: null },
  headers_too_large: { status: 431, type: 'invalid_request_error', param: null },
  internal_error: { status: 500, type: 'api_error', param: null },
};

export { bearerToken } from './bearer-token.ts';
export { isRequestTooLarge, RequestTooLargeError, takeWholeBody } from './capturing-request.ts';
export { coalesce } from './coalesce.ts';
export { DeadlineExceededError, withDeadline } from './deadline.ts';
export type { DenialLookup, ReadSource } from './denial-lookup.ts';
export { denialLookup } from './denial-lookup.ts';
export type { Denial } from './diagnose.ts';
export { diagnoseDenial } from './diagnose.ts';
export type { ErrorBody, ErrorExtras } from './envelope.ts';
export { errorEnvelope, isSaneRequestId, requestIdOf, restoreOwnHeaders, sendError } from './envelope.ts';
export type { DenialCode, ErrorCode, ErrorSpec, ErrorType } from './error-codes.ts';
export { DENIAL_CODES, ERROR_CODES, ERROR_SPECS } from './error-codes.ts';
export { errorEnrichment } from './error-enrichment.ts';
export type { LingerLimits } from './lingering-close.ts';
export { DEFAULT_LINGER, lingerAfterAnswer } from './lingering-close.ts';
export {
  formatBalance,
  INSUFFICIENT_CREDITS_MESSAGE,
  INVALID_API_KEY_MESSAGE,
  MAX_QUOTED_MODEL_CHARS,
  modalityBlockedMessage,
  modalityLabel,
  modelAccessDeniedMessage,
  quotedModel,
} from './messages.ts';
export { modelOf } from './model-name.ts';
export type {
  EnrichedEvent,
  EnrichmentLogger,
  ErrorEnrichmentOptions,
  PassThroughEvent,
  PassThroughReason,
} from './options.ts';
export {
  DEFAULT_COALESCE_WINDOW_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TIMEOUT_MS,
  EnrichmentOptionsError,
  PASS_THROUGH_REASONS,
} from './options.ts';
export type { EnrichmentOutcome } from './outcome.ts';
export { hasBody } from './request-body.ts';
export type { AccessDenialCode, AccessVerdict } from './validate-access.ts';
export { ACCESS_DENIAL_CODES, validateApiKeyModelAccess } from './validate-access.ts';

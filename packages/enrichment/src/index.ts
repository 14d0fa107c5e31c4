export type { AnthropicErrorType } from './anthropic-envelope.ts';
export { ANTHROPIC_ERROR_TYPES, anthropicEnvelope, anthropicErrorType } from './anthropic-envelope.ts';
export type { ApiKeyHeaders } from './api-key.ts';
export { requestApiKey } from './api-key.ts';
export type { ModelAvailability } from './availability.ts';
export { modelAvailability } from './availability.ts';
export { bearerToken } from './bearer-token.ts';
export type { BoundaryResync } from './boundary-resync.ts';
export { AUTH_CONFIG_CHANGED_CHANNEL, createBoundaryResync } from './boundary-resync.ts';
export { isRequestTooLarge, RequestTooLargeError, takeWholeBody } from './capturing-request.ts';
export { coalesce } from './coalesce.ts';
export { DeadlineExceededError, withDeadline } from './deadline.ts';
export type { DenialLookup, ReadSource } from './denial-lookup.ts';
export { denialLookup } from './denial-lookup.ts';
export type { Denial, DenialRule } from './denial-rule.ts';
export { diagnoseDenial } from './diagnose.ts';
export type { Dialect } from './dialect.ts';
export { DIALECTS, decideDialect, dialectOf, ENVELOPES, requestDialect } from './dialect.ts';
export type { Envelope, ErrorBody, ErrorExtras, ErrorFields, ErrorResponse } from './envelope.ts';
export {
  errorEnvelope,
  errorResponse,
  isSaneRequestId,
  requestIdOf,
  restoreOwnHeaders,
  sendError,
} from './envelope.ts';
export type { DenialCode, ErrorCode, ErrorSpec, ErrorType } from './error-codes.ts';
export { DENIAL_CODES, ERROR_CODES, ERROR_SPECS } from './error-codes.ts';
export { errorEnrichment } from './error-enrichment.ts';
export type { HelpUrls } from './help-urls.ts';
export { HelpUrlError, parseHelpUrls } from './help-urls.ts';
export type { LingerLimits } from './lingering-close.ts';
export { DEFAULT_LINGER, lingerAfterAnswer } from './lingering-close.ts';
export {
  apiKeyExpiredMessage,
  formatBalance,
  formatDollars,
  INSUFFICIENT_CREDITS_MESSAGE,
  INVALID_API_KEY_MESSAGE,
  MAX_QUOTED_MODEL_CHARS,
  MISSING_API_KEY_MESSAGE,
  modalityBlockedMessage,
  modalityLabel,
  modelAccessDeniedMessage,
  nonInferenceKeyMessage,
  quotedModel,
  SPEND_CAP_RESET_PENDING_MESSAGE,
  spendCapExceededMessage,
} from './messages.ts';
export { modelOf } from './model-name.ts';
export { openaiEnvelope } from './openai-envelope.ts';
export type {
  EnrichedEvent,
  EnrichmentLogger,
  ErrorEnrichmentOptions,
  PassThroughEvent,
  PassThroughReason,
} from './options.ts';
export {
  DEFAULT_BOUNDARY_RESYNC_INTERVAL_MS,
  DEFAULT_COALESCE_WINDOW_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_TIMEOUT_MS,
  EnrichmentOptionsError,
  PASS_THROUGH_REASONS,
} from './options.ts';
export type { EnrichmentOutcome } from './outcome.ts';
export { isUnforwardableBody, UnforwardableBodyError } from './replay-request.ts';
export { hasBody } from './request-body.ts';
export { DENIAL_RULES, SPEND_CAP_RETRY_AFTER_SECONDS } from './rules/index.ts';
export type { AccessDenialCode, AccessVerdict, ValidateAccessOptions } from './validate-access.ts';
export { ACCESS_DENIAL_CODES, FLEX_DISPATCH_PURPOSE, validateApiKeyModelAccess } from './validate-access.ts';

import type { Envelope, ErrorFields } from './envelope.ts';
import { ERROR_SPECS } from './error-codes.ts';

/**
 * OpenAI's error body, `{ error: { message, type, code, param, …extras, request_id } }`: what the
 * `openai` SDKs parse into `status`, `code`, `type`, `param` and `message` (design.md §4), for chat
 * completions, completions, embeddings and the Responses API alike. The SDK reads the request id
 * from `x-request-id`, which the app sets on every response, so no header of its own.
 */
export const openaiEnvelope: Envelope = {
  body: ({ code, message, requestId, extras }: ErrorFields) => {
    const { type, param } = ERROR_SPECS[code];
    return { error: { message, type, code, param, ...extras, request_id: requestId } };
  },
  headers: () => ({}),
};

import { randomUUID } from 'node:crypto';
import type { Usage } from './stub-billing.ts';
import { CANNED_REPLY, CANNED_REPLY_PIECES, cannedTokens, contentTexts, messageTexts } from './stub-canned.ts';
import { type ServerSentEvent, typedEvent } from './stub-sse.ts';

/** The part of an OpenAI Responses request the stub reads. */
export interface ResponsesRequest {
  model: string;
  instructions?: unknown;
  input?: unknown;
}

const hex = () => randomUUID().replaceAll('-', '');
export const newResponseId = () => `resp_stub_${hex()}`;

/** What answering `request` costs: the instructions and the input (a string or a list of items). */
export function responsesTokens(request: ResponsesRequest): Usage {
  const input = typeof request.input === 'string' ? [request.input] : messageTexts(request.input);
  return cannedTokens([...contentTexts(request.instructions), ...input]);
}

function usageOf(tokens: Usage) {
  return {
    input_tokens: tokens.prompt_tokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: tokens.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: tokens.prompt_tokens + tokens.completion_tokens,
  };
}

const textPart = (text: string) => ({ type: 'output_text', text, annotations: [] });

function outputMessage(id: string, text: string | null) {
  return {
    id,
    type: 'message',
    status: text === null ? 'in_progress' : 'completed',
    role: 'assistant',
    content: text === null ? [] : [textPart(text)],
  };
}

function response(request: ResponsesRequest, id: string, createdAt: number, output: object[] | null) {
  return {
    id,
    object: 'response',
    created_at: createdAt,
    status: output === null ? 'in_progress' : 'completed',
    error: null,
    incomplete_details: null,
    instructions: typeof request.instructions === 'string' ? request.instructions : null,
    model: request.model,
    output: output ?? [],
    // Usage is known once the answer is complete (response.completed), as the API reports it.
    usage: output === null ? null : usageOf(responsesTokens(request)),
    metadata: {},
  };
}

/** A Responses answer: one assistant message with one `output_text` part. */
export function cannedResponse(request: ResponsesRequest, id = newResponseId()) {
  const createdAt = Math.floor(Date.now() / 1000);
  return response(request, id, createdAt, [outputMessage(`msg_stub_${hex()}`, CANNED_REPLY)]);
}

/**
 * The same answer as the Responses API streams it, each event numbered by `sequence_number`:
 * created, in progress, the message item and its text part opened, a delta per word, the text,
 * part and item done, then `response.completed` with the whole output and usage.
 */
export function cannedResponseEvents(request: ResponsesRequest, id = newResponseId()): ServerSentEvent[] {
  const createdAt = Math.floor(Date.now() / 1000);
  const itemId = `msg_stub_${hex()}`;
  const at = { item_id: itemId, output_index: 0, content_index: 0 };
  const done = outputMessage(itemId, CANNED_REPLY);
  const events = [
    { type: 'response.created', response: response(request, id, createdAt, null) },
    { type: 'response.in_progress', response: response(request, id, createdAt, null) },
    { type: 'response.output_item.added', output_index: 0, item: outputMessage(itemId, null) },
    { type: 'response.content_part.added', ...at, part: textPart('') },
    ...CANNED_REPLY_PIECES.map((delta) => ({ type: 'response.output_text.delta', ...at, delta, logprobs: [] })),
    { type: 'response.output_text.done', ...at, text: CANNED_REPLY, logprobs: [] },
    { type: 'response.content_part.done', ...at, part: textPart(CANNED_REPLY) },
    { type: 'response.output_item.done', output_index: 0, item: done },
    { type: 'response.completed', response: response(request, id, createdAt, [done]) },
  ];
  return events.map((event, sequence) => typedEvent({ ...event, sequence_number: sequence }));
}

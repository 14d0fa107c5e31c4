import { randomUUID } from 'node:crypto';
import type { Usage } from './stub-billing.ts';
import { CANNED_REPLY, CANNED_REPLY_PIECES, cannedTokens, contentTexts, messageTexts } from './stub-canned.ts';
import { type ServerSentEvent, typedEvent } from './stub-sse.ts';

/** The part of an Anthropic Messages request the stub reads. */
export interface MessagesRequest {
  model: string;
  system?: unknown;
  messages?: unknown;
}

export const newMessageId = () => `msg_stub_${randomUUID().replaceAll('-', '')}`;

/** What answering `request` costs: the system prompt and every message count as prompt. */
export function messagesTokens(request: MessagesRequest): Usage {
  return cannedTokens([...contentTexts(request.system), ...messageTexts(request.messages)]);
}

function usageOf(tokens: Usage) {
  return {
    input_tokens: tokens.prompt_tokens,
    output_tokens: tokens.completion_tokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
}

function message(request: MessagesRequest, id: string, text: string | null) {
  const tokens = messagesTokens(request);
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: request.model,
    content: text === null ? [] : [{ type: 'text', text }],
    stop_reason: text === null ? null : 'end_turn',
    stop_sequence: null,
    // message_start carries the input count; the output count arrives with message_delta.
    usage: text === null ? { ...usageOf(tokens), output_tokens: 0 } : usageOf(tokens),
  };
}

/** An Anthropic Messages answer: one text block, `end_turn`. */
export function cannedMessage(request: MessagesRequest, id = newMessageId()) {
  return message(request, id, CANNED_REPLY);
}

/**
 * The same answer as the Messages API streams it: `message_start` (empty content, input usage),
 * one text block opened, a `ping`, a `text_delta` per word, the block closed, `message_delta`
 * (stop reason, output usage) and `message_stop`.
 */
export function cannedMessageEvents(request: MessagesRequest, id = newMessageId()): ServerSentEvent[] {
  const index = 0;
  return [
    typedEvent({ type: 'message_start', message: message(request, id, null) }),
    typedEvent({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }),
    typedEvent({ type: 'ping' }),
    ...CANNED_REPLY_PIECES.map((text) =>
      typedEvent({ type: 'content_block_delta', index, delta: { type: 'text_delta', text } }),
    ),
    typedEvent({ type: 'content_block_stop', index }),
    typedEvent({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: messagesTokens(request).completion_tokens },
    }),
    typedEvent({ type: 'message_stop' }),
  ];
}

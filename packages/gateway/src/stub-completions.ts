import { randomUUID } from 'node:crypto';
import { CANNED_REPLY, CANNED_REPLY_PIECES, cannedTokens, messageTexts } from './stub-canned.ts';

export interface ChatRequest {
  model: string;
  messages?: unknown;
  stream_options?: { include_usage?: unknown };
}

/** The token counts of the canned answer to `request`: what it is charged for. */
export function cannedUsage(request: Pick<ChatRequest, 'messages'>) {
  const tokens = cannedTokens(messageTexts(request.messages));
  return { ...tokens, total_tokens: tokens.prompt_tokens + tokens.completion_tokens };
}

/** A chat completion in OpenAI's shape. */
export function cannedCompletion(request: ChatRequest, id = `chatcmpl-stub-${randomUUID()}`) {
  return {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: request.model,
    system_fingerprint: null,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: CANNED_REPLY, refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: cannedUsage(request),
  };
}

/** The chunks of the same answer streamed: a role delta, one delta per word, a stop, maybe usage. */
export function cannedChunks(request: ChatRequest, id = `chatcmpl-stub-${randomUUID()}`): object[] {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (delta: object, finishReason: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: request.model,
    system_fingerprint: null,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
  });
  const chunks: object[] = [chunk({ role: 'assistant', content: '' }, null)];
  for (const word of CANNED_REPLY_PIECES) chunks.push(chunk({ content: word }, null));
  chunks.push(chunk({}, 'stop'));
  if (request.stream_options?.include_usage === true) {
    chunks.push({
      id,
      object: 'chat.completion.chunk',
      created,
      model: request.model,
      choices: [],
      usage: cannedUsage(request),
    });
  }
  return chunks;
}

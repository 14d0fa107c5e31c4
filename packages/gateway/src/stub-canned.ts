import type { Usage } from './stub-billing.ts';

/** What the stub answers every request with, in whichever API was asked. */
export const CANNED_REPLY = 'Hello from the stub upstream. Your key, model and credits all check out.';

/** The reply in the pieces it is streamed in: one word each, its trailing space kept. */
export const CANNED_REPLY_PIECES: readonly string[] = CANNED_REPLY.split(/(?<=\s)/);

const COMPLETION_TOKENS = CANNED_REPLY.split(/\s+/).length;

/**
 * The text of a message's `content`: the string itself, or the text parts of a list (`text` in
 * chat completions and Anthropic Messages, `input_text` in Responses). Images, files and tool
 * parts carry no text the stub counts.
 */
export function contentTexts(content: unknown): string[] {
  if (typeof content === 'string') return [content];
  if (!Array.isArray(content)) return [];
  return content.flatMap((part) => {
    const { type, text } = (part ?? {}) as { type?: unknown; text?: unknown };
    return (type === 'text' || type === 'input_text') && typeof text === 'string' ? [text] : [];
  });
}

/** The texts of a list of messages (or Responses input items), each read with `contentTexts`. */
export function messageTexts(messages: unknown): string[] {
  if (!Array.isArray(messages)) return [];
  return messages.flatMap((message) => contentTexts((message as { content?: unknown } | null)?.content));
}

/**
 * The token counts of the canned answer to a prompt made of `promptTexts`: a rough count (words),
 * the same for one prompt in any API's shape, so each is charged alike.
 */
export function cannedTokens(promptTexts: readonly string[]): Usage {
  let prompt = 0;
  for (const text of promptTexts) prompt += text.split(/\s+/).filter(Boolean).length;
  return { prompt_tokens: prompt, completion_tokens: COMPLETION_TOKENS };
}

import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

/** What the stub answers every chat completion with. */
export const CANNED_REPLY = 'Hello from the stub upstream. Your key, model and credits all check out.';

interface ChatRequest {
  model: string;
  messages?: unknown;
  stream_options?: { include_usage?: unknown };
}

function words(text: string): string[] {
  return text.split(/(?<=\s)/);
}

/** A rough token count (words), enough for the `usage` block of a canned answer. */
function countTokens(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let count = 0;
  for (const message of messages) {
    const content = (message as { content?: unknown } | null)?.content;
    if (typeof content === 'string') count += content.split(/\s+/).filter(Boolean).length;
  }
  return count;
}

/** The token counts of the canned answer to `request`: what it is charged for. */
export function cannedUsage(request: Pick<ChatRequest, 'messages'>) {
  const prompt = countTokens(request.messages);
  const completion = CANNED_REPLY.split(/\s+/).length;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
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
  for (const word of words(CANNED_REPLY)) chunks.push(chunk({ content: word }, null));
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

/**
 * Server-sent events, one `data:` line per chunk, `delayMs` apart, then `data: [DONE]`. Stops
 * writing when the reader goes away (Koa destroys the stream).
 */
export function eventStream(chunks: object[], delayMs: number): PassThrough {
  const stream = new PassThrough();
  const write = async () => {
    for (const chunk of chunks) {
      if (stream.destroyed) return;
      stream.write(`data: ${JSON.stringify(chunk)}\n\n`);
      await sleep(delayMs);
    }
    if (!stream.destroyed) stream.end('data: [DONE]\n\n');
  };
  void write();
  return stream;
}

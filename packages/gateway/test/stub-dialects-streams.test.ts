/*
 * The bytes of the stub's Messages and Responses streams as curl receives them through the
 * gateway: every event named, its data's `type` repeating the name, in each API's order.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CANNED_REPLY, cannedUsage } from '../src/index.ts';
import { chat, MODEL, seedWorld, startStack } from './helpers.ts';

const test = suite('stub dialect streams on the wire');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
const stack = await startStack(t.db);

test.after(async () => {
  await stack?.close();
  await t?.close();
});

const tokens = cannedUsage(chat());

/** `curl -sS -i` of a streamed POST: the status line and headers, then the body, split apart. */
async function curl(path: string, headers: string[], body: object) {
  const args = ['-sS', '-i', '--no-buffer', '-X', 'POST', `${stack.gatewayUrl}/ai/v1/${path}`];
  for (const header of ['content-type: application/json', ...headers]) args.push('-H', header);
  args.push('--data-binary', JSON.stringify(body));
  const { stdout } = await promisify(execFile)('curl', args);
  const split = stdout.indexOf('\r\n\r\n');
  return { head: stdout.slice(0, split), body: stdout.slice(split + 4) };
}

interface WireEvent {
  event: string;
  data: Record<string, unknown> & { type: string };
}

/** Each frame must be exactly `event: <name>` then `data: <json>`, ended by a blank line. */
function events(body: string): WireEvent[] {
  assert.ok(body.endsWith('\n\n'), 'the stream ends after a whole event');
  return body
    .slice(0, -2)
    .split('\n\n')
    .map((frame) => {
      const match = /^event: ([a-z_.]+)\ndata: (\{.*\})$/.exec(frame);
      assert.ok(match, `a malformed frame: ${JSON.stringify(frame)}`);
      const [, event = '', data = ''] = match;
      return { event, data: JSON.parse(data) };
    });
}

/** The event names in order, runs of one name collapsed to `name…`. */
function sequence(list: WireEvent[]): string[] {
  const names: string[] = [];
  for (const { event } of list) {
    if (names.at(-1) === event || names.at(-1) === `${event}…`) names[names.length - 1] = `${event}…`;
    else names.push(event);
  }
  return names;
}

test('streams Anthropic Messages as named events, each data typed with its name', async () => {
  const { head, body } = await curl('messages', [`x-api-key: ${keys.working}`, 'anthropic-version: 2023-06-01'], {
    model: MODEL,
    max_tokens: 64,
    stream: true,
    messages: [{ role: 'user', content: 'Hello' }],
  });
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\ncontent-type: text\/event-stream/i);
  const list = events(body);
  for (const { event, data } of list) assert.is(data.type, event);
  assert.equal(sequence(list), [
    'message_start',
    'content_block_start',
    'ping',
    'content_block_delta…',
    'content_block_stop',
    'message_delta',
    'message_stop',
  ]);
  const start = list[0]?.data.message as { content: unknown[]; usage: { input_tokens: number } };
  assert.equal(start.content, []);
  assert.is(start.usage.input_tokens, tokens.prompt_tokens);
  const text = list.map(({ data }) => (data.delta as { text?: string } | undefined)?.text ?? '').join('');
  assert.is(text, CANNED_REPLY);
  const delta = list.find(({ event }) => event === 'message_delta')?.data;
  assert.equal(delta?.delta, { stop_reason: 'end_turn', stop_sequence: null });
  assert.equal(delta?.usage, { output_tokens: tokens.completion_tokens });
});

test('streams Responses events numbered in order, ending in response.completed with usage', async () => {
  const { head, body } = await curl('responses', [`authorization: Bearer ${keys.working}`], {
    model: MODEL,
    stream: true,
    input: 'Hello',
  });
  assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(head, /\r\ncontent-type: text\/event-stream/i);
  const list = events(body);
  for (const { event, data } of list) assert.is(data.type, event);
  assert.equal(
    list.map(({ data }) => data.sequence_number),
    list.map((_, index) => index),
  );
  assert.equal(sequence(list), [
    'response.created',
    'response.in_progress',
    'response.output_item.added',
    'response.content_part.added',
    'response.output_text.delta…',
    'response.output_text.done',
    'response.content_part.done',
    'response.output_item.done',
    'response.completed',
  ]);
  const completed = list.at(-1)?.data.response as { status: string; output: unknown[]; usage: object };
  assert.is(completed.status, 'completed');
  assert.is(completed.output.length, 1);
  assert.equal(completed.usage, {
    input_tokens: tokens.prompt_tokens,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: tokens.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: tokens.total_tokens,
  });
});

test.run();

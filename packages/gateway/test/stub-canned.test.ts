/*
 * The stub counts one prompt alike in every API's shape, so each is charged alike.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cannedUsage, messagesTokens, responsesTokens } from '../src/index.ts';

const test = suite('stub token counts');

const MODEL = 'm';

test('counts a system prompt and text parts the same in chat, Messages and Responses', () => {
  const chat = cannedUsage({
    messages: [
      { role: 'system', content: 'Be brief.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Say hello' },
          { type: 'image_url', image_url: {} },
        ],
      },
    ],
  });
  const messages = messagesTokens({
    model: MODEL,
    system: [{ type: 'text', text: 'Be brief.' }],
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Say hello' },
          { type: 'image', source: {} },
        ],
      },
    ],
  });
  const responses = responsesTokens({
    model: MODEL,
    instructions: 'Be brief.',
    input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Say hello' }] }],
  });
  assert.is(chat.prompt_tokens, 4);
  assert.equal(messages, { prompt_tokens: 4, completion_tokens: chat.completion_tokens });
  assert.equal(responses, { prompt_tokens: 4, completion_tokens: chat.completion_tokens });
});

test('counts a Responses input given as a plain string', () => {
  assert.is(responsesTokens({ model: MODEL, input: 'Hello there, stub' }).prompt_tokens, 3);
});

test('counts nothing it cannot read as text, rather than failing', () => {
  for (const body of [{ messages: 'nope' }, { messages: [null, 7, { content: { text: 'x' } }] }, {}]) {
    assert.is(cannedUsage(body).prompt_tokens, 0, JSON.stringify(body));
  }
  assert.is(
    messagesTokens({ model: MODEL, system: 42, messages: [{ content: [{ type: 'tool_result' }] }] }).prompt_tokens,
    0,
  );
  assert.is(responsesTokens({ model: MODEL, input: [{ type: 'function_call_output', output: 'x' }] }).prompt_tokens, 0);
});

test.run();

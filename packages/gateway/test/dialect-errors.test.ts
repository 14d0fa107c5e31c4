/*
 * Every error the gateway writes for a request speaks that request's dialect: explained denials,
 * the model list's 401s, the 413 (declared and mid-stream), 502 and 504, 404 and 405, and the 400
 * Node answers to a request it cannot parse. Raw bytes through curl and node:http.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createGateway, FORBIDDEN_BODY, listen } from '../src/index.ts';
import { closedAddress, MODEL, scriptedUpstream, seedWorld, send, startGateway } from './helpers.ts';
import { rawExchange, wire } from './raw-http.ts';

const test = suite('errors in the dialect of the request');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
const upstream = await scriptedUpstream();
const LIMIT = 64 * 1024;
const gateway = createGateway({
  db: t.db,
  upstreamUrl: upstream.url,
  maxBodyBytes: LIMIT,
  upstreamHeadersTimeoutMs: 300,
});
gateway.silent = true;
const front = await listen(gateway, 0, '127.0.0.1');
const port = Number(new URL(front.url).port);
const nowhere = await startGateway(t.db, `http://${await closedAddress()}`);

test.after(async () => {
  front?.server.closeAllConnections();
  front?.server.close();
  await gateway?.destroy();
  await nowhere?.close();
  await upstream?.close();
  await t?.close();
});

const refuse = () =>
  upstream.respondWith((_req, res) => {
    res.writeHead(403, { 'content-type': 'application/json' }).end(FORBIDDEN_BODY);
  });
const messages = JSON.stringify({ model: MODEL, max_tokens: 8, messages: [{ role: 'user', content: 'Hi' }] });
const VERSION = { 'anthropic-version': '2023-06-01' };

/** One request through curl, with its status line, headers and body exactly as they came. */
async function curl(path: string, headers: Record<string, string>, body: string) {
  const args = ['-sS', '-i', '--max-time', '10', '-X', 'POST', '--data-binary', body, `${front.url}${path}`];
  for (const [name, value] of Object.entries(headers)) args.unshift('-H', `${name}: ${value}`);
  const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(child, 'close');
  const text = Buffer.concat(chunks).toString('utf8');
  const split = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...lines] = text.slice(0, split).split('\r\n');
  const head = Object.fromEntries(
    lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
  );
  return { statusLine, headers: head, body: text.slice(split + 4) };
}

test('writes an Anthropic client its denial in bytes: the Anthropic envelope, request-id and x-request-id', async () => {
  refuse();
  const response = await curl(
    '/ai/v1/messages',
    { 'x-api-key': keys.outsider, 'content-type': 'application/json', 'x-request-id': 'req-curl-1', ...VERSION },
    messages,
  );
  assert.is(response.statusLine, 'HTTP/1.1 403 Forbidden');
  assert.is(
    response.body,
    JSON.stringify({
      type: 'error',
      error: {
        type: 'permission_error',
        message: `You do not have access to '${MODEL}'. Please contact your administrator to request access.`,
        code: 'model_access_denied',
        model: MODEL,
      },
      request_id: 'req-curl-1',
    }),
  );
  assert.is(response.headers['content-type'], 'application/json; charset=utf-8');
  assert.is(response.headers['request-id'], 'req-curl-1');
  assert.is(response.headers['x-request-id'], 'req-curl-1');
  assert.is(response.headers['x-should-retry'], 'false');
  assert.is(response.headers['content-length'], String(Buffer.byteLength(response.body)));
});

test('writes a Responses API client its denial in bytes: the OpenAI envelope, labelled JSON', async () => {
  refuse();
  const response = await curl(
    '/ai/v1/responses',
    { authorization: `Bearer ${keys.broke}`, 'content-type': 'application/json', 'x-request-id': 'req-curl-2' },
    JSON.stringify({ model: MODEL, input: 'Hi', stream: true }),
  );
  assert.is(response.statusLine, 'HTTP/1.1 402 Payment Required');
  assert.is(
    response.body,
    JSON.stringify({
      error: {
        message: 'Account balance too low. Please add credits to continue.',
        type: 'insufficient_quota',
        code: 'insufficient_credits',
        param: null,
        balance: '-50.00',
        request_id: 'req-curl-2',
      },
    }),
  );
  assert.is(response.headers['content-type'], 'application/json; charset=utf-8');
  assert.is(response.headers['request-id'], undefined);
  assert.is(response.headers['x-should-retry'], 'false');
});

test('takes the dialect from the anthropic-version header on any route, and from a /messages path without it', async () => {
  refuse();
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${keys.outsider}` };
  const chat = await send(`${front.url}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: { ...headers, ...VERSION },
    body: messages,
  });
  assert.is(JSON.parse(chat.body.toString()).error.type, 'permission_error');
  const bare = await send(`${front.url}/ai/v1/messages`, { method: 'POST', headers, body: messages });
  assert.is(JSON.parse(bare.body.toString()).error.type, 'permission_error');
  const openai = await send(`${front.url}/ai/v1/chat/completions`, { method: 'POST', headers, body: messages });
  assert.is(JSON.parse(openai.body.toString()).error.type, 'invalid_request_error');
  assert.is(JSON.parse(openai.body.toString()).error.param, 'model');
});

/** The Anthropic body of a gateway error, checked for its shape; returns its inner error. */
function anthropicError(response: { status: number; headers: Record<string, unknown>; body: Buffer }) {
  const body = JSON.parse(response.body.toString());
  assert.is(body.type, 'error');
  assert.type(body.error.message, 'string');
  assert.match(String(response.headers['content-type']), /^application\/json/);
  return body.error as { type: string; code: string };
}

test("writes the gateway's own errors to an Anthropic client in its envelope", async () => {
  const post = {
    method: 'POST',
    headers: { ...VERSION, 'content-type': 'application/json', 'x-api-key': keys.working },
  };
  // 404, 400, 405 and the model list's 401s.
  let response = await send(`${front.url}/nowhere`, { headers: VERSION });
  assert.is(response.status, 404);
  assert.equal(anthropicError(response), { ...anthropicError(response), type: 'not_found_error', code: 'not_found' });
  // A path outside the upstream's /v1 is the path guard's 400.
  response = await send(`${front.url}/ai/v1/../admin/messages`, { ...post, body: messages });
  assert.is(response.status, 400);
  assert.equal(anthropicError(response), {
    ...anthropicError(response),
    type: 'invalid_request_error',
    code: 'bad_request',
  });
  response = await send(`${front.url}/metrics`, { method: 'DELETE', headers: VERSION });
  assert.is(response.status, 405);
  assert.is(anthropicError(response).type, 'invalid_request_error');
  response = await send(`${front.url}/nowhere`, { method: 'TRACE', headers: {} });
  assert.is(response.status, 405);
  assert.is(JSON.parse(response.body.toString()).error.code, 'method_not_allowed');
  response = await send(`${front.url}/ai/v1/models`, { headers: VERSION });
  assert.is(response.status, 401);
  assert.equal(anthropicError(response), {
    type: 'authentication_error',
    message: 'Missing API key: send Authorization: Bearer <key> or x-api-key',
    code: 'missing_authorization',
  });
  response = await send(`${front.url}/ai/v1/models`, { headers: { ...VERSION, 'x-api-key': 'sk-unknown' } });
  assert.is(response.status, 401);
  assert.is(anthropicError(response).code, 'invalid_api_key');
  assert.is(response.headers['request-id'], response.headers['x-request-id']);
  // 413, declared and counted mid-stream.
  response = await send(`${front.url}/ai/v1/messages`, { ...post, body: 'x'.repeat(LIMIT + 1) });
  assert.is(response.status, 413);
  assert.equal(anthropicError(response), {
    type: 'request_too_large',
    message: `Request body exceeds the limit of ${LIMIT} bytes.`,
    code: 'request_too_large',
    limit_bytes: LIMIT,
  });
  const chunked = await rawExchange(
    port,
    Buffer.concat([
      wire('POST', '/ai/v1/messages', { ...post.headers, 'transfer-encoding': 'chunked' }),
      ...Array.from({ length: 3 }, () => Buffer.from(`8000\r\n${'x'.repeat(0x8000)}\r\n`)),
      Buffer.from('0\r\n\r\n'),
    ]),
  );
  assert.is(chunked.status, 413);
  assert.is(anthropicError(chunked).type, 'request_too_large');
  // 504 and 502.
  upstream.respondWith(() => {});
  response = await send(`${front.url}/ai/v1/messages`, { ...post, body: messages });
  assert.is(response.status, 504);
  assert.equal(anthropicError(response), {
    type: 'timeout_error',
    message: 'The upstream service did not respond in time. Please try again later.',
    code: 'upstream_timeout',
  });
  response = await send(`${nowhere.url}/ai/v1/messages`, { ...post, body: messages });
  assert.is(response.status, 502);
  assert.is(anthropicError(response).type, 'api_error');
  assert.is(anthropicError(response).code, 'upstream_unavailable');
});

test('answers a request Node cannot parse in the dialect its request line and headers show', async () => {
  const broken = (path: string, extra: string) =>
    rawExchange(port, `POST ${path} HTTP/1.1\r\nhost: x\r\n${extra}x-request-id: a\u0001b\r\n\r\n`);
  let response = await broken('/ai/v1/messages', '');
  assert.is(response.status, 400);
  assert.is(anthropicError(response).type, 'invalid_request_error');
  response = await broken('/ai/v1/chat/completions', 'anthropic-version: 2023-06-01\r\n');
  assert.is(JSON.parse(response.body.toString()).type, 'error');
  response = await broken('/ai/v1/responses', '');
  assert.is(JSON.parse(response.body.toString()).error.code, 'bad_request');
});

test("passes what it does not explain through byte for byte, a started stream and a router's text 403 included", async () => {
  const stream =
    'event: message_start\ndata: {"type":"message_start"}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n';
  upstream.respondWith((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' }).end(stream);
  });
  const headers = { ...VERSION, 'content-type': 'application/json', 'x-api-key': keys.outsider };
  let response = await send(`${front.url}/ai/v1/messages`, { method: 'POST', headers, body: messages });
  assert.is(response.status, 200);
  assert.is(response.body.toString(), stream);
  assert.is(response.headers['content-type'], 'text/event-stream');
  // A plain-text 403 for a key the database does not know stays plain text (dwctl labels it JSON).
  upstream.respondWith((_req, res) => {
    res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden');
  });
  response = await send(`${front.url}/ai/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-unknown' },
    body: JSON.stringify({ model: MODEL, input: 'Hi' }),
  });
  assert.is(response.status, 403);
  assert.is(response.body.toString(), 'Forbidden');
  assert.is(response.headers['content-type'], 'text/plain');
});

test.run();

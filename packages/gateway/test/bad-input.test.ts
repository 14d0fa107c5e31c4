import { deflateSync, gzipSync } from 'node:zlib';
import { hashSecret } from '@control-layer/db';
import { withTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createGateway, createStubUpstream, listen } from '../src/index.ts';
import { MODEL, seedWorld, serve } from './helpers.ts';
import { rawExchange, wire } from './raw-http.ts';

const test = suite('bad input');

interface Case {
  name: string;
  request: Buffer;
  /** Acceptable statuses; 0 means the server closed the connection without an answer. */
  status: number[];
  /** The gateway answers this one itself, so the body must be our envelope with this code. */
  code?: string;
  halfClose?: boolean;
}

const PATH = '/ai/v1/chat/completions';
const json = (value: unknown) => JSON.stringify(value);
const body = (model: unknown) => json({ model, messages: [{ role: 'user', content: 'Hi' }] });

function cases(keys: Record<'working' | 'batch' | 'broke' | 'outsider', string>): Case[] {
  const post = (headers: Record<string, string>, payload: Buffer | string = body(MODEL)) =>
    wire('POST', PATH, { 'content-type': 'application/json', ...headers }, payload);
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  const working = auth(keys.working);
  const chunked = (parts: Buffer[]) =>
    Buffer.concat([
      wire('POST', PATH, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...working }),
      ...parts.map((p) => Buffer.concat([Buffer.from(`${p.length.toString(16)}\r\n`), p, Buffer.from('\r\n')])),
      Buffer.from('0\r\n\r\n'),
    ]);
  const nested = `{"model":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
  return [
    // Authorization
    {
      name: 'a Basic scheme',
      request: post({ authorization: `Basic ${Buffer.from('u:p').toString('base64')}` }),
      status: [401],
    },
    { name: 'an empty bearer token', request: post({ authorization: 'Bearer ' }), status: [401] },
    {
      name: 'a bearer token of spaces (trimmed away by the parser)',
      request: post({ authorization: 'Bearer     ' }),
      status: [401],
    },
    { name: 'an 8 KiB token', request: post(auth('k'.repeat(8192))), status: [403] },
    {
      name: 'a token past the header limit',
      request: post(auth('k'.repeat(20_000))),
      status: [431],
      code: 'headers_too_large',
    },
    {
      name: 'two Authorization headers, the valid one first',
      request: Buffer.concat([
        Buffer.from(`POST ${PATH} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\n`),
        Buffer.from(`authorization: Bearer ${keys.working}\r\nauthorization: Bearer junk\r\n`),
        Buffer.from(`content-length: ${body(MODEL).length}\r\n\r\n${body(MODEL)}`),
      ]),
      status: [200],
    },
    {
      name: 'a non-ASCII token',
      request: post({ authorization: Buffer.from('Bearer sk-ünï', 'latin1').toString('latin1') }),
      status: [403],
    },
    {
      name: 'a lower-case scheme (the router is case-sensitive)',
      request: post({ authorization: `bearer ${keys.outsider}` }),
      status: [401],
    },
    { name: 'another scheme', request: post({ authorization: `Token ${keys.working}` }), status: [401] },
    { name: 'a SQL-looking key', request: post(auth("' or '1'='1")), status: [403] },
    // Bodies
    { name: 'malformed JSON', request: post(working, '{"model":'), status: [400] },
    { name: 'truncated JSON', request: post(working, body(MODEL).slice(0, 20)), status: [400] },
    { name: 'JSON nested 100,000 deep', request: post(working, nested), status: [400] },
    { name: 'a numeric model', request: post(working, body(7)), status: [400] },
    { name: 'a null model', request: post(working, body(null)), status: [400] },
    { name: 'a boolean model', request: post(working, body(true)), status: [400] },
    { name: 'an array model', request: post(working, body([MODEL])), status: [400] },
    { name: 'an object model', request: post(working, body({ id: MODEL })), status: [400] },
    { name: 'an empty model', request: post(working, body('')), status: [400] },
    { name: 'a 1 MB model name', request: post(working, body('m'.repeat(1024 * 1024))), status: [404] },
    {
      name: 'a 1 MB model name, key without access',
      request: post(auth(keys.outsider), body('m'.repeat(1024 * 1024))),
      status: [404],
    },
    {
      name: 'invalid UTF-8 in the model',
      request: post(
        working,
        Buffer.concat([Buffer.from('{"model":"gpt-'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
      ),
      status: [404],
    },
    { name: 'a SQL-looking model', request: post(working, body("x'; drop table api_keys; --")), status: [404] },
    { name: 'a unicode model', request: post(working, body('模型-🚀')), status: [404] },
    { name: 'a model holding U+0000', request: post(working, body('gpt\u0000test')), status: [404] },
    {
      name: 'a gzip body',
      request: post({ ...working, 'content-encoding': 'gzip' }, gzipSync(body(MODEL))),
      status: [200],
    },
    {
      name: 'a deflate body from a blocked key',
      request: post({ ...auth(keys.batch), 'content-encoding': 'deflate' }, deflateSync(body(MODEL))),
      status: [403],
      code: 'modality_blocked',
    },
    { name: 'a gzip label on plain bytes', request: post({ ...working, 'content-encoding': 'gzip' }), status: [400] },
    {
      name: 'a chunked body without length',
      request: chunked([Buffer.from(body(MODEL).slice(0, 9)), Buffer.from(body(MODEL).slice(9))]),
      status: [200],
    },
    {
      name: 'a chunked body past the limit',
      request: chunked(Array.from({ length: 11 }, () => Buffer.alloc(1024 * 1024, 0x20))),
      status: [413],
      code: 'request_too_large',
    },
    {
      name: 'a declared length past the limit',
      request: post({ ...working, 'content-length': String(50 * 1024 * 1024) }, ''),
      status: [413],
      code: 'request_too_large',
    },
    {
      name: 'a content-length shorter than the body',
      request: post({ ...working, 'content-length': '10' }),
      status: [400],
    },
    {
      name: 'a content-length longer than the body, then silence',
      request: post({ ...working, 'content-length': '5000' }),
      status: [0, 400],
      halfClose: true,
    },
    { name: 'an empty POST body', request: post(working, ''), status: [400] },
    { name: 'JSON labelled text/plain', request: post({ ...working, 'content-type': 'text/plain' }), status: [400] },
    {
      name: 'a multipart body',
      request: post({ ...working, 'content-type': 'multipart/form-data; boundary=b' }, '--b\r\n\r\nx\r\n--b--'),
      status: [400],
    },
    {
      name: 'both Transfer-Encoding and Content-Length',
      request: post({ ...working, 'transfer-encoding': 'chunked', 'content-length': '5' }, '0\r\n\r\n'),
      status: [400],
      code: 'bad_request',
    },
    // Methods and paths
    ...['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'].map((method) => ({
      name: `${method} on chat completions`,
      request: wire(method, PATH, working),
      status: [400],
    })),
    { name: 'HEAD on chat completions', request: wire('HEAD', PATH, working), status: [400] },
    {
      name: 'a method that is not a token',
      request: Buffer.from(`GE(T ${PATH} HTTP/1.1\r\nhost: x\r\n\r\n`),
      status: [400],
      code: 'bad_request',
    },
    { name: 'an unknown route', request: wire('GET', '/nope', {}), status: [404], code: 'not_found' },
    {
      name: 'a dot-segment path',
      request: wire('POST', '/ai/v1/../admin', working, body(MODEL)),
      status: [400],
      code: 'bad_request',
    },
    {
      name: 'a method /metrics does not take',
      request: wire('DELETE', '/metrics', {}),
      status: [405],
      code: 'method_not_allowed',
    },
    // Request ids
    {
      name: 'an x-request-id too long to echo',
      request: post({ ...working, 'x-request-id': 'r'.repeat(300) }),
      status: [200],
    },
    { name: 'an x-request-id with markup', request: post({ ...working, 'x-request-id': '<script>' }), status: [200] },
    {
      name: 'an x-request-id with a control character',
      request: post({ ...working, 'x-request-id': 'a\u0001b' }),
      status: [400],
      code: 'bad_request',
    },
    // The denials themselves, for contrast
    { name: 'a key without access', request: post(auth(keys.outsider)), status: [403], code: 'model_access_denied' },
    { name: 'a key without credits', request: post(auth(keys.broke)), status: [402], code: 'insufficient_credits' },
  ];
}

test('answers every malformed, hostile or odd request with a clear status, never a 500 or a hang', () =>
  withTestDatabase(async (db) => {
    const { keys } = await seedWorld(db);
    const stub = await serve(createStubUpstream({ db, chunkDelayMs: 1 }));
    const gateway = createGateway({ db, upstreamUrl: stub.url });
    gateway.silent = true;
    const { server, url } = await listen(gateway, 0, '127.0.0.1');
    const port = Number(new URL(url).port);
    const secrets = Object.values(keys).flatMap((k) => [k, hashSecret(k)]);
    const all = cases(keys);
    try {
      assert.ok(all.length >= 40, `${all.length} cases`);
      for (const c of all) {
        const response = await rawExchange(port, c.request, { timeoutMs: 10_000, halfClose: c.halfClose ?? false });
        assert.not.ok(response.hung, `${c.name}: no answer`);
        assert.ok(
          c.status.includes(response.status),
          `${c.name}: got ${response.status}, want ${c.status.join(' or ')}`,
        );
        const text = response.body.toString('utf8');
        for (const secret of secrets) assert.not.ok(text.includes(secret), `${c.name}: a key or its hash in the body`);
        assert.not.match(text, /ECONN|Failed query|at [\w.]+ \(|stack/i, `${c.name}: internals in the body`);
        if (c.code) {
          assert.is(JSON.parse(text).error.code, c.code, c.name);
          if (response.status !== 431 && response.status !== 400) assert.ok(response.headers['x-request-id'], c.name);
        }
        if (c.name.startsWith('an x-request-id')) assert.not.ok(text.includes('<script>') || text.includes('rrrrrrrr'));
        const health = await rawExchange(port, wire('GET', '/healthz', {}));
        assert.is(health.status, 200, `healthy after ${c.name}`);
      }
      const id = await rawExchange(
        port,
        wire(
          'POST',
          PATH,
          { 'x-request-id': '<script>', authorization: `Bearer ${keys.working}`, 'content-type': 'application/json' },
          body(MODEL),
        ),
      );
      assert.match(id.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await gateway.destroy();
      await stub.close();
    }
  }));

test.run();

import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { connectionTokens, endToEndHeaders, upstreamFailure } from '../src/index.ts';

const test = suite('hop-by-hop headers and upstream errors');

test('keeps end-to-end headers and drops the hop-by-hop ones', () => {
  const kept = endToEndHeaders({
    connection: 'keep-alive',
    'keep-alive': 'timeout=5',
    'proxy-authorization': 'Basic x',
    'proxy-connection': 'keep-alive',
    te: 'trailers',
    trailer: 'x-checksum',
    'transfer-encoding': 'chunked',
    upgrade: 'websocket',
    'content-type': 'application/json',
    authorization: 'Bearer sk-x',
    'set-cookie': ['a=1', 'b=2'],
    'x-absent': undefined,
  });
  assert.equal(kept, {
    'content-type': 'application/json',
    authorization: 'Bearer sk-x',
    'set-cookie': ['a=1', 'b=2'],
  });
});

test('drops the headers a Connection header names, whatever their case and spacing', () => {
  const kept = endToEndHeaders({
    connection: ' X-Trace ,close,, X-Other',
    'x-trace': '1',
    'x-other': '2',
    'x-kept': '3',
  });
  assert.equal(kept, { 'x-kept': '3' });
  assert.equal([...connectionTokens(['a, B', 'c'])], ['a', 'b', 'c']);
});

test('drops extra names on request', () => {
  assert.equal(endToEndHeaders({ host: 'h', expect: '100-continue', accept: '*/*' }, new Set(['host', 'expect'])), {
    accept: '*/*',
  });
});

const failures: [string, unknown, string][] = [
  [
    'a refused connection',
    Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    'upstream_unavailable',
  ],
  ['an unknown host', Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }), 'upstream_unavailable'],
  [
    'a closed socket',
    Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
    'upstream_unavailable',
  ],
  ['a connect timeout', Object.assign(new Error('timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' }), 'upstream_timeout'],
  ['a headers timeout', Object.assign(new Error('timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' }), 'upstream_timeout'],
  ['a wrapped timeout', new Error('fetch failed', { cause: { code: 'ETIMEDOUT' } }), 'upstream_timeout'],
  ['something without a code', new Error('odd'), 'upstream_unavailable'],
];
for (const [what, error, code] of failures) {
  test(`maps ${what} to ${code}`, () => {
    const failure = upstreamFailure(error);
    assert.is(failure.code, code);
    assert.not.match(failure.message, /ECONN|UND_ERR|127\.0\.0\.1/);
  });
}

test.run();

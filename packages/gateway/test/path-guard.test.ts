/*
 * The path guard against an upstream that resolves every path it gets the way WHATWG URL parsers
 * do (Node's `new URL`, Hono, Deno, Bun), and once more after percent-decoding it: no request may
 * land outside its `/v1`.
 */
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isInsideUpstreamRoot } from '../src/upstream-path.ts';
import { serve, startGateway } from './helpers.ts';
import { rawExchange, wire } from './raw-http.ts';

const test = suite('path guard');

interface Seen {
  target: string;
  resolved: string;
  decodedResolved: string;
}

const seen: Seen[] = [];
const upstream = await serve((req, res) => {
  const target = req.url ?? '';
  const decoded = decodeURIComponent(target.split('?')[0] ?? '').replace(/[?#]/g, encodeURIComponent);
  seen.push({
    target,
    resolved: new URL(target, 'http://upstream').pathname,
    decodedResolved: new URL(decoded, 'http://upstream').pathname,
  });
  req.resume();
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
});
const t = await createTestDatabase();
const gateway = await startGateway(t.db, upstream.url);
const based = await startGateway(t.db, `${upstream.url}/router/`);
const port = (url: string) => Number(new URL(url).port);

test.after(async () => {
  await gateway?.close();
  await based?.close();
  await upstream?.close();
  await t?.close();
});

const ESCAPES = [
  '/ai/v1/../admin',
  '/ai/v1/..\\admin',
  '/ai/v1/..%2fadmin',
  '/ai/v1/..%2Fadmin',
  '/ai/v1/..%5cadmin',
  '/ai/v1/..%5Cadmin',
  '/ai/v1/%2e%2e/admin',
  '/ai/v1/%2E%2e/admin',
  '/ai/v1/.%2E/admin',
  '/ai/v1/%2e./admin',
  '/ai/v1/chat/..\\..\\admin',
  '/ai/v1/chat/%2e%2e%2f%2e%2e%2fadmin',
  '/ai/v1/chat/..%5c..%5cadmin',
  '/ai/v1/chat/../..',
  '/ai/v1/..',
  '/ai/v1/%2e%2e',
  '/ai/v1/..?q=1',
  '/ai/v1/..%2f?x=/v1/',
  '/ai/v1/.%2e%2fadmin',
];

for (const target of ESCAPES) {
  test(`refuses ${target} with a 400 in the envelope before it reaches the upstream`, async () => {
    for (const front of [gateway, based]) {
      const before = seen.length;
      const response = await rawExchange(
        port(front.url),
        wire('POST', target, { 'content-type': 'application/json' }, '{}'),
      );
      assert.is(response.status, 400);
      assert.is(JSON.parse(response.body.toString()).error.code, 'bad_request');
      assert.is(seen.length, before, 'the upstream got the request');
    }
  });
}

const INSIDE: [string, string][] = [
  ['/ai/v1/chat/completions', '/v1/chat/completions'],
  ['/ai/v1/models/org%2Fname', '/v1/models/org%2Fname'],
  ['/ai/v1/files/a%20b?y=%2F..%2F..&x=../..', '/v1/files/a%20b?y=%2F..%2F..&x=../..'],
  ['/ai/v1/chat/../embeddings', '/v1/chat/../embeddings'],
  ['/ai/v1/files/v1..v2', '/v1/files/v1..v2'],
  ['/ai/v1/files/.hidden', '/v1/files/.hidden'],
  // Decoded once, still an encoded slash: no WHATWG parser moves it.
  ['/ai/v1/..%252fadmin', '/v1/..%252fadmin'],
];

for (const [target, forwarded] of INSIDE) {
  test(`forwards ${target} unchanged, and the upstream resolves it inside /v1`, async () => {
    const response = await rawExchange(port(gateway.url), wire('GET', target, {}));
    assert.is(response.status, 200);
    const last = seen.at(-1);
    assert.is(last?.target, forwarded);
    assert.ok(last?.resolved.startsWith('/v1/'), last?.resolved);
    assert.ok(last?.decodedResolved.startsWith('/v1/'), last?.decodedResolved);

    await rawExchange(port(based.url), wire('GET', target, {}));
    assert.is(seen.at(-1)?.target, `/router${forwarded}`);
  });
}

test('every escape, as the upstream would resolve it, lies outside /v1 (the cases test what they claim)', () => {
  for (const target of ESCAPES) {
    const path = target.slice('/ai'.length);
    const once = decodeURIComponent(path.split('?')[0] ?? '').replace(/[?#]/g, encodeURIComponent);
    const outside = (p: string) => !new URL(p, 'http://upstream').pathname.startsWith('/v1/');
    assert.ok(outside(path) || outside(once), target);
  }
});

test('the guard decides by resolution, not by spelling', () => {
  const origin = 'http://router:3001';
  assert.ok(isInsideUpstreamRoot(origin, '/v1', '/v1'));
  assert.ok(isInsideUpstreamRoot(origin, '/v1', '/v1/a/./b/../c'));
  assert.not.ok(isInsideUpstreamRoot(origin, '/v1', '/v1x'));
  assert.not.ok(isInsideUpstreamRoot(origin, '/v1', '/v1/%2E%2E'));
  assert.not.ok(isInsideUpstreamRoot(origin, '/v1', '/v1/.%09./admin'), 'WHATWG strips tabs');
  assert.not.ok(isInsideUpstreamRoot(origin, '/base/v1', '/base/v1/..%5C..%5Cv1/x'));
  assert.ok(isInsideUpstreamRoot(origin, '/base/v1', '/base/v1/x%2F'));
});

test.run();

/*
 * The reverse proxy against an upstream the test scripts: what goes out, what comes back, and
 * that events stream through as they are written.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { gate, scriptedUpstream, send, startGateway, waitFor, within } from './helpers.ts';

const test = suite('proxy');

const t = await createTestDatabase();
const upstream = await scriptedUpstream();
const gateway = await startGateway(t.db, upstream.url);
const plain = await startGateway(t.db, upstream.url, { enrichment: false });

test.after(async () => {
  await gateway?.close();
  await plain?.close();
  await upstream?.close();
  await t?.close();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

test('forwards method, path, query and body bytes unchanged', async () => {
  const body = randomBytes(4096);
  const response = await send(`${gateway.url}/ai/v1/files/a%20b/%2e%2e/%2E%2E/../c?x=1&y=%2F&x=2`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  assert.is(response.status, 400, 'a path resolving outside /v1 must never reach the upstream');
  assert.is(upstream.requests.length, 0);

  await send(`${gateway.url}/ai/v1/files/a%20b?x=1&y=%2F&x=2`, {
    method: 'PUT',
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  const seen = upstream.last();
  assert.is(seen.method, 'PUT');
  assert.is(seen.url, '/v1/files/a%20b?x=1&y=%2F&x=2');
  assert.ok(seen.body.equals(body));
  assert.is(seen.headers['content-length'], String(body.length));
});

test('streams a chunked request body through when enrichment is off', async () => {
  const body = randomBytes(100_000);
  await send(`${plain.url}/ai/v1/embeddings`, {
    method: 'POST',
    headers: { 'transfer-encoding': 'chunked', 'content-type': 'application/json' },
    body,
  });
  assert.ok(upstream.last().body.equals(body));
  assert.is(upstream.last().headers['transfer-encoding'], 'chunked');
});

test('drops hop-by-hop request headers, those named in Connection, and the client host', async () => {
  await send(`${gateway.url}/ai/v1/files`, {
    headers: {
      connection: 'keep-alive, x-hop',
      'keep-alive': 'timeout=5',
      'x-hop': 'per-connection',
      'proxy-authorization': 'Basic c2VjcmV0',
      te: 'trailers',
      host: 'gateway.example',
      authorization: 'Bearer sk-end-to-end',
      'x-custom': 'kept',
      'user-agent': 'proxy-test',
    },
  });
  const { headers } = upstream.last();
  for (const dropped of ['x-hop', 'keep-alive', 'proxy-authorization', 'te']) {
    assert.is(headers[dropped], undefined, dropped);
  }
  assert.is(headers.host, `127.0.0.1:${upstream.port}`);
  assert.is(headers.authorization, 'Bearer sk-end-to-end');
  assert.is(headers['x-custom'], 'kept');
  assert.is(headers['user-agent'], 'proxy-test');
});

test('returns status, end-to-end headers and body, without hop-by-hop response headers', async () => {
  upstream.respondWith((_req, res) => {
    res.writeHead(201, {
      'content-type': 'application/vnd.test+json',
      connection: 'x-upstream-hop',
      'x-upstream-hop': 'private',
      'proxy-authenticate': 'Basic',
      'set-cookie': ['a=1', 'b=2'],
      'x-ratelimit-remaining': '7',
      'x-request-id': 'upstream-made-this-up',
    });
    res.end('{"created":true}');
  });
  const response = await send(`${gateway.url}/ai/v1/files`, { method: 'POST', body: 'x' });
  assert.is(response.status, 201);
  assert.is(response.body.toString(), '{"created":true}');
  assert.is(response.headers['content-type'], 'application/vnd.test+json');
  assert.equal(response.headers['set-cookie'], ['a=1', 'b=2']);
  assert.is(response.headers['x-ratelimit-remaining'], '7');
  assert.is(response.headers['x-upstream-hop'], undefined);
  assert.is(response.headers['proxy-authenticate'], undefined);
  assert.match(String(response.headers['x-request-id']), UUID);
});

test('adds no content type the upstream did not send', async () => {
  upstream.respondWith((_req, res) => {
    res.writeHead(200).end('bare');
  });
  const response = await send(`${gateway.url}/ai/v1/ping`);
  assert.is(response.body.toString(), 'bare');
  assert.is(response.headers['content-type'], undefined);
});

test("sends the client's sane request id upstream and back, and replaces one that is not", async () => {
  const sane = await send(`${gateway.url}/ai/v1/files`, { headers: { 'x-request-id': 'trace-42.a:b' } });
  assert.is(upstream.last().headers['x-request-id'], 'trace-42.a:b');
  assert.is(sane.headers['x-request-id'], 'trace-42.a:b');

  const insane = await send(`${gateway.url}/ai/v1/files`, { headers: { 'x-request-id': 'no spaces <allowed>' } });
  const fresh = String(insane.headers['x-request-id']);
  assert.match(fresh, UUID);
  assert.is(upstream.last().headers['x-request-id'], fresh);

  const probe = await send(`${gateway.url}/healthz`);
  assert.match(String(probe.headers['x-request-id']), UUID);
});

test('delivers server-sent events while the upstream still holds the stream open', async () => {
  const release = gate();
  let upstreamDone = false;
  upstream.respondWith((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write('data: {"n":1}\n\n');
    void release.promise.then(() => {
      res.write('data: {"n":2}\n\n');
      upstreamDone = true;
      res.end('data: [DONE]\n\n');
    });
  });
  const response = await fetch(`${gateway.url}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer sk-any' },
    body: JSON.stringify({ model: 'm', stream: true }),
  });
  assert.is(response.headers.get('content-type'), 'text/event-stream');
  const reader = response.body?.getReader();
  assert.ok(reader);
  const decoder = new TextDecoder();
  const first = await within(reader.read(), 'the first event, while the upstream holds the stream open');
  assert.is(decoder.decode(first.value), 'data: {"n":1}\n\n');
  assert.not.ok(upstreamDone);

  release.open();
  let rest = '';
  for (let part = await reader.read(); !part.done; part = await reader.read()) rest += decoder.decode(part.value);
  assert.is(rest, 'data: {"n":2}\n\ndata: [DONE]\n\n');
});

test("keeps the upstream's content-length on a HEAD answered with an error", async () => {
  upstream.respondWith((_req, res) => {
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': '27' }).end();
  });
  const response = await fetch(`${gateway.url}/ai/v1/files/absent`, { method: 'HEAD' });
  assert.is(response.status, 404);
  assert.is(response.headers.get('content-length'), '27');
  assert.is(response.headers.get('content-type'), 'application/json');
});

test('holds the upstream back while the client reads slowly, and delivers every byte', async () => {
  const CHUNK = randomBytes(64 * 1024);
  const CHUNKS = 512; // 32 MiB: far more than the sockets between the two can hold
  let written = 0;
  const finished = gate();
  upstream.respondWith((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(CHUNK.length * CHUNKS) });
    const pump = () => {
      while (written < CHUNKS) {
        written++;
        if (!res.write(CHUNK)) return void res.once('drain', pump);
      }
      res.end();
      finished.open(undefined);
    };
    pump();
  });
  const { port } = new URL(gateway.url);
  const socket = connect(Number(port), '127.0.0.1');
  const expected = createHash('sha256');
  for (let i = 0; i < CHUNKS; i++) expected.update(CHUNK);
  const received = createHash('sha256');
  let head = '';
  let bodyBytes = 0;
  let inBody = false;
  socket.on('data', (data: Buffer) => {
    if (inBody) {
      bodyBytes += data.length;
      received.update(data);
      return;
    }
    head += data.toString('latin1');
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    inBody = true;
    const rest = Buffer.from(head.slice(end + 4), 'latin1');
    bodyBytes += rest.length;
    received.update(rest);
    // The client stops reading right after the head.
    socket.pause();
  });
  socket.write('POST /ai/v1/files HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}');
  await waitFor(async () => inBody, 'the response head');
  await new Promise((resolve) => setTimeout(resolve, 500));
  const whilePaused = written;
  assert.ok(
    whilePaused < CHUNKS / 2,
    `the upstream wrote ${whilePaused} of ${CHUNKS} chunks to a client that reads nothing`,
  );
  socket.resume();
  await within(finished.promise, 'the upstream to finish once the client reads');
  await within(new Promise((resolve) => socket.once('end', resolve)), 'the end of the response');
  assert.is(bodyBytes, CHUNK.length * CHUNKS);
  assert.is(received.digest('hex'), expected.digest('hex'));
  socket.destroy();
});

test.run();

/*
 * Faults around the gateway: the database going away and coming back mid-traffic, upstreams that
 * reset, stall or never answer, clients that leave mid-upload. The gateway keeps serving, answers
 * what it can, and leaks no sockets or timers.
 */
import { request as httpRequest } from 'node:http';
import { openDatabase } from '@control-layer/db';
import { withTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FORBIDDEN_BODY } from '../src/index.ts';
import { chat, MODEL, scriptedUpstream, seedWorld, send, startGateway, waitFor, within } from './helpers.ts';
import { tcpRelay } from './tcp-relay.ts';

const test = suite('faults');

/** Sockets, servers and timers alive in this process. */
const resources = () => process.getActiveResourcesInfo().filter((r) => r !== 'FSReqCallback').length;

const post = (url: string, key: string, model = MODEL) =>
  send(`${url}/ai/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(chat(model)),
  });

test('keeps passing traffic through while Postgres is away, and explains denials again once it is back', () =>
  withTestDatabase(async (db, t) => {
    const { keys } = await seedWorld(db);
    const target = new URL(t.url);
    const relay = await tcpRelay({ host: target.hostname, port: Number(target.port) });
    const viaRelay = new URL(t.url);
    viaRelay.port = String(relay.port);
    const gatewayDb = await openDatabase(viaRelay.toString(), { connectionTimeoutMs: 1000 });
    // The router's verdict without a database: `ok` passes, anything else is the bare 403.
    const upstream = await scriptedUpstream();
    upstream.respondWith((req, res) => {
      const denied = req.headers.authorization !== `Bearer ${keys.working}`;
      res
        .writeHead(denied ? 403 : 200, { 'content-type': 'application/json' })
        .end(denied ? FORBIDDEN_BODY : '{"ok":true}');
    });
    const front = await startGateway(gatewayDb.db, upstream.url, { enrichmentTimeoutMs: 300, readinessTimeoutMs: 500 });
    try {
      assert.is((await post(front.url, keys.outsider)).status, 403);
      assert.match((await post(front.url, keys.outsider)).body.toString(), 'model_access_denied');

      await relay.cut();
      const during = await Promise.all(
        Array.from({ length: 30 }, (_, i) => post(front.url, i % 2 ? keys.working : keys.broke)),
      );
      for (const [i, response] of during.entries()) {
        if (i % 2) assert.is(response.status, 200, `pass-through ${i}`);
        else {
          assert.is(response.status, 403, `denial ${i}`);
          assert.is(response.body.toString(), FORBIDDEN_BODY, 'unexplained, untouched');
        }
      }
      // Enrichment fails open, so the gateway still serves: ready, reporting the database down.
      await waitFor(
        async () => JSON.parse((await send(`${front.url}/readyz`)).body.toString()).database === 'down',
        'readiness to report the database down',
      );
      assert.is((await send(`${front.url}/readyz`)).status, 200);
      const metrics = (await send(`${front.url}/metrics`)).body.toString();
      assert.match(metrics, /gateway_passthrough_responses_total\{reason="db_error"\} [1-9]/);

      await relay.restore();
      await waitFor(
        async () => JSON.parse((await send(`${front.url}/readyz`)).body.toString()).database === 'up',
        'readiness to report the database up again',
      );
      const after = await post(front.url, keys.broke);
      assert.is(after.status, 402);
      assert.is(JSON.parse(after.body.toString()).error.code, 'insufficient_credits');
    } finally {
      await front.close();
      await upstream.close();
      await gatewayDb.close();
      await relay.close();
    }
  }));

test('cuts the stream of an upstream that resets mid-response, serves the next request, leaks nothing', () =>
  withTestDatabase(async (db) => {
    const upstream = await scriptedUpstream();
    const front = await startGateway(db, upstream.url);
    try {
      await post(front.url, 'sk-x');
      const baseline = resources();
      upstream.respondWith((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: {"n":0}\n\n');
        setTimeout(() => res.socket?.destroy(), 20);
      });
      for (let i = 0; i < 20; i++) {
        const cut = await new Promise<{ data: string; error: string | null }>((resolve) => {
          const req = httpRequest(`${front.url}/ai/v1/chat/completions`, { method: 'POST', agent: false }, (res) => {
            let data = '';
            res.on('data', (c: Buffer) => {
              data += c;
            });
            res.on('error', (e: NodeJS.ErrnoException) => resolve({ data, error: e.code ?? e.message }));
            res.on('aborted', () => resolve({ data, error: 'aborted' }));
            res.on('end', () => resolve({ data, error: null }));
          });
          req.on('error', (e: NodeJS.ErrnoException) => resolve({ data: '', error: e.code ?? e.message }));
          req.end('{"model":"m"}');
        });
        assert.match(cut.data, 'data: {"n":0}');
        assert.ok(cut.error !== null, 'the client sees the stream cut, not a clean end');
      }
      upstream.respondWith((_req, res) => res.writeHead(200).end('fine'));
      assert.is((await post(front.url, 'sk-x')).body.toString(), 'fine');
      await waitFor(async () => resources() <= baseline, `resources back to ${baseline} (now ${resources()})`);
    } finally {
      await front.close();
      await upstream.close();
    }
  }));

test('cuts a response whose body stalls past the body timeout, while other requests are served', () =>
  withTestDatabase(async (db) => {
    const upstream = await scriptedUpstream();
    const front = await startGateway(db, upstream.url, { upstreamBodyTimeoutMs: 300 });
    try {
      upstream.respondWith((req, res) => {
        if (req.body.toString().includes('stall')) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write('data: first\n\n');
          return;
        }
        res.writeHead(200).end('other');
      });
      const stalled = send(`${front.url}/ai/v1/x`, { method: 'POST', body: 'stall' }).then(
        (r) => ({ ok: true, body: r.body.toString() }),
        (e: NodeJS.ErrnoException) => ({ ok: false, body: e.code ?? '' }),
      );
      assert.is((await post(front.url, 'sk-x')).body.toString(), 'other');
      const result = await within(stalled, 'the stalled stream to be cut', 5000);
      // Cut, not ended cleanly: a client must not take half a stream for a whole one.
      assert.is(result.ok, false, `the stalled response ended cleanly: ${result.body}`);
    } finally {
      await front.close();
      await upstream.close();
    }
  }));

test('never calls the upstream for a client that leaves mid-upload, and leaks nothing', () =>
  withTestDatabase(async (db) => {
    const upstream = await scriptedUpstream();
    const front = await startGateway(db, upstream.url);
    try {
      await post(front.url, 'sk-warm');
      const before = upstream.requests.length;
      const baseline = resources();
      for (let i = 0; i < 20; i++) {
        await new Promise<void>((resolve) => {
          const req = httpRequest(`${front.url}/ai/v1/chat/completions`, {
            method: 'POST',
            agent: false,
            headers: { 'content-type': 'application/json', 'content-length': '100000' },
          });
          req.on('error', () => resolve());
          req.write('{"model":"m","pad":"');
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 20);
        });
      }
      // Give the gateway a moment to see every hang-up before counting.
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.is(upstream.requests.length, before);
      await waitFor(async () => resources() <= baseline, `resources back to ${baseline} (now ${resources()})`);
      assert.is((await post(front.url, 'sk-after')).status, 200);
    } finally {
      await front.close();
      await upstream.close();
    }
  }));

test.run();

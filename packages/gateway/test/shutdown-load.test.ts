/*
 * SIGTERM while the gateway (`src/main.ts`, stub upstream in-process, real Postgres) is busy:
 * every request already in flight completes, streams included; new connections are refused;
 * the process exits 0.
 */
import { request as httpRequest } from 'node:http';
import { createTestDatabase, rejection } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { chat, seedWorld, send, within } from './helpers.ts';
import { bareEnv, startProcess } from './process.ts';

const test = suite('shutdown under load');

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
const gateway = startProcess(
  process.execPath,
  ['--import', 'tsx', 'src/main.ts'],
  bareEnv({ DATABASE_URL: t.url, PORT: '0' }),
);

test.after(async () => {
  gateway.stop();
  await t?.close();
});

interface Outcome {
  status: number;
  body: string;
}

/** A chat completion whose first byte resolves `started`, and whose whole body resolves `done`. */
function inFlight(url: string, key: string, stream: boolean) {
  let markStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  const done = new Promise<Outcome>((resolve, reject) => {
    const req = httpRequest(
      `${url}/ai/v1/chat/completions`,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` } },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => {
          body += chunk;
          markStarted();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify({ ...chat(), stream }));
  });
  done.catch(() => {});
  return { started, done };
}

test('completes every in-flight request and stream on SIGTERM, refuses new ones, exits 0', async () => {
  const { url, pid } = await gateway.ready();
  const streams = Array.from({ length: 24 }, () => inFlight(url, keys.working, true));
  const denials = Array.from({ length: 8 }, (_, i) => inFlight(url, i % 2 ? keys.broke : keys.outsider, false));
  // Every connection accepted and answering before the signal: a connection still in the listen
  // backlog when the socket closes is reset by the kernel, which no server can prevent.
  await within(Promise.all([...streams, ...denials].map((s) => s.started)), 'every request to be answering');
  process.kill(pid, 'SIGTERM');
  await gateway.log('shutting down: no new connections, draining');
  const refused = await rejection(() => send(`${url}/healthz`));
  assert.is((refused as { code?: string }).code, 'ECONNREFUSED');

  const finished = await within(Promise.all(streams.map((s) => s.done)), 'every stream to finish');
  for (const outcome of finished) {
    assert.is(outcome.status, 200);
    assert.ok(outcome.body.trimEnd().endsWith('data: [DONE]'), 'the stream ran to its end');
  }
  const explained = await within(Promise.all(denials.map((d) => d.done)), 'every denial');
  for (const [i, outcome] of explained.entries()) {
    assert.is(outcome.status, i % 2 ? 402 : 403);
  }
  assert.equal(await within(gateway.exited, 'the process to exit', 20_000), { code: 0, signal: null });
  assert.is((await gateway.log('stopped')).drained, true);
});

test.run();

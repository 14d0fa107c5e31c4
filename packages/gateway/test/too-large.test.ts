/*
 * An oversize upload is answered with the 413 envelope, and every client reads it: the official
 * `openai` SDK, `fetch`, `node:http` and curl, with a declared length and chunked, ten times each.
 */
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { scriptedUpstream, seedWorld } from './helpers.ts';
import { bareEnv, startProcess } from './process.ts';
import { CLIENTS, type Framing } from './too-large-clients.ts';

const test = suite('413 for every client');

const LIMIT = 1024 * 1024;
const SIZE = 6 * LIMIT;
const TRIES = 10;

const t = await createTestDatabase();
const { keys } = await seedWorld(t.db);
const upstream = await scriptedUpstream();
// A gateway process of its own: a client in the same process as the server shares its event loop,
// which hides the timing that makes a refused upload end in a reset.
const gateway = startProcess(
  process.execPath,
  ['--import', 'tsx', 'src/main.ts'],
  bareEnv({ DATABASE_URL: t.url, UPSTREAM_URL: upstream.url, PORT: '0', MAX_BODY_BYTES: String(LIMIT) }),
);
const front = await gateway.ready();

test.after(async () => {
  gateway.stop();
  await upstream?.close();
  await t?.close();
});

for (const framing of ['declared', 'chunked'] as Framing[]) {
  for (const [name, send] of Object.entries(CLIENTS)) {
    test(`${name} reads the request_too_large envelope for a ${framing} oversize upload, ${TRIES} of ${TRIES} times`, async () => {
      const seen: string[] = [];
      for (let i = 0; i < TRIES; i++) {
        const outcome = await send(front.url, keys.working, SIZE, framing);
        seen.push(outcome.error ?? `${outcome.status} ${outcome.code}`);
      }
      const read = seen.filter((s) => s === '413 request_too_large').length;
      assert.is(read, TRIES, `${name}, ${framing}: ${seen.join(', ')}`);
      // Nothing oversize ever completed upstream: a declared length never left the gateway, a
      // chunked body was cut upstream the moment it crossed the limit.
      assert.is(upstream.requests.length, 0, 'an oversize body reached the upstream whole');
      if (framing === 'chunked') assert.ok(upstream.aborted() > 0, 'no upstream request was started and cut');
    });
  }
}

test('reads a 40 MiB oversize upload to its end and answers it, declared and chunked', async () => {
  for (const framing of ['declared', 'chunked'] as Framing[]) {
    const outcome = await CLIENTS['node:http'](front.url, keys.working, 40 * 1024 * 1024, framing);
    assert.equal(outcome, { status: 413, code: 'request_too_large', error: null }, framing);
  }
});

test.run();

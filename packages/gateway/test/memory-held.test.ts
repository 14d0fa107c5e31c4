/*
 * A request body is not held while its answer streams: with enrichment on, concurrent uploads
 * whose answers stream for seconds leave the gateway holding no more than without enrichment.
 * (A reduced scale of bench/memory-streams.ts: 10 streams × 4 MiB, in this process.)
 */

import { request as httpRequest } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createTestDatabase } from '@control-layer/db/testing';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { serve, startGateway, within } from './helpers.ts';

const test = suite('memory held during streams');

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const t = await createTestDatabase();

test.after(async () => {
  await t?.close();
});

const STREAMS = 10;
const BODY = Buffer.alloc(4 * 1024 * 1024, 0x61);

/** An upstream that reads the body, then streams events until told to stop. */
async function streamingUpstream() {
  const open = new Set<() => void>();
  const listening = await serve(async (req, res) => {
    for await (const _ of req);
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write('data: {"n":0}\n\n');
    const timer = setInterval(() => res.write('data: {"n":1}\n\n'), 200);
    const end = () => {
      clearInterval(timer);
      res.end('data: [DONE]\n\n');
    };
    open.add(end);
    res.once('close', () => clearInterval(timer));
  });
  return { ...listening, endAll: () => [...open].map((end) => end()) };
}

/** Array buffers (where request bodies live) held by this process once every stream has started. */
async function heldDuringStreams(enrichment: boolean): Promise<number> {
  const upstream = await streamingUpstream();
  const front = await startGateway(t.db, upstream.url, { enrichment });
  try {
    gc();
    const before = process.memoryUsage().arrayBuffers;
    const started: Promise<void>[] = [];
    const ended: Promise<void>[] = [];
    for (let i = 0; i < STREAMS; i++) {
      const req = httpRequest(`${front.url}/ai/v1/chat/completions`, {
        method: 'POST',
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': BODY.length,
          authorization: 'Bearer sk-memory-held',
        },
      });
      started.push(
        new Promise((resolve) =>
          req.on('response', (res) => {
            res.once('data', () => resolve());
            ended.push(new Promise((done) => res.on('end', done).resume()));
          }),
        ),
      );
      req.end(BODY);
    }
    await within(Promise.all(started), 'every stream to start', 20_000);
    gc();
    gc();
    const held = process.memoryUsage().arrayBuffers - before;
    upstream.endAll();
    await within(Promise.all(ended), 'every stream to end', 20_000);
    return held;
  } finally {
    await front.close();
    await upstream.close();
  }
}

test('holds no request body while the answers stream, enrichment on as off', async () => {
  const off = await heldDuringStreams(false);
  const on = await heldDuringStreams(true);
  const MiB = 1024 * 1024;
  const report = `held ${(on / MiB).toFixed(1)} MiB with enrichment on, ${(off / MiB).toFixed(1)} MiB off`;
  console.log(report);
  // Keeping the bodies would hold 40 MiB; a quarter of one body is the margin for noise. A run
  // that ends below its start (memory of earlier tests freed meanwhile) holds nothing: 0 is the floor.
  assert.ok(on <= Math.max(off, 0) + MiB, report);
});

test.run();

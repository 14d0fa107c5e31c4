/**
 * Memory held during long streamed answers: 40 concurrent requests with a 4 MiB body each, whose
 * answers stream for 15 s (server-sent events), through a fresh gateway with enrichment on and one
 * with it off. Once every stream has started, and again after a full collection (`--expose-gc`),
 * the gateway's memory is read: what a captured body costs if it were kept for the whole answer.
 * Rounds interleave on and off.
 * Usage: node --import tsx bench/memory-streams.ts [--quick]
 */
import { request } from 'node:http';
import { jsonBody, MiB } from './lib/bodies.ts';
import type { ChildServer } from './lib/child-server.ts';
import { startBenchDatabase } from './lib/database.ts';
import { gatewayStats, startGateway, startUpstream } from './lib/gateway.ts';
import { readMemory } from './lib/memory.ts';
import { interleave } from './lib/rounds.ts';
import { median, medianWithSpread, pairedRatios, printTable, ROUNDS_LEGEND, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 1 : 3;
const STREAMS = 40;
const BODY = Buffer.from(jsonBody(4 * MiB));
const SSE_SECONDS = quick ? 6 : 15;

interface Stream {
  /** Resolves when the first event arrived. */
  started: Promise<void>;
  /** Resolves with the status once the stream ended (or was cut). */
  done: Promise<number>;
  cancel: () => void;
}

function openStream(url: string): Stream {
  let markStarted: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  const req = request(url, {
    method: 'POST',
    agent: false,
    // With a bearer key, as every inference request has: without one nothing is kept at all.
    headers: {
      'content-type': 'application/json',
      'content-length': BODY.length,
      authorization: 'Bearer sk-bench-streams',
    },
  });
  const done = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      res.once('data', () => markStarted());
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
      res.once('error', () => resolve(0));
    });
    req.on('error', () => {
      markStarted();
      resolve(0);
    });
  });
  req.end(BODY);
  return { started, done, cancel: () => req.destroy() };
}

interface Held {
  /** RSS over the idle baseline once every stream started, in bytes. */
  rss: number;
  /** The same after a full collection. */
  rssAfterGc: number;
  /** Heap used + external + array buffers over the baseline, after a full collection. */
  heldAfterGc: number;
  /** The process's whole RSS during the streams, after a full collection. */
  totalRss: number;
  /** Heap used + external + array buffers in all during the streams, after a full collection. */
  totalHeld: number;
}

const MODES = ['enrichment on', 'enrichment off'] as const;
type Mode = (typeof MODES)[number];

const database = await startBenchDatabase();
const servers: ChildServer[] = [];
try {
  const upstream = await startUpstream('sse-long', { SSE_SECONDS: String(SSE_SECONDS) });
  servers.push(upstream);
  const held = (m: NodeJS.MemoryUsage) => m.heapUsed + m.external + m.arrayBuffers;

  const measure = async (mode: Mode): Promise<Held> => {
    const gateway = await startGateway({
      upstreamUrl: upstream.url,
      databaseUrl: database.url,
      enrichment: mode === 'enrichment on',
      nodeArgs: ['--expose-gc'],
    });
    try {
      const url = `${gateway.url}/ai/v1/chat/completions`;
      // Warm-up with the same shape, then the idle baseline after a collection.
      const warm = Array.from({ length: 4 }, () => openStream(url));
      await Promise.all(warm.map((s) => s.started));
      for (const s of warm) s.cancel();
      await new Promise((resolve) => setTimeout(resolve, 500));
      const idle = await gatewayStats(gateway, { gc: true });
      const idleRss = readMemory(gateway.pid).rss;

      const streams = Array.from({ length: STREAMS }, () => openStream(url));
      await Promise.all(streams.map((s) => s.started));
      const rss = readMemory(gateway.pid).rss - idleRss;
      const during = await gatewayStats(gateway, { gc: true });
      const totalRss = readMemory(gateway.pid).rss;
      const rssAfterGc = totalRss - idleRss;
      const statuses = await Promise.all(streams.map((s) => s.done));
      const failed = statuses.filter((status) => status !== 200).length;
      if (failed > 0) throw new Error(`${mode}: ${failed} of ${STREAMS} streams did not end with 200`);
      return {
        rss,
        rssAfterGc,
        heldAfterGc: held(during.memory) - held(idle.memory),
        totalRss,
        totalHeld: held(during.memory),
      };
    } finally {
      await gateway.stop();
    }
  };
  const results = await interleave(MODES, { rounds }, measure);

  console.log(
    `memory held by ${STREAMS} concurrent ${SSE_SECONDS} s streams with a 4 MiB body each, fresh gateway per ` +
      `round, ${rounds} rounds; ${ROUNDS_LEGEND}\n`,
  );
  const mib = (values: number[]) =>
    medianWithSpread(
      values.map((v) => v / MiB),
      1,
    );
  printTable(
    [
      'gateway',
      'RSS growth, streams started (MiB)',
      'RSS growth after GC (MiB)',
      'heap + buffers held after GC (MiB)',
      'RSS after GC (MiB)',
      'heap + buffers in all after GC (MiB)',
    ],
    MODES.map((mode) => {
      const r = results[mode];
      return [
        mode,
        mib(r.map((x) => x.rss)),
        mib(r.map((x) => x.rssAfterGc)),
        mib(r.map((x) => x.heldAfterGc)),
        mib(r.map((x) => x.totalRss)),
        mib(r.map((x) => x.totalHeld)),
      ];
    }),
  );
  const on = results['enrichment on'];
  const off = results['enrichment off'];
  for (const mode of MODES) {
    const key = mode.replace(' ', '_');
    reportLine('memory-streams', `rss_growth_mib_${key}`, median(results[mode].map((x) => x.rss)) / MiB, null, null);
    reportLine(
      'memory-streams',
      `held_after_gc_mib_${key}`,
      median(results[mode].map((x) => x.heldAfterGc)) / MiB,
      null,
      null,
    );
  }
  // What the process holds during the streams, after a collection: heap, external and array
  // buffers in all (growth with enrichment off is a few MiB, too close to zero for a steady ratio).
  // RSS is reported beside it but not judged: freed memory is not always handed back to the system,
  // and while the uploads arrive each body is kept until the upstream's status is known.
  const ratio = median(
    pairedRatios(
      on.map((x) => x.totalHeld),
      off.map((x) => x.totalHeld),
    ),
  );
  reportLine('memory-streams', 'held_ratio_on_over_off', ratio, '<= 1.25', ratio <= 1.25);
  const rssRatio = median(
    pairedRatios(
      on.map((x) => x.totalRss),
      off.map((x) => x.totalRss),
    ),
  );
  reportLine('memory-streams', 'rss_ratio_on_over_off', rssRatio, null, null);
} finally {
  for (const server of servers.reverse()) await server.stop();
  await database.close();
}

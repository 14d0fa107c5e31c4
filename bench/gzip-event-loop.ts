/**
 * A compression bomb against the event loop: 4 clients loop sending a 10 KiB gzip body that
 * inflates to a 10 MiB chat request, with a bearer token, to an upstream that answers every request
 * 403 (three clients with keys nobody knows, one with a key the database knows, whose body is then
 * decoded), while `/healthz` is probed every 10 ms. The same with plain 10 KiB bodies, and with no
 * load at all, interleaved, show what the machine gives anyway.
 * Usage: node --import tsx bench/gzip-event-loop.ts [--quick]
 */
import { gzipSync } from 'node:zlib';
import { seedDenialWorld } from '../packages/db/src/testing/index.ts';
import { jsonBody, MiB } from './lib/bodies.ts';
import type { ChildServer } from './lib/child-server.ts';
import { startBenchDatabase } from './lib/database.ts';
import { startGateway, startUpstream } from './lib/gateway.ts';
import { interleave } from './lib/rounds.ts';
import { median, medianWithSpread, percentile, printTable, ROUNDS_LEGEND, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 2 : 5;
const seconds = quick ? 2 : 5;
const P99_TARGET_MS = 20;

const LOADS = ['idle', 'plain 10 KiB bodies', 'gzip 10 KiB → 10 MiB bodies'] as const;
type Load = (typeof LOADS)[number];

const database = await startBenchDatabase();
const servers: ChildServer[] = [];
try {
  const { keys } = await seedDenialWorld(database.db, 'bench-model');
  const upstream = await startUpstream('forbidden');
  servers.push(upstream);
  const gateway = await startGateway({ upstreamUrl: upstream.url, databaseUrl: database.url, enrichment: true });
  servers.push(gateway);
  const url = `${gateway.url}/ai/v1/chat/completions`;
  const bomb = gzipSync(jsonBody(10 * MiB - 64));
  const plain = Buffer.from(jsonBody(bomb.length));
  const senders = ['sk-unknown-1', 'sk-unknown-2', 'sk-unknown-3', keys.outsider];

  const measure = async (what: Load) => {
    const stopAt = performance.now() + seconds * 1000;
    let sent = 0;
    const body = what === 'plain 10 KiB bodies' ? plain : bomb;
    const encoding = what === 'plain 10 KiB bodies' ? 'identity' : 'gzip';
    const loops =
      what === 'idle'
        ? []
        : senders.map(async (key) => {
            while (performance.now() < stopAt) {
              const response = await fetch(url, {
                method: 'POST',
                headers: {
                  authorization: `Bearer ${key}`,
                  'content-type': 'application/json',
                  'content-encoding': encoding,
                },
                body,
              });
              await response.arrayBuffer();
              if (response.status !== 403) throw new Error(`${what}: ${response.status}`);
              sent++;
            }
          });
    const latencies: number[] = [];
    while (performance.now() < stopAt) {
      const started = performance.now();
      await (await fetch(`${gateway.url}/healthz`)).arrayBuffer();
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(loops);
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), sent: sent / seconds };
  };
  const results = await interleave(LOADS, { rounds }, measure);

  console.log(
    `/healthz while 4 clients loop sending bodies with a bearer token to a 403ing upstream, ${rounds} rounds × ` +
      `${seconds} s, interleaved; ${ROUNDS_LEGEND}\n`,
  );
  printTable(
    ['load', '/healthz p50 (ms)', '/healthz p99 (ms)', 'bodies / s'],
    LOADS.map((what) => {
      const r = results[what];
      return [
        what,
        medianWithSpread(
          r.map((x) => x.p50),
          2,
        ),
        medianWithSpread(
          r.map((x) => x.p99),
          2,
        ),
        medianWithSpread(r.map((x) => x.sent)),
      ];
    }),
  );
  for (const what of LOADS) {
    const key = what.split(' ')[0];
    const p99 = median(results[what].map((x) => x.p99));
    const judged = what.startsWith('gzip');
    reportLine(
      'gzip-event-loop',
      `healthz_p99_ms_${key}`,
      p99,
      judged ? `<= ${P99_TARGET_MS}` : null,
      judged ? p99 <= P99_TARGET_MS : null,
    );
  }
} finally {
  for (const server of servers.reverse()) await server.stop();
  await database.close();
}

/**
 * Scenario 1, pass-through cost: the gateway with error enrichment on, the same gateway with
 * `ENRICHMENT=off`, and the upstream on its own, under the same load (16 connections, 1 KiB and
 * 256 KiB JSON bodies with a bearer key, the upstream answering 200), and beside them the bare
 * `node:http` + undici proxy of servers/bare-proxy.ts, the floor of a proxy written on Node. Rounds
 * are interleaved across the four.
 * `--tracing` adds, side by side, the gateway with enrichment on exporting every span
 * (OTEL_EXPORTER_OTLP_ENDPOINT pointed at a local sink that discards them): what tracing costs,
 * against the same gateway with the variable unset.
 * Usage: node --import tsx bench/pass-through.ts [--quick] [--tracing]
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatBytes, jsonBody, KiB } from './lib/bodies.ts';
import { type ChildServer, startChildServer, startedTogether } from './lib/child-server.ts';
import { startBenchDatabase } from './lib/database.ts';
import { startGateway, startUpstream } from './lib/gateway.ts';
import { expectOnly, type LoadResult, load } from './lib/load.ts';
import { interleave } from './lib/rounds.ts';
import { median, medianWithSpread, pairedRatios, printTable, ROUNDS_LEGEND, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 3 : 7;
const durationSeconds = quick ? 1 : 4;
const warmupSeconds = quick ? 0.5 : 2;
const connections = 16;
const SIZES = [
  { bytes: KiB, target: 0.97 },
  { bytes: 256 * KiB, target: 0.95 },
];
const tracing = process.argv.includes('--tracing');
const ALL_VARIANTS = ['enrichment on', 'enrichment off', 'upstream direct', 'bare proxy', 'tracing on'] as const;
/** Gateway CPU per response, enrichment on and a bearer key on every request, over the bare proxy's. */
const BARE_CPU_TARGET = 1.3;
type Variant = (typeof ALL_VARIANTS)[number];
const VARIANTS = ALL_VARIANTS.filter((variant) => tracing || variant !== 'tracing on');

/** An OTLP/HTTP receiver that reads and discards what it gets. */
async function startTraceSink() {
  const server = createServer((req, res) => {
    req.resume();
    req.once('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

const database = await startBenchDatabase();
const sink = tracing ? await startTraceSink() : null;
const servers: ChildServer[] = [];
try {
  const upstream = await startUpstream('ok');
  servers.push(upstream);
  const [bare, on, off, traced] = await startedTogether(servers, [
    startChildServer('servers/bare-proxy.ts', [], { UPSTREAM_URL: upstream.url }),
    startGateway({ upstreamUrl: upstream.url, databaseUrl: database.url, enrichment: true }),
    startGateway({ upstreamUrl: upstream.url, databaseUrl: database.url, enrichment: false }),
    ...(sink
      ? [
          startGateway({
            upstreamUrl: upstream.url,
            databaseUrl: database.url,
            enrichment: true,
            env: { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url },
          }),
        ]
      : []),
  ] as const);
  const targets: Partial<Record<Variant, { url: string; pid: number }>> = {
    'enrichment on': { url: `${on.url}/ai/v1/chat/completions`, pid: on.pid },
    'enrichment off': { url: `${off.url}/ai/v1/chat/completions`, pid: off.pid },
    'upstream direct': { url: `${upstream.url}/v1/chat/completions`, pid: upstream.pid },
    'bare proxy': { url: `${bare.url}/ai/v1/chat/completions`, pid: bare.pid },
    ...(traced && { 'tracing on': { url: `${traced.url}/ai/v1/chat/completions`, pid: traced.pid } }),
  };

  console.log(
    `pass-through: ${connections} connections, ${rounds} rounds × ${durationSeconds} s, interleaved; ${ROUNDS_LEGEND}\n`,
  );
  const rows: string[][] = [];
  for (const size of SIZES) {
    const body = jsonBody(size.bytes);
    const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
    const run = async (variant: Variant, seconds: number): Promise<LoadResult> => {
      const target = targets[variant];
      if (!target) throw new Error(`no server for ${variant}`);
      const { url, pid } = target;
      const result = await load({ url, connections, durationSeconds: seconds, headers, body, serverPid: pid });
      expectOnly(`${variant}, ${formatBytes(size.bytes)}`, result, 200);
      return result;
    };
    const results = await interleave(
      VARIANTS,
      { rounds, warmup: (variant) => run(variant, warmupSeconds) },
      (variant) => run(variant, durationSeconds),
    );
    const rps = (variant: Variant) => results[variant].map((r) => r.requestsPerSecond);
    const cpu = (variant: Variant) => results[variant].map((r) => r.cpuMicrosPerResponse);
    const ratios = pairedRatios(rps('enrichment on'), rps('enrichment off'));
    const cpuRatios = pairedRatios(cpu('enrichment on'), cpu('enrichment off'));
    const ratio = median(ratios);
    const overDirect = median(pairedRatios(rps('enrichment on'), rps('upstream direct')));
    for (const variant of VARIANTS) {
      const key = `${variant.replace(/ /g, '_')}_${size.bytes}`;
      rows.push([
        formatBytes(size.bytes),
        variant,
        medianWithSpread(rps(variant)),
        median(results[variant].map((r) => r.p50)).toFixed(0),
        median(results[variant].map((r) => r.p99)).toFixed(0),
        median(cpu(variant)).toFixed(0),
      ]);
      reportLine('pass-through', `rps_${key}`, median(rps(variant)), null, null);
      reportLine('pass-through', `cpu_us_per_request_${key}`, median(cpu(variant)), null, null);
    }
    rows.push([
      formatBytes(size.bytes),
      '**on / off**',
      medianWithSpread(ratios, 3),
      '',
      '',
      medianWithSpread(cpuRatios, 3),
    ]);
    reportLine('pass-through', `on_off_ratio_${size.bytes}`, ratio, `>= ${size.target}`, ratio >= size.target);
    reportLine('pass-through', `on_off_cpu_ratio_${size.bytes}`, median(cpuRatios), null, null);
    reportLine('pass-through', `on_direct_ratio_${size.bytes}`, overDirect, null, null);
    const overBare = pairedRatios(cpu('enrichment on'), cpu('bare proxy'));
    rows.push([formatBytes(size.bytes), '**on / bare proxy, CPU**', '', '', '', medianWithSpread(overBare, 3)]);
    reportLine(
      'pass-through',
      `on_bare_cpu_ratio_${size.bytes}`,
      median(overBare),
      `<= ${BARE_CPU_TARGET}`,
      median(overBare) <= BARE_CPU_TARGET,
    );
    if (tracing) {
      const tracedRatios = pairedRatios(rps('tracing on'), rps('enrichment on'));
      rows.push([formatBytes(size.bytes), '**tracing on / unset**', medianWithSpread(tracedRatios, 3), '', '', '']);
      reportLine('pass-through', `tracing_unset_ratio_${size.bytes}`, median(tracedRatios), null, null);
    }
  }
  printTable(['body', 'variant', 'requests/s', 'p50 (ms)', 'p99 (ms)', 'server CPU (µs / request)'], rows);
  console.log(
    'on / off: median of the round-by-round ratios (each pair measured back to back). Server CPU: user + system ' +
      'time of the server process, all threads, per response.',
  );
} finally {
  for (const server of servers.reverse()) await server.stop();
  sink?.close();
  await database.close();
}

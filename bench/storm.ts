/**
 * A 403 storm: one client hammers a denied key (no credits) on one model at 64 connections; the
 * upstream answers every request 403, so every response needs a diagnosis. Two gateways side by
 * side, rounds interleaved: with coalescing (concurrent diagnoses of the same key and model share
 * one statement, the default) and without (one statement per response). The gateway child counts
 * the SQL statements it sends, so statements per second and per response are exact.
 * Usage: node --import tsx bench/storm.ts [--quick]
 */
import { seedDenialWorld } from '../packages/db/src/testing/index.ts';
import { jsonBody, KiB } from './lib/bodies.ts';
import { type ChildServer, startedTogether } from './lib/child-server.ts';
import { startBenchDatabase } from './lib/database.ts';
import { gatewayStats, startGateway, startUpstream } from './lib/gateway.ts';
import { expectOnly, type LoadResult, load } from './lib/load.ts';
import { interleave } from './lib/rounds.ts';
import { median, medianWithSpread, pairedRatios, printTable, ROUNDS_LEGEND, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 3 : 5;
const durationSeconds = quick ? 2 : 5;
const connections = 64;
const MODEL = 'storm-model';

const VARIANTS = ['coalescing', 'no coalescing'] as const;
type Variant = (typeof VARIANTS)[number];

interface Round {
  load: LoadResult;
  statementsPerSecond: number;
  statementsPerResponse: number;
}

const database = await startBenchDatabase();
const servers: ChildServer[] = [];
try {
  const { keys } = await seedDenialWorld(database.db, MODEL);
  const upstream = await startUpstream('forbidden');
  servers.push(upstream);
  const gatewayOf = (coalesce: boolean) =>
    startGateway({
      upstreamUrl: upstream.url,
      databaseUrl: database.url,
      enrichment: true,
      env: { BENCH_COALESCE: coalesce ? 'on' : 'off' },
    });
  const [withCoalescing, without] = await startedTogether(servers, [gatewayOf(true), gatewayOf(false)] as const);
  const gateways: Record<Variant, ChildServer> = { coalescing: withCoalescing, 'no coalescing': without };
  const body = jsonBody(KiB, MODEL);
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${keys.broke}` };

  const run = async (variant: Variant, seconds: number): Promise<Round> => {
    const gateway = gateways[variant];
    const before = await gatewayStats(gateway);
    const started = performance.now();
    const result = await load({
      url: `${gateway.url}/ai/v1/chat/completions`,
      connections,
      durationSeconds: seconds,
      headers,
      body,
      serverPid: gateway.pid,
    });
    // Requests autocannon cut at the end still finish in the gateway; let them be counted.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const elapsed = (performance.now() - started) / 1000;
    const after = await gatewayStats(gateway);
    expectOnly(variant, result, 402);
    const statements = after.statements - before.statements;
    const explained = after.enriched - before.enriched;
    return { load: result, statementsPerSecond: statements / elapsed, statementsPerResponse: statements / explained };
  };
  const results = await interleave(VARIANTS, { rounds, warmup: (v) => run(v, 1) }, (v) => run(v, durationSeconds));

  console.log(
    `403 storm: one denied key (402 insufficient_credits), ${connections} connections, ${rounds} rounds × ` +
      `${durationSeconds} s, interleaved; both gateways and the load generator share the machine's cores; ` +
      `${ROUNDS_LEGEND}\n`,
  );
  printTable(
    [
      'variant',
      'requests/s',
      'p99 (ms)',
      'SQL statements / s',
      'SQL statements / response',
      'gateway CPU (µs / request)',
    ],
    VARIANTS.map((v) => {
      const r = results[v];
      return [
        v,
        medianWithSpread(r.map((x) => x.load.requestsPerSecond)),
        median(r.map((x) => x.load.p99)).toFixed(0),
        medianWithSpread(r.map((x) => x.statementsPerSecond)),
        median(r.map((x) => x.statementsPerResponse)).toFixed(3),
        median(r.map((x) => x.load.cpuMicrosPerResponse)).toFixed(0),
      ];
    }),
  );
  for (const v of VARIANTS) {
    const name = v.replace(/ /g, '_');
    const r = results[v];
    reportLine('storm', `statements_per_second_${name}`, median(r.map((x) => x.statementsPerSecond)), null, null);
    reportLine('storm', `statements_per_response_${name}`, median(r.map((x) => x.statementsPerResponse)), null, null);
    reportLine('storm', `rps_${name}`, median(r.map((x) => x.load.requestsPerSecond)), null, null);
    reportLine('storm', `cpu_us_per_request_${name}`, median(r.map((x) => x.load.cpuMicrosPerResponse)), null, null);
  }
  const saved = median(
    pairedRatios(
      results['no coalescing'].map((x) => x.statementsPerResponse),
      results.coalescing.map((x) => x.statementsPerResponse),
    ),
  );
  console.log(`statements per response without coalescing ÷ with: ${saved.toFixed(1)}×\n`);
  // Coalescing must at least halve the database's share of a storm at 64 connections.
  reportLine('storm', 'statements_per_response_ratio_without_over_with', saved, '>= 2', saved >= 2);
} finally {
  for (const server of servers.reverse()) await server.stop();
  await database.close();
}

/**
 * Every core: the gateway as `pnpm start` runs it (src/main.ts), once with `WORKERS=1` and once
 * with `WORKERS=2` (a node:cluster primary handing connections to two workers), side by side on
 * the same upstream and database, rounds interleaved. Two workloads: a pass-through (upstream 200,
 * 1 KiB body) and a storm of explained denials (upstream 403, a key without credits). CPU per
 * request counts the primary and its workers together.
 * On a 2-core machine the load generator, the upstream and Postgres share the cores with the
 * workers, so the second worker cannot double throughput here; the figure says what it buys.
 * Usage: node --import tsx bench/workers.ts [--quick]
 */
import os from 'node:os';
import path from 'node:path';
import { seedDenialWorld } from '../packages/db/src/testing/index.ts';
import { jsonBody, KiB } from './lib/bodies.ts';
import { type ChildServer, startedTogether, startProcess } from './lib/child-server.ts';
import { startBenchDatabase } from './lib/database.ts';
import { startUpstream } from './lib/gateway.ts';
import { expectOnly, type LoadResult, load } from './lib/load.ts';
import { freePort } from './lib/peers.ts';
import { interleave } from './lib/rounds.ts';
import { median, medianWithSpread, pairedRatios, printTable, ROUNDS_LEGEND, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 3 : 5;
const durationSeconds = quick ? 2 : 5;
const connections = 32;
const MODEL = 'workers-model';
const MAIN = path.resolve(import.meta.dirname, '..', 'packages', 'gateway', 'src', 'main.ts');

const VARIANTS = ['WORKERS=1', 'WORKERS=2'] as const;
type Variant = (typeof VARIANTS)[number];
const WORKLOADS = ['pass-through', 'denial storm'] as const;
type Workload = (typeof WORKLOADS)[number];

/**
 * `pnpm start`'s entry point with `workers` workers, at `LOG_LEVEL=warn` (an access line per request
 * would measure the log pipe), so no ready line is printed: it counts as started once its port
 * accepts connections, plus time for every worker to be listening (the warm-up follows anyway).
 */
async function startMain(workers: number, databaseUrl: string, upstreamUrl: string): Promise<ChildServer> {
  const port = await freePort();
  const server = await startProcess({
    name: `gateway WORKERS=${workers}`,
    command: process.execPath,
    args: ['--import', 'tsx', MAIN],
    env: {
      DATABASE_URL: databaseUrl,
      UPSTREAM_URL: upstreamUrl,
      PORT: String(port),
      WORKERS: String(workers),
      LOG_LEVEL: 'warn',
    },
    probe: { url: `http://127.0.0.1:${port}`, port },
  });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  return server;
}

const database = await startBenchDatabase();
const servers: ChildServer[] = [];
try {
  const { keys } = await seedDenialWorld(database.db, MODEL);
  const [ok, forbidden] = await startedTogether(servers, [startUpstream('ok'), startUpstream('forbidden')] as const);
  const start = (upstream: ChildServer) =>
    startedTogether(servers, [
      startMain(1, database.url, upstream.url),
      startMain(2, database.url, upstream.url),
    ] as const);
  const [okOne, okTwo] = await start(ok);
  const [denyOne, denyTwo] = await start(forbidden);
  const gateways: Record<Workload, Record<Variant, ChildServer>> = {
    'pass-through': { 'WORKERS=1': okOne, 'WORKERS=2': okTwo },
    'denial storm': { 'WORKERS=1': denyOne, 'WORKERS=2': denyTwo },
  };
  const body = jsonBody(KiB, MODEL);
  const setups: Record<Workload, { key: string; status: number }> = {
    'pass-through': { key: keys.working, status: 200 },
    'denial storm': { key: keys.broke, status: 402 },
  };

  const cases = WORKLOADS.flatMap((w) => VARIANTS.map((v) => `${w} · ${v}` as const));
  const run = async (name: (typeof cases)[number], seconds: number): Promise<LoadResult> => {
    const [workload, variant] = name.split(' · ') as [Workload, Variant];
    const gateway = gateways[workload][variant];
    const result = await load({
      url: `${gateway.url}/ai/v1/chat/completions`,
      connections,
      durationSeconds: seconds,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${setups[workload].key}` },
      body,
      serverPid: gateway.pid,
    });
    expectOnly(name, result, setups[workload].status);
    return result;
  };
  const results = await interleave(cases, { rounds, warmup: (c) => run(c, 1) }, (c) => run(c, durationSeconds));

  console.log(
    `every core: pnpm start's gateway with WORKERS=1 and WORKERS=2, ${connections} connections, ${rounds} rounds × ` +
      `${durationSeconds} s, interleaved; ${os.availableParallelism()} cores shared by the load generator ` +
      `(autocannon, one core at most), the upstream, Postgres and the gateway's processes; ${ROUNDS_LEGEND}\n`,
  );
  const rows: string[][] = [];
  for (const workload of WORKLOADS) {
    const one = results[`${workload} · WORKERS=1`];
    const two = results[`${workload} · WORKERS=2`];
    const ratio = median(
      pairedRatios(
        two.map((r) => r.requestsPerSecond),
        one.map((r) => r.requestsPerSecond),
      ),
    );
    for (const [variant, r] of [
      ['WORKERS=1', one],
      ['WORKERS=2', two],
    ] as const) {
      rows.push([
        workload,
        variant,
        medianWithSpread(r.map((x) => x.requestsPerSecond)),
        median(r.map((x) => x.p99)).toFixed(0),
        median(r.map((x) => x.cpuMicrosPerResponse)).toFixed(0),
        variant === 'WORKERS=2' ? `${ratio.toFixed(2)}×` : '',
      ]);
      const name = `${workload.replace(/ /g, '_')}_${variant.toLowerCase().replace('=', '_')}`;
      reportLine('workers', `rps_${name}`, median(r.map((x) => x.requestsPerSecond)), null, null);
      reportLine('workers', `cpu_us_per_request_${name}`, median(r.map((x) => x.cpuMicrosPerResponse)), null, null);
    }
    reportLine('workers', `rps_ratio_workers_2_over_1_${workload.replace(/ /g, '_')}`, ratio, null, null);
  }
  printTable(
    ['workload', 'variant', 'requests/s', 'p99 (ms)', 'gateway CPU (µs / request, primary + workers)', 'WORKERS=2 ÷ 1'],
    rows,
  );
  console.log(
    'On 2 cores the load generator alone takes most of one core, so two workers compete with it (and with\n' +
      'the upstream and Postgres): the ratio here is a floor, not what two workers give on a machine where the\n' +
      'load comes from elsewhere. CPU per request rises with WORKERS=2 here for the same reason: two busy\n' +
      'workers on two shared cores each run slower per request than one worker with a core to itself.\n',
  );
} finally {
  for (const server of servers.reverse()) await server.stop();
  await database.close();
}

/**
 * Where the time of one exchange goes, per response, for the configurations the misses in
 * RESULTS.md are about: a 1 KiB pass-through (the gateway, and `node:http` + undici alone as the
 * floor of a Node proxy), and an explained 403 with coalescing on and off (with, beside it, the
 * floor of explaining one on Node: servers/bare-explainer.ts, one statement per response). Each runs in a fresh
 * process under `--cpu-prof` at 16 connections; the samples are grouped by component and divided
 * by the responses served. Sampled time is wall time while the thread was running or waiting to run
 * again (a thread preempted inside `writev` is charged to `writev`), so the column sums exceed the
 * CPU time from /proc shown next to them; compare the configurations row by row.
 * The load comes from wrk in its own process when it is installed (`apt-get install -y wrk`), with the
 * server under test alone on core 1 and wrk and the upstream on core 0 on a machine of two cores or
 * more, so that the generator's work is not sampled as the server's waiting; `--autocannon` (or no
 * wrk) drives it from this process instead.
 * `--pass-through` profiles the two pass-through configurations only, `--explained` the three others.
 * Usage: node --import tsx bench/profile-per-response.ts [--quick] [--autocannon] [--pass-through | --explained]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { seedDenialWorld } from '../packages/db/src/testing/index.ts';
import { jsonBody, KiB } from './lib/bodies.ts';
import { type ChildServer, startChildServer } from './lib/child-server.ts';
import { mainThreadProfile, type ProfileNode } from './lib/cpu-profile.ts';
import { startBenchDatabase } from './lib/database.ts';
import { startGateway, startUpstream } from './lib/gateway.ts';
import { load } from './lib/load.ts';
import { printTable } from './lib/stats.ts';
import { ensureWrk, pin, pinning, runWrk, wrkScript } from './lib/wrk.ts';

const quick = process.argv.includes('--quick');
const seconds = quick ? 3 : 8;
const connections = 16;
const found = process.argv.includes('--autocannon') ? null : ensureWrk();
const wrk = found && 'binary' in found ? found.binary : null;
const where = pinning(wrk ? os.availableParallelism() : 1);

/** The component a sampled frame belongs to. */
function componentOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === 'writev' || functionName === 'writeBuffer' || functionName === 'writeUtf8String')
      return 'socket writes (kernel)';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(garbage collector)') return 'garbage collector';
    return 'V8 and native, other';
  }
  if (/node_modules\/\.pnpm\/(pg|pg-protocol|pg-pool|pg-types|postgres-[^/]*)@/.test(url)) return 'node-postgres';
  if (/node_modules\/\.pnpm\/(decimal\.js|drizzle-orm)@/.test(url)) return 'node-postgres';
  if (/node_modules\/\.pnpm\/undici@/.test(url) || url.startsWith('wasm://')) return 'undici';
  if (
    /node_modules\/\.pnpm\/(koa|@koa\+router|koa-compose|delegates|on-finished|ee-first|statuses|mime-types|mime-db|content-type|type-is|vary|encodeurl|escape-html|http-errors|parseurl|fresh|accepts|negotiator|cookies|destroy)@/.test(
      url,
    )
  )
    return 'Koa and router';
  if (/node_modules\/\.pnpm\/prom-client@/.test(url)) return 'metrics (prom-client)';
  if (/node_modules\/\.pnpm\/tsx@/.test(url) || url.startsWith('node:internal/modules'))
    return 'module loading (start-up)';
  if (url.startsWith('node:')) return 'Node HTTP, streams, events';
  if (url.includes('/packages/')) return 'this repository (gateway, enrichment, db)';
  if (url.includes('/bench/servers/')) return "the bare server's own handler";
  return 'other';
}

/** Sampled µs per component in the largest profile of `dir` (the main thread's). */
function sampledMicros(dir: string): Map<string, number> {
  const profile = mainThreadProfile(dir);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const micros = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const component = componentOf(node.callFrame);
    micros.set(component, (micros.get(component) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return micros;
}

const CONFIGURATIONS = [
  'pass-through 200, node:http + undici alone',
  'pass-through 200, gateway',
  'explained 403, gateway, coalescing on',
  'explained 403, gateway, coalescing off',
  'explained 403, node:http + undici + pg alone',
] as const;
type Configuration = (typeof CONFIGURATIONS)[number];
const CHOSEN = process.argv.includes('--pass-through')
  ? CONFIGURATIONS.filter((c) => c.startsWith('pass-through'))
  : process.argv.includes('--explained')
    ? CONFIGURATIONS.filter((c) => c.startsWith('explained'))
    : CONFIGURATIONS;

const database = await startBenchDatabase();
const servers: ChildServer[] = [];
const profileRoot = mkdtempSync(path.join(tmpdir(), 'control-layer-profile-'));
try {
  const { keys } = await seedDenialWorld(database.db, 'bench-model');
  const ok = await startUpstream('ok');
  servers.push(ok);
  const forbidden = await startUpstream('forbidden');
  servers.push(forbidden);
  pin(ok.pid, where.generator);
  pin(forbidden.pid, where.generator);
  const body = jsonBody(KiB, 'bench-model');

  const results = new Map<Configuration, { micros: Map<string, number>; cpu: number; rps: number }>();
  for (const configuration of CHOSEN) {
    const dir = path.join(profileRoot, String(CONFIGURATIONS.indexOf(configuration)));
    const profileArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval', '200'];
    const denied = configuration.startsWith('explained');
    const env = {
      DATABASE_URL: database.url,
      UPSTREAM_URL: (denied ? forbidden : ok).url,
      ENRICHMENT: 'on',
      LOG_LEVEL: 'warn',
      BENCH_COALESCE: configuration.endsWith('coalescing off') ? 'off' : 'on',
    };
    const server = configuration.includes('alone')
      ? await startChildServer(denied ? 'servers/bare-explainer.ts' : 'servers/bare-proxy.ts', [], env, profileArgs)
      : await startGateway({
          upstreamUrl: env.UPSTREAM_URL,
          databaseUrl: database.url,
          enrichment: true,
          env,
          nodeArgs: profileArgs,
        });
    pin(server.pid, where.server);
    const key = denied ? keys.outsider : keys.working;
    const options = {
      url: `${server.url}/ai/v1/chat/completions`,
      connections,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body,
    };
    const expected = denied ? 403 : 200;
    const probe = await fetch(options.url, { method: 'POST', headers: options.headers, body });
    await probe.arrayBuffer();
    if (probe.status !== expected) throw new Error(`${configuration}: got ${probe.status}`);
    let warm: { responses: number };
    let measured: { responses: number; cpuMicrosPerResponse: number; requestsPerSecond: number };
    if (wrk) {
      const file = wrkScript(profileRoot, body, options.headers);
      const run = (durationSeconds: number) =>
        runWrk({
          ...options,
          binary: wrk,
          script: file,
          durationSeconds,
          serverPid: server.pid,
          cpus: where.generator,
        });
      warm = await run(1);
      const result = await run(seconds);
      // wrk counts statuses only as 2xx/3xx or not: every response of a denial is "not".
      const wrong = denied ? result.responses - result.errorStatuses : result.errorStatuses;
      if (wrong > 0 || result.socketErrors > 0) {
        throw new Error(`${configuration}: ${wrong} responses not ${expected}, ${result.socketErrors} socket errors`);
      }
      measured = result;
    } else {
      warm = await load({ ...options, durationSeconds: 1 });
      const result = await load({ ...options, durationSeconds: seconds, serverPid: server.pid });
      if (Object.keys(result.statuses).some((status) => status !== String(expected))) {
        throw new Error(`${configuration}: got ${JSON.stringify(result.statuses)}`);
      }
      measured = result;
    }
    await server.stop();
    // The profile covers the whole process; its start-up is kept apart, in its own row.
    const responses = warm.responses + measured.responses;
    const micros = new Map([...sampledMicros(dir)].map(([component, us]) => [component, us / responses]));
    results.set(configuration, { micros, cpu: measured.cpuMicrosPerResponse, rps: measured.requestsPerSecond });
  }

  const components = [...new Set([...results.values()].flatMap((r) => [...r.micros.keys()]))].sort(
    (a, b) =>
      Math.max(...[...results.values()].map((r) => r.micros.get(b) ?? 0)) -
      Math.max(...[...results.values()].map((r) => r.micros.get(a) ?? 0)),
  );
  console.log(
    `sampled µs per response by component, ${connections} connections, ${seconds} s per configuration, ` +
      `each in a fresh process under --cpu-prof (which slows it); load from ${
        wrk ? `wrk, ${where.description}` : 'autocannon in this process'
      }\n`,
  );
  printTable(
    ['component', ...CHOSEN],
    [
      ...components.map((component) => [
        component,
        ...CHOSEN.map((c) => (results.get(c)?.micros.get(component) ?? 0).toFixed(1)),
      ]),
      ['CPU time from /proc (µs / response)', ...CHOSEN.map((c) => (results.get(c)?.cpu ?? 0).toFixed(0))],
      ['responses / s', ...CHOSEN.map((c) => (results.get(c)?.rps ?? 0).toFixed(0))],
    ],
  );
} finally {
  for (const server of servers.reverse()) await server.stop();
  await database.close();
  rmSync(profileRoot, { recursive: true, force: true });
}

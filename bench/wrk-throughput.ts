/**
 * Throughput under a load generator that is not the ceiling: wrk (C, its own process) POSTs a JSON
 * body with a bearer key on every request, from a Lua script, to each server in turn: the bare
 * `node:http` + undici proxy of servers/bare-proxy.ts (the floor of a Node proxy), the gateway with
 * error enrichment on (logging at `warn`, as the other scenarios run it), the gateway as `pnpm start`
 * runs it by default (access line per request at `info`, pino JSON lines, here into /dev/null), and
 * nginx. One process each, the same upstream behind all of them. On two cores or more, wrk and the
 * upstream share core 0 and the server under test has core 1 (taskset). Rounds are interleaved.
 * Needs wrk (`apt-get install -y wrk`; installed here when missing and running as root).
 * Usage: node --import tsx bench/wrk-throughput.ts [--quick]
 */
import os from 'node:os';
import { formatBytes, jsonBody, KiB } from './lib/bodies.ts';
import { type ChildServer, startChildServer, startedTogether } from './lib/child-server.ts';
import { startBenchDatabase } from './lib/database.ts';
import { startGateway, startUpstream } from './lib/gateway.ts';
import { startNginx } from './lib/peers.ts';
import { interleave } from './lib/rounds.ts';
import { median, medianWithSpread, pairedRatios, printTable, ROUNDS_LEGEND, reportLine } from './lib/stats.ts';
import { ensureWrk, pin, pinning, runWrk, scriptDir, type WrkRun, wrkScript } from './lib/wrk.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 3 : 5;
const durationSeconds = quick ? 2 : 4;
const warmupSeconds = quick ? 1 : 2;
const connections = 16;
const SIZES = [KiB, 256 * KiB];
const VARIANTS = ['bare proxy', 'gateway', 'gateway, pnpm start defaults', 'nginx'] as const;
type Variant = (typeof VARIANTS)[number];
/** Gateway ÷ bare proxy: requests/s at least this, CPU per response at most this. */
const RPS_TARGET = 0.8;
const CPU_TARGET = 1.3;

const wrk = ensureWrk();
if ('missing' in wrk) {
  console.log(`wrk-throughput skipped: ${wrk.missing}`);
  process.exit(0);
}
const where = pinning(os.availableParallelism());
const database = await startBenchDatabase();
const servers: ChildServer[] = [];
const scripts = scriptDir();
try {
  const upstream = await startUpstream('ok');
  servers.push(upstream);
  pin(upstream.pid, where.generator);
  const [bare, gateway, defaults, nginx] = await startedTogether(servers, [
    startChildServer('servers/bare-proxy.ts', [], { UPSTREAM_URL: upstream.url }),
    startGateway({ upstreamUrl: upstream.url, databaseUrl: database.url, enrichment: true }),
    startGateway({
      upstreamUrl: upstream.url,
      databaseUrl: database.url,
      enrichment: true,
      env: { LOG_LEVEL: 'info', BENCH_LOG_FILE: '/dev/null' },
    }),
    startNginx(upstream.url),
  ] as const);
  const targets: Partial<Record<Variant, ChildServer>> = {
    'bare proxy': bare,
    gateway,
    'gateway, pnpm start defaults': defaults,
    ...(nginx && { nginx }),
  };
  const variants = VARIANTS.filter((variant) => targets[variant] !== undefined);
  for (const variant of variants) pin(targets[variant]?.pid ?? 0, where.server);

  console.log(
    `wrk ${connections} connections, 1 thread, ${rounds} rounds × ${durationSeconds} s, interleaved; ` +
      `${where.description}; ${ROUNDS_LEGEND}\n`,
  );
  const rows: string[][] = [];
  for (const bytes of SIZES) {
    const script = wrkScript(scripts.dir, jsonBody(bytes), {
      'Content-Type': 'application/json',
      Authorization: 'Bearer sk-bench',
    });
    const run = async (variant: Variant, seconds: number): Promise<WrkRun> => {
      const server = targets[variant];
      if (!server) throw new Error(`no server for ${variant}`);
      const path = variant === 'nginx' ? '/v1/chat/completions' : '/ai/v1/chat/completions';
      const result = await runWrk({
        binary: wrk.binary,
        url: `${server.url}${path}`,
        script,
        connections,
        durationSeconds: seconds,
        serverPid: server.pid,
        cpus: where.generator,
      });
      if (result.errorStatuses + result.socketErrors > 0 || result.responses === 0) {
        throw new Error(
          `${variant}, ${formatBytes(bytes)}: ${result.errorStatuses} error statuses and ` +
            `${result.socketErrors} socket errors in ${result.responses} responses`,
        );
      }
      return result;
    };
    const results = await interleave(
      variants,
      { rounds, warmup: (variant) => run(variant, warmupSeconds) },
      (variant) => run(variant, durationSeconds),
    );
    const rps = (variant: Variant) => results[variant].map((r) => r.requestsPerSecond);
    const cpu = (variant: Variant) => results[variant].map((r) => r.cpuMicrosPerResponse);
    for (const variant of variants) {
      const key = `${variant.replace(/[ ,]+/g, '_')}_${bytes}`;
      rows.push([
        formatBytes(bytes),
        variant,
        medianWithSpread(rps(variant)),
        median(results[variant].map((r) => r.p50)).toFixed(2),
        median(results[variant].map((r) => r.p99)).toFixed(2),
        medianWithSpread(cpu(variant)),
      ]);
      reportLine('wrk-throughput', `rps_${key}`, median(rps(variant)), null, null);
      reportLine('wrk-throughput', `cpu_us_per_request_${key}`, median(cpu(variant)), null, null);
    }
    for (const gatewayVariant of ['gateway', 'gateway, pnpm start defaults'] as const) {
      const suffix = gatewayVariant === 'gateway' ? '' : '_pnpm_start';
      const rpsRatios = pairedRatios(rps(gatewayVariant), rps('bare proxy'));
      const cpuRatios = pairedRatios(cpu(gatewayVariant), cpu('bare proxy'));
      const rpsRatio = median(rpsRatios);
      const cpuRatio = median(cpuRatios);
      rows.push([
        formatBytes(bytes),
        `**${gatewayVariant} / bare proxy**`,
        medianWithSpread(rpsRatios, 3),
        '',
        '',
        medianWithSpread(cpuRatios, 3),
      ]);
      // The targets are the `warn` gateway's at 1 KiB (requests/s) and at both sizes (CPU); the
      // `pnpm start` figures are reported beside them.
      const judged = gatewayVariant === 'gateway';
      reportLine(
        'wrk-throughput',
        `gateway_over_bare_rps${suffix}_${bytes}`,
        rpsRatio,
        judged && bytes === KiB ? `>= ${RPS_TARGET}` : null,
        judged && bytes === KiB ? rpsRatio >= RPS_TARGET : null,
      );
      reportLine(
        'wrk-throughput',
        `gateway_over_bare_cpu${suffix}_${bytes}`,
        cpuRatio,
        judged ? `<= ${CPU_TARGET}` : null,
        judged ? cpuRatio <= CPU_TARGET : null,
      );
      if (nginx) {
        const overNginx = pairedRatios(rps(gatewayVariant), rps('nginx'));
        rows.push([formatBytes(bytes), `**${gatewayVariant} / nginx**`, medianWithSpread(overNginx, 3), '', '', '']);
        reportLine('wrk-throughput', `gateway_over_nginx_rps${suffix}_${bytes}`, median(overNginx), null, null);
      }
    }
    if (nginx) {
      const bareOverNginx = pairedRatios(rps('bare proxy'), rps('nginx'));
      rows.push([formatBytes(bytes), '**bare proxy / nginx**', medianWithSpread(bareOverNginx, 3), '', '', '']);
      reportLine('wrk-throughput', `bare_over_nginx_rps_${bytes}`, median(bareOverNginx), null, null);
    }
  }
  printTable(['body', 'server', 'requests/s', 'p50 (ms)', 'p99 (ms)', 'server CPU (µs / request)'], rows);
  console.log(
    'Generator: wrk 4.1 (one thread, its own process). Ratios: median of the round-by-round ratios. Server CPU: ' +
      'user + system time of the server process (nginx: master and worker), all threads, per response.',
  );
} finally {
  for (const server of servers.reverse()) await server.stop();
  scripts.remove();
  await database.close();
}

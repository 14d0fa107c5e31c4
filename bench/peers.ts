/**
 * Scenario 6, peer and ceiling: the gateway (error enrichment on), Portkey's open-source gateway
 * and an nginx reverse proxy, each proxying the same upstream under scenario 1's load (16
 * connections, 1 KiB and 256 KiB JSON bodies), rounds interleaved across the three. nginx, with
 * keep-alive to the upstream and buffering off, is the practical ceiling of a proxy on this
 * machine; when it is missing and cannot be installed its comparison is skipped.
 * Usage: node --import tsx bench/peers.ts [--quick]
 */
import { formatBytes, jsonBody, KiB } from './lib/bodies.ts';
import { type ChildServer, startedTogether } from './lib/child-server.ts';
import { startBenchDatabase } from './lib/database.ts';
import { startGateway, startUpstream } from './lib/gateway.ts';
import { expectOnly, type LoadResult, load } from './lib/load.ts';
import { portkeyHeaders, startNginx, startPortkey } from './lib/peers.ts';
import { interleave } from './lib/rounds.ts';
import { median, medianWithSpread, pairedRatios, printTable, ROUNDS_LEGEND, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 3 : 5;
const durationSeconds = quick ? 1 : 4;
const warmupSeconds = quick ? 0.5 : 2;
const connections = 16;
const SIZES = [KiB, 256 * KiB];
const PORTKEY_TARGET = 5;
const NGINX_TARGET = 0.35;

type Variant = 'gateway' | 'portkey' | 'nginx';

const database = await startBenchDatabase();
const servers: ChildServer[] = [];
try {
  const upstream = await startUpstream('ok');
  servers.push(upstream);
  const [gateway, portkey, nginx] = await startedTogether(servers, [
    startGateway({ upstreamUrl: upstream.url, databaseUrl: database.url, enrichment: true }),
    startPortkey(),
    startNginx(upstream.url),
  ] as const);

  const auth = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
  const targets: Partial<Record<Variant, { url: string; pid: number; headers: Record<string, string> }>> = {
    gateway: { url: `${gateway.url}/ai/v1/chat/completions`, pid: gateway.pid, headers: auth },
    portkey: {
      url: `${portkey.url}/v1/chat/completions`,
      pid: portkey.pid,
      headers: { ...auth, ...portkeyHeaders(upstream.url) },
    },
    ...(nginx && { nginx: { url: `${nginx.url}/v1/chat/completions`, pid: nginx.pid, headers: auth } }),
  };
  const variants = Object.keys(targets) as Variant[];

  console.log(
    `peers: ${connections} connections, ${rounds} rounds × ${durationSeconds} s, interleaved; ${ROUNDS_LEGEND}\n`,
  );
  const rows: string[][] = [];
  for (const bytes of SIZES) {
    const body = jsonBody(bytes);
    const run = async (variant: Variant, seconds: number): Promise<LoadResult> => {
      const target = targets[variant];
      if (!target) throw new Error(`no ${variant}`);
      const { url, pid, headers } = target;
      const result = await load({ url, connections, durationSeconds: seconds, headers, body, serverPid: pid });
      expectOnly(`${variant}, ${formatBytes(bytes)}`, result, 200);
      return result;
    };
    const results = await interleave(
      variants,
      { rounds, warmup: (variant) => run(variant, warmupSeconds) },
      (variant) => run(variant, durationSeconds),
    );
    const rps = (variant: Variant) => (results[variant] ?? []).map((r) => r.requestsPerSecond);
    const cpu = (variant: Variant) => median((results[variant] ?? []).map((r) => r.cpuMicrosPerResponse));
    const gatewayOver = (variant: Variant) => pairedRatios(rps('gateway'), rps(variant));
    for (const variant of variants) {
      const r = results[variant];
      rows.push([
        formatBytes(bytes),
        variant,
        medianWithSpread(rps(variant)),
        median(r.map((x) => x.p50)).toFixed(0),
        median(r.map((x) => x.p99)).toFixed(0),
        cpu(variant).toFixed(0),
        variant === 'gateway' ? '' : medianWithSpread(gatewayOver(variant), 3),
      ]);
      reportLine('peers', `rps_${variant}_${bytes}`, median(rps(variant)), null, null);
      reportLine('peers', `cpu_us_per_request_${variant}_${bytes}`, cpu(variant), null, null);
    }
    const overPortkey = median(gatewayOver('portkey'));
    reportLine(
      'peers',
      `gateway_over_portkey_${bytes}`,
      overPortkey,
      `>= ${PORTKEY_TARGET}`,
      overPortkey >= PORTKEY_TARGET,
    );
    if (nginx) {
      const overNginx = median(gatewayOver('nginx'));
      reportLine('peers', `gateway_over_nginx_${bytes}`, overNginx, `>= ${NGINX_TARGET}`, overNginx >= NGINX_TARGET);
    }
  }
  printTable(
    ['body', 'proxy', 'requests/s', 'p50 (ms)', 'p99 (ms)', 'server CPU (µs / request)', 'gateway / this'],
    rows,
  );
  console.log(
    'gateway / this: median of the round-by-round throughput ratios. Server CPU: user + system time of the ' +
      "proxy's processes (nginx: master and worker), per response.",
  );
} finally {
  for (const server of servers.reverse()) await server.stop();
  await database.close();
}

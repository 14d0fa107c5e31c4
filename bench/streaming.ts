/**
 * Scenario 5, streaming: time to first byte of a server-sent-events response straight from the
 * upstream and through the gateway (error enrichment on, and off); the gap is what the gateway
 * adds before a client sees its first token. Requests go one at a time on kept-alive connections,
 * interleaved request by request across the three paths; each round's p50 is taken, and the added
 * p50 is the median over rounds of (gateway p50 − direct p50).
 * Usage: node --import tsx bench/streaming.ts [--quick]
 */
import { Agent, request } from 'undici';
import { type ChildServer, startedTogether } from './lib/child-server.ts';
import { startBenchDatabase } from './lib/database.ts';
import { startGateway, startUpstream } from './lib/gateway.ts';
import { median, percentile, printTable, ROUNDS_LEGEND, reportLine, spread } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 2 : 5;
const streamsPerRound = quick ? 100 : 200;
const warmupStreams = 50;
const ADDED_P50_TARGET_MS = 2;

const PATHS = ['direct', 'gateway, enrichment on', 'gateway, enrichment off'] as const;
type PathName = (typeof PATHS)[number];

const database = await startBenchDatabase();
const servers: ChildServer[] = [];
const agent = new Agent({ keepAliveTimeout: 30_000 });
try {
  const upstream = await startUpstream('sse');
  servers.push(upstream);
  const [on, off] = await startedTogether(servers, [
    startGateway({ upstreamUrl: upstream.url, databaseUrl: database.url, enrichment: true }),
    startGateway({ upstreamUrl: upstream.url, databaseUrl: database.url, enrichment: false }),
  ] as const);
  const urls: Record<PathName, string> = {
    direct: `${upstream.url}/v1/chat/completions`,
    'gateway, enrichment on': `${on.url}/ai/v1/chat/completions`,
    'gateway, enrichment off': `${off.url}/ai/v1/chat/completions`,
  };
  const body = JSON.stringify({ model: 'bench-model', stream: true, messages: [{ role: 'user', content: 'Hi' }] });

  /** Milliseconds from sending the request to the first byte of the response body. */
  async function ttfb(url: string): Promise<number> {
    const started = performance.now();
    const response = await request(url, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', authorization: 'Bearer sk-bench' },
      body,
    });
    let first = 0;
    for await (const chunk of response.body) {
      if (first === 0 && (chunk as Buffer).length > 0) first = performance.now() - started;
    }
    if (response.statusCode !== 200) throw new Error(`${url}: status ${response.statusCode}`);
    return first;
  }

  for (let i = 0; i < warmupStreams; i++) for (const path of PATHS) await ttfb(urls[path]);
  const perRound: Record<PathName, { p50: number; p99: number }[]> = {
    direct: [],
    'gateway, enrichment on': [],
    'gateway, enrichment off': [],
  };
  for (let round = 0; round < rounds; round++) {
    const times: Record<PathName, number[]> = {
      direct: [],
      'gateway, enrichment on': [],
      'gateway, enrichment off': [],
    };
    for (let i = 0; i < streamsPerRound; i++) for (const path of PATHS) times[path].push(await ttfb(urls[path]));
    for (const path of PATHS) perRound[path].push({ p50: median(times[path]), p99: percentile(times[path], 99) });
  }

  console.log(
    `streaming: SSE time to first byte, ${rounds} rounds × ${streamsPerRound} streams per path, one at a time, ` +
      `interleaved; ${ROUNDS_LEGEND}\n`,
  );
  const direct = perRound.direct.map((r) => r.p50);
  const rows = PATHS.map((path) => {
    const p50s = perRound[path].map((r) => r.p50);
    const added = p50s.map((p50, round) => p50 - (direct[round] ?? 0));
    return [
      path,
      `${median(p50s).toFixed(3)} (${(spread(p50s) * 100).toFixed(1)}%)`,
      median(perRound[path].map((r) => r.p99)).toFixed(3),
      path === 'direct' ? '' : median(added).toFixed(3),
    ];
  });
  printTable(['path', 'p50 (ms)', 'p99 (ms)', 'added p50 (ms)'], rows);
  for (const path of PATHS) {
    const key = path.replace(/[^a-z]+/g, '_');
    reportLine('streaming', `ttfb_p50_ms_${key}`, median(perRound[path].map((r) => r.p50)), null, null);
    reportLine('streaming', `ttfb_p99_ms_${key}`, median(perRound[path].map((r) => r.p99)), null, null);
    if (path === 'direct') continue;
    const added = median(perRound[path].map((r, round) => r.p50 - (direct[round] ?? 0)));
    const target = path === 'gateway, enrichment on' ? `<= ${ADDED_P50_TARGET_MS}` : null;
    reportLine('streaming', `added_p50_ms_${key}`, added, target, target ? added <= ADDED_P50_TARGET_MS : null);
  }
} finally {
  await agent.close();
  for (const server of servers.reverse()) await server.stop();
  await database.close();
}

/**
 * Server-sent events' time to first byte, straight from an upstream and through the gateway
 * (error enrichment on, and off): the gap is what the gateway adds before a client sees its
 * first token.
 * The upstream, the gateway and this client each run in their own process; requests go one at a
 * time on kept-alive connections, direct and proxied interleaved so machine noise hits both alike.
 * Usage: node --import tsx bench/sse-ttfb.ts [--quick]
 *        (it starts itself as `sse-ttfb.ts upstream` and `sse-ttfb.ts gateway <upstream url> on|off`)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { openDatabase } from '../packages/db/src/index.ts';
import { startTestPostgres } from '../packages/db/src/testing/index.ts';
import { createGateway } from '../packages/gateway/src/index.ts';
import { startChildServer } from './lib/child-server.ts';
import { median, reportLine } from './lib/stats.ts';

const role = process.argv[2];

function announce(port: number): void {
  console.log(`LISTENING http://127.0.0.1:${port}`);
}

if (role === 'upstream') {
  // First event at once, then three more 5 ms apart: the shape of a model streaming tokens.
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: {"n":0}\n\n');
      let n = 1;
      const timer = setInterval(() => {
        if (n === 4) {
          clearInterval(timer);
          res.end('data: [DONE]\n\n');
          return;
        }
        res.write(`data: {"n":${n++}}\n\n`);
      }, 5);
      res.on('close', () => clearInterval(timer));
    });
  });
  server.listen(0, '127.0.0.1', () => announce((server.address() as AddressInfo).port));
  process.on('SIGTERM', () => process.exit(0));
} else if (role === 'gateway') {
  const upstreamUrl = process.argv[3] ?? '';
  const databaseUrl = process.env.DATABASE_URL ?? '';
  // A 200 passes error enrichment without a query, so any reachable database will do.
  const { db, close } = await openDatabase(databaseUrl);
  const gateway = createGateway({ db, upstreamUrl, enrichment: process.argv[4] !== 'off' });
  gateway.silent = true;
  const server = gateway.listen(0, '127.0.0.1', () => announce((server.address() as AddressInfo).port));
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close();
    void gateway.destroy().then(close);
  });
} else {
  const quick = process.argv.includes('--quick');
  const samples = quick ? 200 : 1000;
  const warmup = 50;
  const pg = await startTestPostgres();
  const upstream = await startChildServer('sse-ttfb.ts', ['upstream']);
  const env = { DATABASE_URL: pg.url };
  const gateway = await startChildServer('sse-ttfb.ts', ['gateway', upstream.url, 'on'], env);
  const plain = await startChildServer('sse-ttfb.ts', ['gateway', upstream.url, 'off'], env);
  const agent = new Agent({ keepAliveTimeout: 10_000 });
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

  const targets = {
    direct: `${upstream.url}/v1/chat/completions`,
    gateway: `${gateway.url}/ai/v1/chat/completions`,
    gateway_without_enrichment: `${plain.url}/ai/v1/chat/completions`,
  };
  const results: Record<keyof typeof targets, number[]> = { direct: [], gateway: [], gateway_without_enrichment: [] };
  try {
    for (let i = 0; i < warmup; i++) for (const url of Object.values(targets)) await ttfb(url);
    for (let i = 0; i < samples; i++) {
      for (const [name, url] of Object.entries(targets) as [keyof typeof targets, string][]) {
        results[name].push(await ttfb(url));
      }
    }
  } finally {
    await agent.close();
    await gateway.stop();
    await plain.stop();
    await upstream.stop();
    await pg.stop();
  }

  const percentile = (values: number[], p: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
  };
  console.log(`SSE time to first byte, ${samples} sequential requests each, kept-alive connections`);
  console.log('| path | p50 (ms) | p90 (ms) | p99 (ms) |');
  console.log('|---|---|---|---|');
  for (const [name, values] of Object.entries(results)) {
    const [p50, p90, p99] = [median(values), percentile(values, 90), percentile(values, 99)];
    console.log(`| ${name} | ${p50.toFixed(3)} | ${p90.toFixed(3)} | ${p99.toFixed(3)} |`);
    reportLine('sse-ttfb', `${name}_p50_ms`, p50, null, null);
    reportLine('sse-ttfb', `${name}_p99_ms`, p99, null, null);
  }
  reportLine('sse-ttfb', 'added_p50_ms', median(results.gateway) - median(results.direct), null, null);
}

/**
 * What errorEnrichment costs on the pass-through path: the same Koa app with and without the
 * middleware, rounds interleaved (on, off, on, off, …) so that machine noise hits both alike.
 * Usage: node --import tsx bench/enrichment-overhead.ts [--quick]
 */
import { startTestPostgres } from '../packages/db/src/testing/index.ts';
import { startChildServer } from './lib/child-server.ts';
import { load } from './lib/load.ts';
import { median, reportLine, spread } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const rounds = quick ? 3 : 5;
const durationSeconds = quick ? 3 : 8;
const connections = 16;
const sizes = [
  { label: '1 KiB', bytes: 1024 },
  { label: '256 KiB', bytes: 256 * 1024 },
];

function jsonBody(bytes: number): string {
  const skeleton = JSON.stringify({ model: 'bench-model', messages: [{ role: 'user', content: '' }] });
  return JSON.stringify({
    model: 'bench-model',
    messages: [{ role: 'user', content: 'x'.repeat(bytes - skeleton.length) }],
  });
}

const pg = await startTestPostgres();
const env = { DATABASE_URL: pg.url };
const servers = {
  on: await startChildServer('servers/enrichment-app.ts', ['on'], env),
  off: await startChildServer('servers/enrichment-app.ts', ['off'], env),
};
try {
  console.log(
    `enrichment pass-through overhead: ${connections} connections, ${rounds} rounds × ${durationSeconds} s each, interleaved`,
  );
  console.log('| body | with (req/s) | without (req/s) | ratio | spread with / without |');
  console.log('|---|---|---|---|---|');
  for (const size of sizes) {
    const body = jsonBody(size.bytes);
    const headers = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };
    // Warm-up, excluded.
    for (const server of Object.values(servers))
      await load({ url: server.url, connections, durationSeconds: 1, headers, body });
    const rps: Record<'on' | 'off', number[]> = { on: [], off: [] };
    for (let round = 0; round < rounds; round++) {
      for (const mode of ['on', 'off'] as const) {
        const result = await load({ url: servers[mode].url, connections, durationSeconds, headers, body });
        if (result.errors > 0 || result.non2xx > 0)
          throw new Error(`${mode}: ${result.errors} errors, ${result.non2xx} non-2xx`);
        rps[mode].push(result.requestsPerSecond);
      }
    }
    const ratio = median(rps.on) / median(rps.off);
    console.log(
      `| ${size.label} | ${median(rps.on).toFixed(0)} | ${median(rps.off).toFixed(0)} | ${ratio.toFixed(3)} | ${(spread(rps.on) * 100).toFixed(1)}% / ${(spread(rps.off) * 100).toFixed(1)}% |`,
    );
    reportLine('enrichment-overhead', `on_off_ratio_${size.bytes}`, ratio, null, null);
  }
} finally {
  await servers.on.stop();
  await servers.off.stop();
  await pg.stop();
}

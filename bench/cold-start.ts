/**
 * How long `pnpm start` takes to be ready with the zero-setup default (embedded PGlite, demo data,
 * stub upstream): once on an empty data directory (initdb, migrations, seeding) and then on the
 * directory that first start left behind. Wall time runs from spawning pnpm to the "gateway ready"
 * log line; the gateway's own figure (`startupMs`, since its process began) is shown beside it.
 * Usage: node --import tsx bench/cold-start.ts [--quick]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { median, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const warmStarts = quick ? 1 : 3;
const gatewayDir = path.resolve(import.meta.dirname, '..', 'packages', 'gateway');

/** Start the gateway, wait until it is ready, stop it; wall and self-reported milliseconds. */
async function startOnce(dataDir: string): Promise<{ wallMs: number; startupMs: number }> {
  const started = performance.now();
  const child = spawn('pnpm', ['start'], {
    cwd: gatewayDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATA_DIR: dataDir,
      PORT: '0',
      npm_config_update_notifier: 'false',
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const ready = await new Promise<{ pid: number; startupMs: number }>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
      const line = out.split('\n').find((l) => l.includes('"gateway ready"'));
      if (line) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`pnpm start exited with ${code} before it was ready`)));
  });
  const wallMs = performance.now() - started;
  process.kill(ready.pid, 'SIGTERM');
  await exited;
  return { wallMs, startupMs: ready.startupMs };
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'gateway-cold-start-'));
try {
  const first = await startOnce(dataDir);
  const warm: { wallMs: number; startupMs: number }[] = [];
  for (let i = 0; i < warmStarts; i++) warm.push(await startOnce(dataDir));
  const warmWall = median(warm.map((w) => w.wallMs));
  const warmSelf = median(warm.map((w) => w.startupMs));
  console.log('`pnpm start` with the embedded default, until "gateway ready"');
  console.log('| start | wall (ms) | gateway process (ms) |');
  console.log('|---|---|---|');
  console.log(`| first (empty data dir) | ${first.wallMs.toFixed(0)} | ${first.startupMs} |`);
  console.log(`| again (median of ${warmStarts}) | ${warmWall.toFixed(0)} | ${warmSelf} |`);
  reportLine('cold-start', 'first_start_wall_ms', first.wallMs, null, null);
  reportLine('cold-start', 'warm_start_wall_ms', warmWall, null, null);
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}

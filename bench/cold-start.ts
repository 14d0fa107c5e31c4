/**
 * How long the gateway takes to be ready.
 * - Against Postgres: the compiled gateway (`node dist/main.js`, what `pnpm start` runs) beside the
 *   same source run through tsx, interleaved, after the build; and `pnpm start` itself (pnpm, the
 *   build's up-to-date check, then node).
 * - With the zero-setup default (embedded PGlite, demo data, stub upstream): `pnpm start` once on an
 *   empty data directory (initdb, migrations, seeding) and then on the directory it left behind.
 * Wall time runs from the spawn to the "gateway ready" log line; the gateway's own figure
 * (`startupMs`, since its process began) is shown beside it.
 * Usage: node --import tsx bench/cold-start.ts [--quick]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startBenchDatabase } from './lib/database.ts';
import { interleave } from './lib/rounds.ts';
import { median, reportLine } from './lib/stats.ts';

const quick = process.argv.includes('--quick');
const warmStarts = quick ? 1 : 3;
const postgresRounds = quick ? 2 : 7;
const root = path.resolve(import.meta.dirname, '..');
const gatewayDir = path.join(root, 'packages', 'gateway');

const COMMANDS = {
  compiled: [process.execPath, '--conditions=@control-layer/compiled', 'dist/main.js'],
  tsx: [process.execPath, '--import', 'tsx', 'src/main.ts'],
  'pnpm start': ['pnpm', 'start'],
} as const;
type Variant = keyof typeof COMMANDS;

/** Start the gateway, wait until it is ready, stop it; wall and self-reported milliseconds. */
async function startOnce(
  env: Record<string, string>,
  variant: Variant = 'pnpm start',
): Promise<{ wallMs: number; startupMs: number }> {
  const [command, ...args] = COMMANDS[variant];
  const started = performance.now();
  const child = spawn(command, args, {
    cwd: gatewayDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      LOG_LEVEL: 'info',
      npm_config_update_notifier: 'false',
      ...env,
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

// "After the build": compile first, so every variant below starts from fresh compiled files.
execFileSync(path.join(root, 'node_modules', '.bin', 'tsc'), ['-b', 'tsconfig.build.json'], { cwd: root });

const database = await startBenchDatabase();
try {
  const variants = Object.keys(COMMANDS) as Variant[];
  // A real router, as in production (nothing needs to answer there before the gateway is ready).
  const env = { DATABASE_URL: database.url, UPSTREAM_URL: 'http://127.0.0.1:9' };
  const runs = await interleave(variants, { rounds: postgresRounds, warmup: (v) => startOnce(env, v) }, (v) =>
    startOnce(env, v),
  );
  const wall = (v: Variant) => median(runs[v].map((r) => r.wallMs));
  const self = (v: Variant) => median(runs[v].map((r) => r.startupMs));
  console.log(`Ready against Postgres (${database.via}), median of ${postgresRounds} interleaved starts`);
  console.log('| start | wall (ms) | gateway process (ms) | wall vs tsx |');
  console.log('|---|---|---|---|');
  for (const v of variants) {
    console.log(`| ${v} | ${wall(v).toFixed(0)} | ${self(v).toFixed(0)} | ${(wall(v) / wall('tsx')).toFixed(2)}× |`);
  }
  console.log('');
  reportLine('cold-start', 'postgres_compiled_wall_ms', wall('compiled'), '<= 1000', wall('compiled') <= 1000);
  reportLine('cold-start', 'postgres_tsx_wall_ms', wall('tsx'), null, null);
  reportLine('cold-start', 'postgres_pnpm_start_wall_ms', wall('pnpm start'), null, null);
  reportLine('cold-start', 'postgres_compiled_vs_tsx', wall('compiled') / wall('tsx'), null, null);
} finally {
  await database.close();
}

const dataDir = mkdtempSync(path.join(tmpdir(), 'gateway-cold-start-'));
try {
  const first = await startOnce({ DATA_DIR: dataDir });
  const warm: { wallMs: number; startupMs: number }[] = [];
  for (let i = 0; i < warmStarts; i++) warm.push(await startOnce({ DATA_DIR: dataDir }));
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

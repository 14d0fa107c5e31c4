import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { GatewayBenchStats } from '../servers/gateway.ts';
import { type ChildServer, startChildServer } from './child-server.ts';

export type { GatewayBenchStats };

export type UpstreamMode = 'ok' | 'forbidden' | 'sse' | 'sse-long';

/** The fast upstream of bench/servers/upstream.ts, in its own process. */
export function startUpstream(mode: UpstreamMode, env: Record<string, string> = {}): Promise<ChildServer> {
  return startChildServer('servers/upstream.ts', [mode], env);
}

export interface StartGatewayOptions {
  upstreamUrl: string;
  databaseUrl: string;
  enrichment: boolean;
  /** More environment for the gateway's `loadConfig` (e.g. `MAX_BODY_BYTES`). */
  env?: Record<string, string>;
  /** Node flags (e.g. `--expose-gc`, which lets `/__bench/stats?gc=1` collect first). */
  nodeArgs?: string[];
}

/** Where `BENCH_PROFILE=cpu|heap` runs leave their profiles. */
export const PROFILE_DIR = path.resolve(import.meta.dirname, '..', '.profiles');

/**
 * Node flags for a gateway under `BENCH_PROFILE`: `cpu` writes `.cpuprofile`s, `heap`
 * `.heapprofile`s into bench/.profiles/<label>-<time>/ when the gateway stops, one per thread
 * (tsx's loader runs in a thread of its own; the largest file is the main thread's). Read one with
 * bench/profile-summary.ts or Chrome DevTools.
 */
function profileArgs(label: string): string[] {
  const kind = process.env.BENCH_PROFILE;
  if (kind !== 'cpu' && kind !== 'heap') return [];
  const dir = path.join(PROFILE_DIR, `${label}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  console.log(`profiling ${label} (${kind}) into ${path.relative(process.cwd(), dir)}`);
  return [`--${kind}-prof`, `--${kind}-prof-dir=${dir}`];
}

const ROOT = path.resolve(import.meta.dirname, '..', '..');
let built = false;

/**
 * The workspace compiled, as `pnpm start` does before it runs the gateway: what is measured is the
 * JavaScript that ships, not a development transpiler's output. Incremental: a no-op when current.
 */
function buildOnce(): void {
  if (built) return;
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-b', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  built = true;
}

/** Node flags that make the workspace packages resolve to their compiled `dist/`. */
export const COMPILED = ['--conditions=@control-layer/compiled'];

/**
 * The gateway (bench/servers/gateway.ts) in its own process, compiled, logging at `warn`; with
 * `enrichment: false` it runs as `ENRICHMENT=off` does.
 */
export function startGateway(options: StartGatewayOptions): Promise<ChildServer> {
  buildOnce();
  const label = `gateway-enrichment-${options.enrichment ? 'on' : 'off'}`;
  return startChildServer(
    'servers/gateway.ts',
    [],
    {
      DATABASE_URL: options.databaseUrl,
      UPSTREAM_URL: options.upstreamUrl,
      ENRICHMENT: options.enrichment ? 'on' : 'off',
      LOG_LEVEL: 'warn',
      ...options.env,
    },
    [...COMPILED, ...(options.nodeArgs ?? []), ...profileArgs(label)],
  );
}

/** The gateway's statement count, enrichment counters and memory, from `GET /__bench/stats`. */
export async function gatewayStats(gateway: ChildServer, options: { gc?: boolean } = {}): Promise<GatewayBenchStats> {
  const response = await fetch(`${gateway.url}/__bench/stats${options.gc ? '?gc=1' : ''}`);
  if (!response.ok) throw new Error(`/__bench/stats answered ${response.status}`);
  return (await response.json()) as GatewayBenchStats;
}

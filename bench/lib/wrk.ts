import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cpuSeconds } from './cpu.ts';

const WRK = '/usr/bin/wrk';
const TASKSET = '/usr/bin/taskset';

/**
 * The wrk binary, installing Debian's `wrk` when it is missing and this process is root; otherwise
 * null with the reason (then `apt-get install -y wrk` as root makes it available).
 */
export function ensureWrk(): { binary: string } | { missing: string } {
  if (existsSync(WRK)) return { binary: WRK };
  if (process.getuid?.() !== 0) return { missing: `${WRK} is missing; install it with \`apt-get install -y wrk\`` };
  console.log('wrk is missing: installing it with apt-get (running as root)');
  const install = () => spawnSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'inherit' }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    install();
  }
  return existsSync(WRK) ? { binary: WRK } : { missing: 'apt-get install -y wrk failed' };
}

/**
 * Where wrk and the servers run: on a machine with two cores or more, wrk (and the upstream it is
 * not measuring) on core 0, the server under test on core 1, so that the generator never takes the
 * server's core; on one core, nowhere in particular.
 */
export interface Pinning {
  generator: string | null;
  server: string | null;
  /** For the tables. */
  description: string;
}

export function pinning(cores: number): Pinning {
  if (cores < 2 || !existsSync(TASKSET)) {
    return { generator: null, server: null, description: 'not pinned (one core, or no taskset)' };
  }
  return {
    generator: '0',
    server: '1',
    description: 'wrk and the upstream pinned to core 0, the server under test to core 1 (taskset)',
  };
}

/** Pin a running process, every thread of it and of its children (nginx's worker), to `cpus`. */
export function pin(pid: number, cpus: string | null): void {
  if (cpus === null) return;
  const pids = [pid, ...descendants(pid)];
  for (const one of pids) spawnSync(TASKSET, ['-a', '-p', '-c', cpus, String(one)], { stdio: 'ignore' });
}

function descendants(pid: number): number[] {
  const found = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' });
  const children = (found.stdout ?? '').split(/\s+/).filter(Boolean).map(Number);
  return children.flatMap((child) => [child, ...descendants(child)]);
}

export interface WrkRun {
  requestsPerSecond: number;
  responses: number;
  /** Responses with a status outside 2xx and 3xx. */
  errorStatuses: number;
  /** Connect, read and write errors and timeouts. */
  socketErrors: number;
  /** Latency percentiles in ms (wrk's are coarse under a closed loop, like any generator's). */
  p50: number;
  p99: number;
  /** CPU time of the server process (its children included) per response, in µs. */
  cpuMicrosPerResponse: number;
}

/**
 * A POST load of `body` with `headers` on every request, as a Lua script gives it to wrk
 * (`wrk.method`, `wrk.body`, `wrk.headers`); its `done` hook prints the figures as one JSON line.
 */
export function wrkScript(dir: string, body: string, headers: Record<string, string>): string {
  const file = path.join(dir, `post-${body.length}.lua`);
  const lines = [
    'wrk.method = "POST"',
    // A long bracket: the body is taken byte for byte, no escapes.
    `wrk.body = [==[${body}]==]`,
    ...Object.entries(headers).map(
      ([name, value]) => `wrk.headers[${JSON.stringify(name)}] = ${JSON.stringify(value)}`,
    ),
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'WRK {"requests":%d,"duration_us":%d,"status":%d,"socket":%d,"p50_us":%d,"p99_us":%d}\\n\',',
    '    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,',
    '    latency:percentile(50), latency:percentile(99)))',
    'end',
  ];
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** A directory for wrk scripts; `remove()` when done. */
export function scriptDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-wrk-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One wrk run in its own process (one thread, pinned to `cpus`), charging `serverPid` its CPU. */
export async function runWrk(options: {
  binary: string;
  url: string;
  script: string;
  connections: number;
  durationSeconds: number;
  serverPid: number;
  cpus: string | null;
}): Promise<WrkRun> {
  const wrkArgs = [
    '-t1',
    `-c${options.connections}`,
    `-d${options.durationSeconds}s`,
    '--timeout',
    '10s',
    '-s',
    options.script,
    options.url,
  ];
  const [command, args] =
    options.cpus === null ? [options.binary, wrkArgs] : [TASKSET, ['-c', options.cpus, options.binary, ...wrkArgs]];
  const cpuBefore = cpuSeconds(options.serverPid, true);
  const output = await new Promise<string>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(text) : reject(new Error(`wrk exited ${code}:\n${text}`))));
  });
  const cpu = cpuSeconds(options.serverPid, true) - cpuBefore;
  const line = /^WRK (.*)$/m.exec(output)?.[1];
  if (!line) throw new Error(`wrk printed no summary:\n${output}`);
  const summary = JSON.parse(line) as {
    requests: number;
    duration_us: number;
    status: number;
    socket: number;
    p50_us: number;
    p99_us: number;
  };
  return {
    requestsPerSecond: summary.requests / (summary.duration_us / 1e6),
    responses: summary.requests,
    errorStatuses: summary.status,
    socketErrors: summary.socket,
    p50: summary.p50_us / 1000,
    p99: summary.p99_us / 1000,
    cpuMicrosPerResponse: (cpu / summary.requests) * 1e6,
  };
}

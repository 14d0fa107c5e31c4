import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';
import path from 'node:path';

export interface ChildServer {
  url: string;
  child: ChildProcess;
  /** Process id of the server itself (what /proc/<pid>/status describes). */
  pid: number;
  stop: () => Promise<void>;
}

export interface ProcessOptions {
  /** Shown in errors. */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** The URL the server answers on, once its output says it is ready; null while it is not. */
  readyFromOutput?: (output: string) => string | null;
  /** Or: the URL to hand back once a TCP connection to `port` succeeds. */
  probe?: { url: string; port: number };
  /** @default 60000 */
  timeoutMs?: number;
}

const running = new Set<ChildProcess>();
// Whatever way this process ends (an exception included), its servers end with it.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** How much of a child's output is kept, for the error when it dies. */
const OUTPUT_TAIL = 8192;

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Start a server process and resolve once it serves: when its stdout says so, or when its port
 * accepts a connection. `stop()` sends SIGTERM, then SIGKILL after 5 s; a server still running
 * when this process exits is killed.
 */
export async function startProcess(options: ProcessOptions): Promise<ChildServer> {
  const { name, timeoutMs = 60_000 } = options;
  const child = spawn(options.command, options.args, {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...options.env },
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_TAIL);
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const started = Date.now();
      let settled = false;
      const settle = (error: Error | null, value = '') => {
        if (settled) return;
        settled = true;
        clearInterval(poll);
        if (error) reject(error);
        else resolve(value);
      };
      const poll = setInterval(async () => {
        if (Date.now() - started > timeoutMs) settle(new Error(`${name} did not start within ${timeoutMs} ms`));
        const fromOutput = options.readyFromOutput?.(output);
        if (fromOutput) settle(null, fromOutput);
        else if (options.probe && (await canConnect(options.probe.port))) settle(null, options.probe.url);
      }, 25);
      child.once('exit', (code, signal) =>
        settle(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output}`)),
      );
      child.once('error', (error) => settle(error));
    });
    return { url, child, pid: child.pid ?? 0, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Start `script` (TypeScript under bench/, run through tsx) in its own process; it prints
 * `LISTENING <url>` on stdout once it accepts connections. Keeping servers out of the load
 * generator's process stops the two from sharing an event loop. `nodeArgs` go before the script
 * (e.g. `--cpu-prof`).
 */
export function startChildServer(
  script: string,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
  nodeArgs: string[] = [],
): Promise<ChildServer> {
  return startProcess({
    name: script,
    command: process.execPath,
    args: [...nodeArgs, '--import', 'tsx', path.resolve(import.meta.dirname, '..', script), ...args],
    env,
    readyFromOutput: (output) => /LISTENING (\S+)/.exec(output)?.[1] ?? null,
  });
}

/**
 * Wait for servers started at the same time. Every one that started is added to `owned` (for the
 * caller to stop), even when another failed, whose error is then thrown.
 *
 * @example
 * const [on, off] = await startedTogether(servers, [startGateway(a), startGateway(b)] as const);
 */
export async function startedTogether<T extends readonly Promise<ChildServer | null>[]>(
  owned: ChildServer[],
  starts: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(starts);
  for (const result of settled) if (result.status === 'fulfilled' && result.value) owned.push(result.value);
  const failure = settled.find((result) => result.status === 'rejected');
  if (failure) throw failure.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as {
    -readonly [K in keyof T]: Awaited<T[K]>;
  };
}

import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { within } from './helpers.ts';

/** The gateway package, where `pnpm start` and `src/main.ts` run from. */
export const PACKAGE_DIR = path.resolve(import.meta.dirname, '..');

/** A pino line. */
export type LogLine = { msg: string; pid?: number; [field: string]: unknown };

/**
 * A gateway process started by a test: its JSON log lines as they arrive, its stderr, and its
 * exit. `stop()` kills the gateway's own node process (by the pid it logs) if it is still up.
 */
export function startProcess(command: string, args: string[], env: Record<string, string>) {
  const child: ChildProcess = spawn(command, args, { cwd: PACKAGE_DIR, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  let stderr = '';
  const waiters: { test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const text = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      newline = buffered.indexOf('\n');
      if (!text.startsWith('{')) continue;
      const line = JSON.parse(text) as LogLine;
      logs.push(line);
      for (const waiter of waiters.filter((w) => w.test(line))) waiter.resolve(line);
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );

  let running = true;
  void exited.then(() => {
    running = false;
  });
  const stop = () => {
    // Once the child is gone its pids may belong to someone else.
    if (!running) return;
    const pid = logs.find((line) => typeof line.pid === 'number')?.pid;
    for (const target of [pid, child.pid]) {
      try {
        if (target !== undefined) process.kill(target, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  };
  // A test run that crashes skips its after() hooks; it must not leave a gateway running.
  process.once('exit', stop);
  void exited.then(() => process.off('exit', stop));

  /** The first log line (past or future) whose `msg` is `msg`. */
  const log = (msg: string, ms = 60_000): Promise<LogLine> => {
    const seen = logs.find((line) => line.msg === msg);
    if (seen) return Promise.resolve(seen);
    const found = new Promise<LogLine>((resolve) => waiters.push({ test: (line) => line.msg === msg, resolve }));
    const failed = exited.then(({ code }) => {
      throw new Error(`the gateway exited (${code}) before logging "${msg}"; stderr:\n${stderr}`);
    });
    return within(Promise.race([found, failed]), `log "${msg}"`, ms);
  };

  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    log,
    /** The gateway's URL and node pid once it logged that it is ready. */
    ready: async (ms?: number) => {
      const line = await log('gateway ready', ms);
      return { url: String(line.url), pid: Number(line.pid) };
    },
    stop,
  };
}

/** The variables a spawned gateway gets: a PATH and a HOME, then `extra`. Nothing else leaks in. */
export function bareEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...extra };
}

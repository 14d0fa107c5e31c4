import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { createEmptyTestDatabase, type EmptyTestDatabase } from '@control-layer/db/testing';
import * as assert from 'uvu/assert';

export const ROOT = path.resolve(import.meta.dirname, '..', '..', '..');
/** The compiled tool, as `pnpm cli` and an installed `control-layer` run it. */
export const MAIN = path.join(ROOT, 'packages', 'cli', 'dist', 'main.js');

/** Build once per run: cheap when the compiled files are fresh. */
export function buildOnce(): void {
  execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-b', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Written to stdin, which is then closed; without it stdin is closed at once. */
  stdin?: string;
  env?: Record<string, string>;
  /** Run through `pnpm cli` at the repository root instead of node. */
  viaPnpm?: boolean;
  /** Leave stdin open (a command waiting on it runs until signalled); called with the child's pid. */
  onSpawn?: (pid: number) => void;
}

/** Run the tool in a fresh process with a bare environment, and collect what it printed. */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...options.env };
  const child = options.viaPnpm
    ? spawn('pnpm', ['--dir', ROOT, 'cli', ...args], { env, cwd: ROOT })
    : spawn(process.execPath, ['--conditions=@control-layer/compiled', MAIN, ...args], { env, cwd: ROOT });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  if (options.onSpawn && child.pid !== undefined) options.onSpawn(child.pid);
  else child.stdin.end(options.stdin);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A database with nothing in it, not even the schema: the state a new user starts from. */
export function emptyDatabase(): Promise<EmptyTestDatabase> {
  return createEmptyTestDatabase({ prefix: 'cl_cli' });
}

/**
 * The tool bound to one environment, with the check most tests make of a run: `json` runs with
 * `--json`, which must succeed and print exactly one JSON document. `explain` adds to a failure's
 * message (a pooler's log, say).
 */
export function cliWith(env: Record<string, string>, explain: () => string = () => '') {
  const cli = (args: string[], stdin?: string) => runCli(args, { env, ...(stdin !== undefined && { stdin }) });
  async function json<T = Record<string, unknown>>(args: string[], stdin?: string): Promise<T> {
    const run = await cli([...args, '--json'], stdin);
    const context = explain();
    assert.is(run.code, 0, `${args.join(' ')} failed: ${run.stderr}${context && `\n${context}`}`);
    return JSON.parse(run.stdout) as T;
  }
  return { cli, json };
}

/** It must fail with exit code 1, nothing on stdout, and a stderr line matching `reason`. */
export function assertRefused(run: CliRun, reason: RegExp): void {
  assert.is(run.code, 1, `expected a failure, got ${run.code}: ${run.stdout}`);
  assert.is(run.stdout, '');
  assert.match(run.stderr, reason);
}

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { sharedTestPostgres } from '@control-layer/db/testing';
import pg from 'pg';

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
export async function emptyDatabase(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = await sharedTestPostgres();
  const name = `cl_cli_${randomBytes(6).toString('hex')}`;
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`create database "${name}"`);
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return { url: url.toString(), close: () => admin(`drop database if exists "${name}" with (force)`) };
}

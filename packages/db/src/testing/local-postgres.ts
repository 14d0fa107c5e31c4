import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestPostgres } from './test-postgres.ts';

const PG_ROOT = '/usr/lib/postgresql';

/** The newest Debian PostgreSQL `bin` directory, or null when no server binaries are installed. */
export function findLocalPostgresBin(): string | null {
  if (!existsSync(PG_ROOT)) return null;
  const versions = readdirSync(PG_ROOT)
    .filter((v) => existsSync(join(PG_ROOT, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(PG_ROOT, versions[0], 'bin') : null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function postgresUserIds(): { uid: number; gid: number } | null {
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0) return null;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * The ids of the `postgres` user when this process runs as root (the server, and PgBouncer, refuse
 * to run as root, so they run as that user); null otherwise.
 */
export function serverUserIds(program: string): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const ids = postgresUserIds();
  if (!ids) throw new Error(`running as root but no \`postgres\` user exists to run ${program}`);
  return ids;
}

/** Run a server command to completion, as `postgres` when asked; throws with its output when it fails. */
export function runServerCommand(command: string[], asPostgres: boolean): void {
  // Postgres refuses to run as root, so as root every server command runs as `postgres`.
  const argv = asPostgres ? ['runuser', '-u', 'postgres', '--', ...command] : command;
  const [cmd, ...args] = argv as [string, ...string[]];
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${command.slice(0, 2).join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
  }
}

/**
 * A throwaway cluster from the local server binaries: a temp directory, a free loopback port,
 * durability off (tests need speed, not crash safety). Removed entirely by `stop()`.
 */
export async function startLocalPostgres(bin: string): Promise<TestPostgres> {
  const ids = serverUserIds('the server');
  const isRoot = ids !== null;
  const dir = mkdtempSync(join(tmpdir(), 'cl-pg-'));
  const data = join(dir, 'data');
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const port = await freePort();
  let running = false;
  const stopSync = () => {
    if (running) {
      running = false;
      try {
        runServerCommand([join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'], isRoot);
      } catch {
        // Already gone; the directory is removed below either way.
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  // A test process that exits without calling stop(), or is interrupted, still takes its server
  // with it ('exit' handlers do not run when a signal ends the process).
  const onSignal = (signal: NodeJS.Signals) => {
    stopSync();
    process.kill(process.pid, signal);
  };
  process.once('exit', stopSync);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    runServerCommand(
      [
        join(bin, 'initdb'),
        '-D',
        data,
        '-U',
        'postgres',
        '--auth=trust',
        '--no-sync',
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
      ],
      isRoot,
    );
    const options = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=300',
    ].join(' ');
    runServerCommand(
      [join(bin, 'pg_ctl'), '-D', data, '-l', join(data, 'server.log'), '-w', '-o', options, 'start'],
      isRoot,
    );
    running = true;
  } catch (error) {
    stopSync();
    throw error;
  }
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    via: 'local',
    stop: async () => {
      process.removeListener('exit', stopSync);
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      stopSync();
    },
  };
}

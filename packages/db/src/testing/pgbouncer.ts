import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, serverUserIds } from './local-postgres.ts';

const CANDIDATES = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer', '/usr/local/bin/pgbouncer'];

/** The PgBouncer binary (Debian's `pgbouncer` package), or null when it is not installed. */
export function findPgBouncer(): string | null {
  return CANDIDATES.find((path) => existsSync(path)) ?? null;
}

export interface TestPgBouncer {
  /** `url` with its host and port replaced by PgBouncer's: the same database, through the pooler. */
  through(url: string): string;
  port: number;
  /** PgBouncer's own log, for a failing test to show. */
  log(): string;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /**
   * `transaction` (a server connection per transaction: what fleets run) or `session`.
   * @default 'transaction'
   */
  poolMode?: 'transaction' | 'session';
  /**
   * Server connections per database and user; small, so that clients really share them.
   * @default 4
   */
  defaultPoolSize?: number;
  /** Roles besides the server URL's that may log in through the pooler. @default [] */
  users?: string[];
}

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
 * A real PgBouncer in front of the Postgres server at `serverUrl`, on a free loopback port: every
 * database of the server is reachable under its own name, any user is trusted (a throwaway
 * setup). Stopped, and its directory removed, by `stop()` or when this process exits.
 *
 * @example
 * const bouncer = await startPgBouncer(server.url);
 * const { db } = await openDatabase(bouncer.through(t.url));
 */
export async function startPgBouncer(serverUrl: string, options: PgBouncerOptions = {}): Promise<TestPgBouncer> {
  const binary = findPgBouncer();
  if (!binary) throw new Error('PgBouncer is not installed (apt-get install pgbouncer)');
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username || 'postgres');
  const ids = serverUserIds('PgBouncer');
  const isRoot = ids !== null;
  const dir = mkdtempSync(join(tmpdir(), 'cl-pgbouncer-'));
  const port = await freePort();
  const logFile = join(dir, 'pgbouncer.log');
  const users = [user, ...(options.users ?? [])];
  writeFileSync(join(dir, 'userlist.txt'), users.map((u) => `"${u}" ""\n`).join(''));
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || 5432}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'auth_type = trust',
      `auth_file = ${join(dir, 'userlist.txt')}`,
      `pool_mode = ${options.poolMode ?? 'transaction'}`,
      `default_pool_size = ${options.defaultPoolSize ?? 4}`,
      'max_client_conn = 2000',
      `logfile = ${logFile}`,
      // node-postgres sends these as start-up parameters when asked to; PgBouncer refuses
      // parameters it does not track unless told to ignore them.
      'ignore_startup_parameters = extra_float_digits,statement_timeout,options',
      '',
    ].join('\n'),
  );
  if (ids) {
    for (const file of ['', 'userlist.txt', 'pgbouncer.ini']) chownSync(join(dir, file), ids.uid, ids.gid);
  }
  // PgBouncer refuses to run as root.
  const argv = isRoot
    ? ['runuser', '-u', 'postgres', '--', binary, join(dir, 'pgbouncer.ini')]
    : [binary, join(dir, 'pgbouncer.ini')];
  const [command, ...args] = argv as [string, ...string[]];
  const child: ChildProcess = spawn(command, args, { stdio: 'ignore' });
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  let running = true;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => {
    running = false;
  });
  const stopSync = () => {
    if (running) {
      // runuser passes the signal on to PgBouncer.
      child.kill('SIGTERM');
      spawnSync('sleep', ['0.05']);
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  };
  process.once('exit', stopSync);

  const deadline = Date.now() + 10_000;
  while (!(await canConnect(port))) {
    if (!running || Date.now() > deadline) {
      stopSync();
      throw new Error(`PgBouncer did not start:\n${log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }

  return {
    port,
    through: (url: string) => {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    log,
    stop: async () => {
      process.removeListener('exit', stopSync);
      if (running) {
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
        if (running) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

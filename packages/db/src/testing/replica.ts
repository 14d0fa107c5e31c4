import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findLocalPostgresBin, freePort, runServerCommand, serverUserIds } from './local-postgres.ts';
import { adminQuery } from './test-database.ts';

export interface TestReplica {
  /** `url` (a database on the primary) with host and port replaced by the replica's. */
  through(url: string): string;
  port: number;
  /** Stop the replica at once (`-m immediate`): clients see their connections cut, new ones refused. */
  stop(): Promise<void>;
  /** Start it again on the same port; it catches up from the primary by itself. */
  start(): Promise<void>;
  /** Hold WAL replay (the replica falls behind while the primary moves on), or let it resume. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Stop it and remove its directory. */
  destroy(): Promise<void>;
}

/** Whether a streaming replica of `primaryUrl` can be made here: local server binaries and a loopback primary. */
export function canStartReplica(primaryUrl: string): boolean {
  const host = new URL(primaryUrl).hostname;
  return findLocalPostgresBin() !== null && (host === '127.0.0.1' || host === 'localhost');
}

/**
 * A hot-standby streaming replica of the server at `primaryUrl` (a `pg_basebackup -R` copy started
 * on a free loopback port), as a fleet would run beside its primary. Needs the local server
 * binaries and a primary that accepts replication connections from loopback (the local test
 * cluster does: initdb's default pg_hba.conf trusts them).
 *
 * @example
 * const replica = await startStreamingReplica(server.url);
 * const { db } = await openDatabase(replica.through(t.url));
 */
export async function startStreamingReplica(primaryUrl: string): Promise<TestReplica> {
  const bin = findLocalPostgresBin();
  if (!bin) throw new Error('a streaming replica needs the local Postgres server binaries');
  const primary = new URL(primaryUrl);
  const ids = serverUserIds('the server');
  const isRoot = ids !== null;
  // A standby must allow at least as many connections as its primary.
  const [settings] = (await adminQuery<{ max_connections: string }>(primaryUrl, 'show max_connections')).rows;
  const dir = mkdtempSync(join(tmpdir(), 'cl-replica-'));
  const data = join(dir, 'data');
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const port = await freePort();
  const url = Object.assign(new URL(primaryUrl), { port: String(port), hostname: '127.0.0.1' });
  let running = false;

  const ctl = (...args: string[]) => runServerCommand([join(bin, 'pg_ctl'), '-D', data, ...args], isRoot);
  const startServer = () => {
    const options = [
      `-p ${port}`,
      `-k ${dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c hot_standby=on',
      `-c max_connections=${settings?.max_connections ?? 300}`,
      // A replica that is told to stop replaying must not also be asked to cancel queries for it.
      '-c max_standby_streaming_delay=-1',
    ].join(' ');
    ctl('-l', join(dir, 'server.log'), '-w', '-o', options, 'start');
    running = true;
  };
  const stopSync = () => {
    if (running) {
      running = false;
      try {
        ctl('-m', 'immediate', '-w', 'stop');
      } catch {
        // Already gone.
      }
    }
  };
  const destroySync = () => {
    stopSync();
    try {
      // Exiting server processes may still be removing files: retry rather than fail the cleanup.
      rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    } catch {
      // A leftover temp directory must not fail the test run.
    }
  };
  process.once('exit', destroySync);
  try {
    runServerCommand(
      [
        join(bin, 'pg_basebackup'),
        '-D',
        data,
        '-R',
        '-X',
        'stream',
        '-c',
        'fast',
        '-h',
        primary.hostname,
        '-p',
        primary.port || '5432',
        '-U',
        decodeURIComponent(primary.username || 'postgres'),
      ],
      isRoot,
    );
    startServer();
  } catch (error) {
    destroySync();
    throw error;
  }
  const maintenance = url.toString();
  return {
    port,
    through: (databaseUrl: string) =>
      Object.assign(new URL(databaseUrl), { hostname: '127.0.0.1', port: String(port) }).toString(),
    stop: async () => stopSync(),
    start: async () => {
      if (!running) startServer();
    },
    pauseReplay: async () => {
      await adminQuery(maintenance, 'select pg_wal_replay_pause()');
    },
    resumeReplay: async () => {
      await adminQuery(maintenance, 'select pg_wal_replay_resume()');
    },
    destroy: async () => {
      process.removeListener('exit', destroySync);
      destroySync();
    },
  };
}

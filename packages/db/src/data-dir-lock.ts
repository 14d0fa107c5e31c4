import { randomBytes } from 'node:crypto';
import {
  linkSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

/** The file, inside a PGlite data directory, that names the process using it. */
export const LOCK_FILE = 'control-layer.lock';

interface LockContent {
  pid: number;
  host: string;
  /** Kernel start time of the process (Linux), so a recycled pid is not taken for the holder. */
  startTime: string | null;
  token: string;
  since: string;
  /** How often the holder touches the file, in ms (absent in locks written before heartbeats). */
  heartbeatMs?: number;
  /** The holder's pid namespace (Linux): its pid means something only inside the same one. */
  pidNamespace?: string;
}

/** Another live process holds the embedded database. */
export class DatabaseLockedError extends Error {
  override readonly name = 'DatabaseLockedError';
  constructor(
    readonly dataDir: string,
    readonly holderPid: number,
    readonly holderHost: string,
    readonly since: string,
  ) {
    super(
      `the embedded database ${dataDir} is in use by process ${holderPid}` +
        `${holderHost === hostname() ? '' : ` on ${holderHost}`} (since ${since}); ` +
        'PGlite allows one process per data directory: stop that process, or use another directory',
    );
  }
}

export interface DataDirLock {
  /** Remove the lock if it is still ours. Safe to call twice. */
  release(): void;
}

/** Why a lock's holder was found not alive. */
export const STALE_REASONS = ['process gone', 'no heartbeat', 'unreadable'] as const;
export type StaleReason = (typeof STALE_REASONS)[number];

/** A lock taken over from a holder that could not be proven alive. */
export interface StaleLock {
  dataDir: string;
  pid: number;
  host: string;
  since: string;
  reason: StaleReason;
}

export interface LockOptions {
  /**
   * How often the holder touches the lock file, in ms. A holder on another host is alive only if
   * its lock is touched again within three of its own periods while a newcomer watches.
   * @default 2000
   */
  heartbeatMs?: number;
  /** Told when a stale lock is taken over. @default one line on stderr */
  onTakeover?: (stale: StaleLock) => void;
}

/** The heartbeat of a lock that does not state one (written before heartbeats existed). */
const DEFAULT_HEARTBEAT_MS = 2000;
/** Longest wait for a heartbeat, whatever a lock claims: a start never hangs on a bad file. */
const MAX_WATCH_MS = 30_000;

/** This process's pid namespace, e.g. `pid:[4026531836]`; null where there is no /proc. */
function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
function startTimeOf(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; fields after it are plain.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

function processAlive(holder: LockContent): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const now = startTimeOf(holder.pid);
  return holder.startTime === null || now === null || now === holder.startTime;
}

function touchedAt(file: string): number | null {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

/**
 * Whether the holder of `file` is alive, or why it is not. On this host the process table says
 * so (pid and start time). A holder elsewhere (another machine on a shared disk, or this container
 * before a restart gave it a new hostname) cannot be looked up, so it must show itself: its lock
 * file's modification time must change within three of its heartbeats while we watch. This does
 * not compare clocks, so neither skew between hosts nor a new hostname misleads it.
 */
async function liveness(file: string, holder: LockContent): Promise<'alive' | 'changed' | StaleReason> {
  if (!Number.isSafeInteger(holder.pid) || holder.pid <= 0) return 'unreadable';
  // Two containers may share a hostname and a volume but not a process table: the pid is only
  // looked up when it is from ours.
  const samePids = holder.pidNamespace === undefined || holder.pidNamespace === pidNamespace();
  if (holder.host === hostname() && samePids) return processAlive(holder) ? 'alive' : 'process gone';
  const beat = holder.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const watchMs = Math.min(3 * beat, MAX_WATCH_MS);
  const first = touchedAt(file);
  for (let waited = 0; waited < watchMs; ) {
    const step = Math.max(10, Math.min(beat / 2, watchMs - waited));
    await new Promise((resolve) => setTimeout(resolve, step));
    waited += step;
    if (read(file)?.token !== holder.token) return 'changed';
    if (touchedAt(file) !== first) return 'alive';
  }
  return 'no heartbeat';
}

function read(file: string): LockContent | null {
  try {
    const content = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockContent>;
    if (typeof content.pid !== 'number' || typeof content.token !== 'string') return null;
    return {
      pid: content.pid,
      host: String(content.host ?? ''),
      startTime: content.startTime ?? null,
      token: content.token,
      since: String(content.since ?? 'an unknown time'),
      ...(typeof content.heartbeatMs === 'number' && content.heartbeatMs > 0 && { heartbeatMs: content.heartbeatMs }),
      ...(typeof content.pidNamespace === 'string' && { pidNamespace: content.pidNamespace }),
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // Unreadable or not ours: a lock nobody can vouch for is stale.
    return { pid: 0, host: hostname(), startTime: null, token: '', since: 'an unknown time' };
  }
}

const logToStderr = (stale: StaleLock): void => {
  process.stderr.write(
    `took over the lock of ${stale.dataDir} from process ${stale.pid} on ${stale.host} ` +
      `(since ${stale.since}): ${stale.reason}\n`,
  );
};

/**
 * Take the lock of a PGlite data directory (which must exist) for this process, or throw
 * `DatabaseLockedError` naming the live holder. A lock whose holder cannot be proven alive (see
 * `liveness`: a dead pid on this host, no heartbeat from another) is taken over, and
 * `onTakeover` says whose it was. The holder touches the file every `heartbeatMs` until it
 * releases it. The lock file is written whole before it appears (link of a complete temporary
 * file), so no one reads half a lock.
 */
export async function lockDataDir(dataDir: string, options: LockOptions = {}): Promise<DataDirLock> {
  const { heartbeatMs = DEFAULT_HEARTBEAT_MS, onTakeover = logToStderr } = options;
  const file = path.join(dataDir, LOCK_FILE);
  const namespace = pidNamespace();
  const mine: LockContent = {
    pid: process.pid,
    host: hostname(),
    startTime: startTimeOf(process.pid),
    token: randomBytes(12).toString('hex'),
    since: new Date().toISOString(),
    heartbeatMs,
    ...(namespace !== null && { pidNamespace: namespace }),
  };
  const draft = `${file}.${mine.token}.tmp`;
  writeFileSync(draft, `${JSON.stringify(mine)}\n`);
  try {
    // Bounded: each round either takes the lock, finds a live holder, or removes one stale lock.
    for (let round = 0; round < 5; round++) {
      try {
        linkSync(draft, file);
        return lockHandle(file, mine.token, heartbeatMs);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = read(file);
      if (holder === null) continue;
      const state = await liveness(file, holder);
      if (state === 'changed') continue;
      if (state === 'alive') throw new DatabaseLockedError(dataDir, holder.pid, holder.host, holder.since);
      // Move the stale lock aside; of several processes doing so, one rename wins. If what was
      // moved is not the lock judged stale (someone took over meanwhile), put it back.
      const aside = `${file}.${mine.token}.stale`;
      try {
        renameSync(file, aside);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw error;
      }
      const moved = read(aside);
      if (moved && moved.token !== holder.token) {
        try {
          linkSync(aside, file);
        } catch {
          // Someone else holds it now; they will be found next round.
        }
      } else {
        onTakeover({ dataDir, pid: holder.pid, host: holder.host, since: holder.since, reason: state });
      }
      unlinkSync(aside);
    }
    throw new Error(`could not take the lock ${file}: it kept changing hands`);
  } finally {
    unlinkSync(draft);
  }
}

function lockHandle(file: string, token: string, heartbeatMs: number): DataDirLock {
  let released = false;
  // Unref'd: the lock never keeps a process alive on its own.
  const heartbeat = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(file, now, now);
    } catch {
      // The directory is gone: nothing left to hold.
    }
  }, heartbeatMs).unref();
  const release = () => {
    if (released) return;
    released = true;
    clearInterval(heartbeat);
    process.off('exit', release);
    try {
      if (read(file)?.token === token) unlinkSync(file);
    } catch {
      // The directory is gone: so is the lock.
    }
  };
  // A process that exits without closing (process.exit, an uncaught error) still lets go.
  process.on('exit', release);
  return { release };
}

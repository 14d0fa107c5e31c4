import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
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

function isAlive(holder: LockContent): boolean {
  // A process on another machine (a shared disk) cannot be checked: count it as alive.
  if (holder.host !== hostname()) return true;
  if (!Number.isSafeInteger(holder.pid) || holder.pid <= 0) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const now = startTimeOf(holder.pid);
  return holder.startTime === null || now === null || now === holder.startTime;
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
    };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // Unreadable or not ours: a lock nobody can vouch for is stale.
    return { pid: 0, host: hostname(), startTime: null, token: '', since: 'an unknown time' };
  }
}

/**
 * Take the lock of a PGlite data directory (which must exist) for this process, or throw
 * `DatabaseLockedError` naming the live holder. A lock left by a process that died (even by
 * SIGKILL) is detected, by pid and start time, and taken over. The lock file is written whole
 * before it appears (link of a complete temporary file), so no one reads half a lock.
 */
export function lockDataDir(dataDir: string): DataDirLock {
  const file = path.join(dataDir, LOCK_FILE);
  const mine: LockContent = {
    pid: process.pid,
    host: hostname(),
    startTime: startTimeOf(process.pid),
    token: randomBytes(12).toString('hex'),
    since: new Date().toISOString(),
  };
  const draft = `${file}.${mine.token}.tmp`;
  writeFileSync(draft, `${JSON.stringify(mine)}\n`);
  try {
    // Bounded: each round either takes the lock, finds a live holder, or removes one stale lock.
    for (let round = 0; round < 5; round++) {
      try {
        linkSync(draft, file);
        return lockHandle(file, mine.token);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = read(file);
      if (holder === null) continue;
      if (isAlive(holder)) throw new DatabaseLockedError(dataDir, holder.pid, holder.host, holder.since);
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
      }
      unlinkSync(aside);
    }
    throw new Error(`could not take the lock ${file}: it kept changing hands`);
  } finally {
    unlinkSync(draft);
  }
}

function lockHandle(file: string, token: string): DataDirLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
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

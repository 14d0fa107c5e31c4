import { sql } from 'drizzle-orm';
import { type Database, rowsOf } from './database.ts';
import { describeError } from './describe-error.ts';

export type ReplicaState = 'unknown' | 'fresh' | 'lagging' | 'down';

export interface ReadRouterOptions {
  /**
   * Staleness the replica may have before reads go back to the primary, in ms. A read on the
   * replica reflects the primary as of at most `maxLagMs + probeIntervalMs` ago.
   * @default 1000
   */
  maxLagMs?: number;
  /**
   * How often the replica's position is compared with the primary's, in ms.
   * @default 200
   */
  probeIntervalMs?: number;
  /**
   * Longest a probe may take before the replica counts as down, in ms.
   * @default 1000
   */
  probeTimeoutMs?: number;
  /** Told when the replica's state changes (for a log line). */
  onStateChange?: (state: ReplicaState, detail: { lagMs: number | null; error?: string }) => void;
}

/** Where reads run: the replica while it is up and fresh, else the primary. */
export interface ReadRouter {
  run<T>(work: (db: Database) => Promise<T>): Promise<T>;
  /** The replica's state as of the last probe (or failed read). */
  state(): ReplicaState;
  /** The replica's lag at the last probe, in ms (0: it had replayed all the primary had written); null while down. */
  lagMs(): number | null;
  /** Reads sent to each side so far, and how many replica reads were retried on the primary. */
  counts(): { replica: number; primary: number; retried: number };
  /** Stop probing. The databases themselves are the caller's to close. */
  close(): void;
}

interface Sample {
  at: number;
  lsn: bigint;
}

/** `X/Y` WAL positions as numbers (pg_lsn's text form: two hex halves). */
function lsnValue(text: string): bigint {
  const [high = '0', low = '0'] = text.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  work.catch(() => {});
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Send reads to a streaming replica while it keeps up, and to the primary otherwise. Every
 * `probeIntervalMs` the primary's WAL position is sampled and the replica's replay position
 * read; the replica's lag is the age of the oldest primary position it has not replayed yet (0
 * when it has replayed them all, so an idle primary does not make it look stale). Reads go to the
 * primary while the replica is down, lagging more than `maxLagMs`, or not yet probed, and a read
 * that fails on the replica is run again on the primary (and the replica counted down until the
 * next probe). Only reads belong here: writes, migrations and notifications go to the primary.
 *
 * @example
 * const reads = createReadRouter(primary.db, replica.db, { maxLagMs: 1000 });
 * const facts = await reads.run((db) => explainDenial(db, key, model));
 */
export function createReadRouter(primary: Database, replica: Database, options: ReadRouterOptions = {}): ReadRouter {
  const { maxLagMs = 1000, probeIntervalMs = 200, probeTimeoutMs = 1000, onStateChange = () => {} } = options;
  for (const [name, value] of Object.entries({ maxLagMs, probeIntervalMs, probeTimeoutMs })) {
    if (!Number.isInteger(value) || value <= 0)
      throw new RangeError(`createReadRouter: \`${name}\` must be a positive integer`);
  }
  let current: ReplicaState = 'unknown';
  let lagMs: number | null = null;
  const counts = { replica: 0, primary: 0, retried: 0 };
  // Primary positions the replica had not replayed at the last probe, oldest first.
  let samples: Sample[] = [];

  const setState = (next: ReplicaState, error?: string) => {
    if (next === current) return;
    current = next;
    onStateChange(next, { lagMs, ...(error !== undefined && { error }) });
  };

  const probe = async () => {
    try {
      const [head] = rowsOf<{ lsn: string }>(
        await within(primary.execute(sql`select pg_current_wal_lsn()::text as lsn`), probeTimeoutMs),
      );
      if (head) samples.push({ at: Date.now(), lsn: lsnValue(head.lsn) });
    } catch {
      // The primary's own trouble is not the replica's: judge the replica on the samples so far.
    }
    // Bounded: far more than maxLagMs worth of samples, so the lag stays over the bound.
    if (samples.length > 10_000) samples = samples.slice(-10_000);
    try {
      const [row] = rowsOf<{ standby: boolean; lsn: string | null }>(
        await within(
          replica.execute(sql`select pg_is_in_recovery() as standby, pg_last_wal_replay_lsn()::text as lsn`),
          probeTimeoutMs,
        ),
      );
      if (!row?.standby || row.lsn === null) {
        lagMs = null;
        setState('down', 'not a standby');
        return;
      }
      const replayed = lsnValue(row.lsn);
      samples = samples.filter((s) => s.lsn > replayed);
      lagMs = samples[0] ? Date.now() - samples[0].at : 0;
      setState(lagMs > maxLagMs ? 'lagging' : 'fresh');
    } catch (error) {
      lagMs = null;
      // Logged on a state change: the root cause only, never a statement.
      setState('down', describeError(error).message);
    }
  };

  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    await probe();
    if (!stopped) {
      timer = setTimeout(loop, probeIntervalMs);
      timer.unref();
    }
  };
  void loop();

  return {
    run: async <T>(work: (db: Database) => Promise<T>): Promise<T> => {
      if (current !== 'fresh') {
        counts.primary++;
        return work(primary);
      }
      try {
        counts.replica++;
        return await work(replica);
      } catch (error) {
        counts.retried++;
        counts.primary++;
        // A failed diagnosis carries its parameters (a key digest): only the described root cause is kept.
        setState('down', describeError(error).message);
        return work(primary);
      }
    },
    state: () => current,
    lagMs: () => lagMs,
    counts: () => ({ ...counts }),
    close: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

import { connect } from 'node:net';
import { withDeadline } from '@control-layer/enrichment';

/** A dependency check whose answer is reused for a while, so asking often costs nothing. */
export interface Probe {
  /** True when the dependency answered within the timeout (now, or less than `cacheMs` ago). */
  check(): Promise<boolean>;
  /** The last answer, or null before the first check. */
  last(): boolean | null;
}

export interface ProbeOptions {
  /**
   * Time the check may take before the dependency counts as down, in ms.
   * @default 1000
   */
  timeoutMs?: number;
  /**
   * How long an answer is reused, in ms.
   * @default 1000
   */
  cacheMs?: number;
  /** Told each time the answer changes (the first answer included), with the failure if any. */
  onChange?: (up: boolean, error: unknown) => void;
}

/**
 * Wrap a check (resolves: up; rejects or hangs: down) into a cached probe. Concurrent callers
 * share one check in flight, so a hanging dependency does not pile up checks.
 *
 * @example
 * const database = cachedProbe(() => db.execute(sql`select 1`), { timeoutMs: 1000 });
 */
export function cachedProbe(check: () => Promise<unknown>, options: ProbeOptions = {}): Probe {
  const { timeoutMs = 1000, cacheMs = 1000, onChange = () => {} } = options;
  let answer: boolean | null = null;
  let answeredAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<boolean> | null = null;

  const run = async (): Promise<boolean> => {
    let up = true;
    let failure: unknown;
    try {
      await withDeadline(check(), timeoutMs);
    } catch (error) {
      up = false;
      failure = error;
    }
    answeredAt = performance.now();
    if (up !== answer) onChange(up, failure);
    answer = up;
    return up;
  };

  return {
    check() {
      if (answer !== null && performance.now() - answeredAt < cacheMs) return Promise.resolve(answer);
      inFlight ??= run().finally(() => {
        inFlight = null;
      });
      return inFlight;
    },
    last: () => answer,
  };
}

/**
 * Resolves once a TCP connection to the URL's host and port opens (then closes it): the upstream
 * is reachable. Says nothing of its HTTP health, and costs the upstream no request.
 */
export function tcpReachable(url: string, timeoutMs: number): Promise<void> {
  const target = new URL(url);
  const port = Number(target.port) || (target.protocol === 'https:' ? 443 : 80);
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('timeout', () => {
      socket.destroy();
      reject(
        Object.assign(new Error(`no connection to ${host}:${port} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' }),
      );
    });
    socket.once('error', reject);
  });
}

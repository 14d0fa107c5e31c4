import { Pool } from 'undici';
import { percentile } from './stats.ts';

export interface PacedOptions {
  url: string;
  /** Requests per second, sent on a fixed schedule whether or not earlier ones have answered. */
  rate: number;
  durationSeconds: number;
  /** Most requests in flight at once (the pool's connections). */
  connections: number;
  headers: Record<string, string>;
  body: string;
}

export interface PacedResult {
  requestsPerSecond: number;
  /** Latency percentiles in ms, from sending each request to the end of its response. */
  p50: number;
  p99: number;
  statuses: Record<string, number>;
  /** Requests that got no response. */
  errors: number;
}

/**
 * An open-loop load at a fixed rate, which autocannon's `overallRate` is not (it sends each
 * second's requests in a burst): request i is sent at start + i / rate (or as soon after as the
 * timer fires), whether or not earlier ones have answered.
 */
export async function paced(options: PacedOptions): Promise<PacedResult> {
  const target = new URL(options.url);
  const pool = new Pool(target.origin, { connections: options.connections });
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const total = Math.round(options.rate * options.durationSeconds);
  const started = performance.now();
  const requests: Promise<void>[] = [];
  let errors = 0;
  try {
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / options.rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const sentAt = performance.now();
      requests.push(
        pool
          .request({ path: target.pathname, method: 'POST', headers: options.headers, body: options.body })
          .then(async (response) => {
            await response.body.dump();
            latencies.push(performance.now() - sentAt);
            statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
          })
          .catch(() => {
            errors++;
          }),
      );
    }
    await Promise.all(requests);
  } finally {
    await pool.close();
  }
  return {
    requestsPerSecond: latencies.length / ((performance.now() - started) / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    statuses,
    errors,
  };
}

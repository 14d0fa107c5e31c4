import autocannon from 'autocannon';
import { cpuSeconds } from './cpu.ts';

export interface LoadOptions {
  url: string;
  connections: number;
  durationSeconds: number;
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** The server's process, to charge it CPU time per response (with its children: nginx's workers). */
  serverPid?: number;
}

export interface LoadResult {
  /** Responses per second over the whole run (all statuses). */
  requestsPerSecond: number;
  /** Latency percentiles in ms, all statuses (autocannon's resolution is 1 ms). */
  p50: number;
  p99: number;
  responses: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
  /** CPU time the server process spent per response, in µs (NaN without `serverPid`). */
  cpuMicrosPerResponse: number;
}

/** One autocannon run; the generator runs in this process, the server in another. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const { serverPid } = options;
  const cpuBefore = serverPid === undefined ? 0 : cpuSeconds(serverPid, true);
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationSeconds,
    method: options.method ?? 'POST',
    headers: options.headers ?? {},
    // Denials are what some scenarios measure: count their latency too.
    excludeErrorStats: false,
    ...(options.body !== undefined && { body: options.body }),
  });
  const statuses = Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, (stat as { count: number }).count]),
  );
  const responses = Object.values(statuses).reduce((sum, n) => sum + n, 0);
  const cpu = serverPid === undefined ? Number.NaN : cpuSeconds(serverPid, true) - cpuBefore;
  return {
    requestsPerSecond: responses / (result.duration || options.durationSeconds),
    p50: result.latency.p50,
    p99: result.latency.p99,
    responses,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    cpuMicrosPerResponse: (cpu / responses) * 1e6,
  };
}

/** Throw unless every response of the run had `status` and nothing failed. */
export function expectOnly(label: string, result: LoadResult, status: number): void {
  const others = Object.entries(result.statuses).filter(([code]) => Number(code) !== status);
  if (result.errors > 0 || result.timeouts > 0 || others.length > 0 || result.responses === 0) {
    throw new Error(
      `${label}: expected only ${status}, got ${JSON.stringify(result.statuses)}, ` +
        `${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
}

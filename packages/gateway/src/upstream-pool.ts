import { Pool } from 'undici';

export interface UpstreamPoolOptions {
  /**
   * Time to open a TCP (and TLS) connection to the upstream, in ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
  /**
   * Idle time after which a kept-alive upstream connection is closed, in ms. Kept below the usual
   * 5 s server default so the upstream never closes a socket the pool is about to reuse.
   * @default 4000
   */
  keepAliveTimeoutMs?: number;
  /**
   * Most connections open to the upstream at once; further requests queue.
   * @default 256
   */
  connections?: number;
}

/**
 * A keep-alive connection pool to the upstream's origin. The caller closes it (`pool.close()`)
 * after the server has drained.
 *
 * @example
 * const pool = createUpstreamPool('http://127.0.0.1:3001', { connectTimeoutMs: 5000 });
 */
export function createUpstreamPool(upstreamUrl: string, options: UpstreamPoolOptions = {}): Pool {
  const { connectTimeoutMs = 10_000, keepAliveTimeoutMs = 4000, connections = 256 } = options;
  return new Pool(new URL(upstreamUrl).origin, {
    connections,
    keepAliveTimeout: keepAliveTimeoutMs,
    connect: { timeout: connectTimeoutMs },
  });
}

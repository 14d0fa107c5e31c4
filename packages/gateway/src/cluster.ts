/**
 * `WORKERS=n`: the gateway as a node:cluster primary and n workers sharing one port. The primary
 * serves nothing itself; it starts the workers, replaces those that die, sums their metrics for
 * whichever worker is scraped, and drains them all on SIGTERM/SIGINT.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import type { GatewayLogger } from './create-gateway.ts';
import type { GatewayMetrics, MetricsSource } from './metrics.ts';

/** IPC message types between primary and workers (prom-client's own use `prom-client:`). */
const READY = 'control-layer:worker-ready';
const METRICS = 'control-layer:metrics';

type ClusterMessage =
  | { type: typeof READY; url: string }
  | { type: typeof METRICS; id: number; text?: string; error?: string };

function isClusterMessage(message: unknown): message is ClusterMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === READY || type === METRICS;
}

export interface ClusterOptions {
  workers: number;
  logger: GatewayLogger & { fatal(fields: object, message: string): void };
  /** How long a worker may take to drain; past it (plus a margin) the primary kills it. */
  shutdownTimeoutMs: number;
  /**
   * Workers that die one after the other before serving, after which the primary gives up.
   * @default 5
   */
  maxStartFailures?: number;
  /**
   * A worker up this long is healthy: the next death is replaced at once again.
   * @default 10000
   */
  stableAfterMs?: number;
}

/** Delay before replacing the n-th worker in a row to die: the first at once, then doubling, capped. */
export function restartDelayMs(streak: number): number {
  return streak <= 1 ? 0 : Math.min(250 * 2 ** (streak - 2), 30_000);
}

/**
 * Run this process as the cluster primary until it is told to stop. Resolves with the exit code:
 * 0 once every worker drained, 1 when workers kept dying at start or had to be killed.
 *
 * @example
 * if (config.workers > 1 && cluster.isPrimary) process.exit(await runPrimary({ workers: 4, logger, shutdownTimeoutMs }));
 */
export function runPrimary(options: ClusterOptions): Promise<number> {
  const { workers: size, logger, shutdownTimeoutMs, maxStartFailures = 5, stableAfterMs = 10_000 } = options;
  const aggregator = new AggregatorRegistry();
  const readyAt = new Map<Worker, number>();
  let url: string | null = null;
  let announced = false;
  let stopping = false;
  let streak = 0;
  let startFailures = 0;
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => {
    finish = resolve;
  });

  const alive = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
  const fork = () => {
    const worker = cluster.fork();
    worker.on('message', (message: unknown) => {
      if (!isClusterMessage(message)) return;
      if (message.type === READY) onReady(worker, message.url);
      else void answerMetrics(worker, message.id);
    });
    worker.once('exit', (code: number | null, signal: NodeJS.Signals | null) => onExit(worker, code, signal));
  };

  const onReady = (worker: Worker, workerUrl: string) => {
    readyAt.set(worker, Date.now());
    startFailures = 0;
    url ??= workerUrl;
    logger.info({ worker: worker.id, workerPid: worker.process.pid }, 'worker ready');
    if (!announced && readyAt.size === size) {
      announced = true;
      logger.info({ url, workers: size, startupMs: Math.round(performance.now()) }, 'gateway ready');
    }
  };

  const answerMetrics = async (worker: Worker, id: number) => {
    try {
      const text = await aggregator.clusterMetrics();
      if (worker.isConnected()) worker.send({ type: METRICS, id, text });
    } catch (error) {
      if (worker.isConnected()) worker.send({ type: METRICS, id, error: (error as Error).message });
    }
  };

  const onExit = (worker: Worker, code: number | null, signal: NodeJS.Signals | null) => {
    const since = readyAt.get(worker);
    readyAt.delete(worker);
    if (stopping) {
      if (alive().length === 0) finish(exitCode);
      return;
    }
    if (since === undefined) startFailures++;
    if (since !== undefined && Date.now() - since >= stableAfterMs) streak = 0;
    streak++;
    const fields = { worker: worker.id, workerPid: worker.process.pid, code, signal };
    if (startFailures >= maxStartFailures) {
      logger.fatal({ ...fields, startFailures }, 'workers keep dying at start; giving up');
      void stop(null, 1);
      return;
    }
    const delayMs = restartDelayMs(streak);
    logger.error({ ...fields, delayMs }, 'worker died; starting a replacement');
    // Not unref'd: with every worker dead, this timer is what keeps the primary alive.
    setTimeout(() => {
      if (!stopping) fork();
    }, delayMs);
  };

  let exitCode = 0;
  const stop = (signal: NodeJS.Signals | null, code = 0) => {
    if (stopping) {
      if (signal) {
        logger.warn({ signal }, 'second signal: killing the workers without waiting');
        for (const worker of alive()) worker.process.kill('SIGKILL');
        finish(1);
      }
      return;
    }
    stopping = true;
    exitCode = code;
    if (signal) logger.info({ signal, timeoutMs: shutdownTimeoutMs }, 'shutting down: draining every worker');
    const running = alive();
    if (running.length === 0) {
      finish(exitCode);
      return;
    }
    // SIGTERM rather than a message: a worker still starting has no handler yet and simply ends.
    for (const worker of running) worker.process.kill('SIGTERM');
    setTimeout(() => {
      const left = alive();
      if (left.length === 0) return;
      logger.warn({ workers: left.length }, 'workers did not stop in time: killing them');
      for (const worker of left) worker.process.kill('SIGKILL');
      exitCode = 1;
    }, shutdownTimeoutMs + 5000).unref();
  };

  process.on('SIGTERM', (signal) => stop(signal));
  process.on('SIGINT', (signal) => stop(signal));
  logger.info({ workers: size }, 'starting workers');
  for (let i = 0; i < size; i++) fork();
  return done.then((code) => {
    logger.info({ code }, 'stopped');
    return code;
  });
}

/** Whether this process is a worker of a gateway cluster (as opposed to a single process or the primary). */
export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/** Tell the primary this worker serves at `url`. No-op outside a cluster. */
export function reportReady(url: string): void {
  if (cluster.isWorker) process.send?.({ type: READY, url });
}

/**
 * In a worker, SIGTERM (sent by the primary, or by anyone to this worker alone) drains and stops
 * it; SIGINT is ignored, since Ctrl-C in a terminal reaches the whole process group and the
 * primary turns it into the SIGTERM above. In a single process, both signals stop it.
 */
export function onShutdownSignal(shutdown: (signal: NodeJS.Signals) => void): void {
  if (cluster.isWorker) {
    process.on('SIGINT', () => {});
    process.on('SIGTERM', (signal) => shutdown(signal));
    return;
  }
  process.on('SIGTERM', (signal) => shutdown(signal));
  process.on('SIGINT', (signal) => shutdown(signal));
}

/**
 * A worker's `/metrics`: the sum over every worker, which the primary collects (prom-client's
 * cluster aggregator) when asked. Fails after `timeoutMs`, so a scrape reports an error rather
 * than hanging.
 */
export function clusterMetricsSource(own: GatewayMetrics, timeoutMs = 7000): MetricsSource {
  // Constructing one installs prom-client's worker-side listener; setRegistries says what it reports.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([own.registry]);
  let next = 0;
  const waiting = new Map<number, (message: { text?: string; error?: string }) => void>();
  process.on('message', (message: unknown) => {
    if (isClusterMessage(message) && message.type === METRICS) waiting.get(message.id)?.(message);
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the cluster primary did not answer'));
      }, timeoutMs);
      waiting.set(id, ({ text, error }) => {
        clearTimeout(timer);
        waiting.delete(id);
        if (text !== undefined) resolve(text);
        else reject(new Error(error ?? 'no metrics'));
      });
      process.send?.({ type: METRICS, id });
    });
}

/**
 * `WORKERS=n`: the gateway as a node:cluster primary and n workers sharing one port. The primary
 * serves nothing itself; it starts the workers, replaces those that die, sums their metrics for
 * whichever worker is scraped, and drains them all on SIGTERM/SIGINT.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, Gauge, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { GatewayLogger } from './create-gateway.ts';
import type { GatewayMetrics, MetricsSource } from './metrics.ts';

/** IPC message types between primary and workers. */
const READY = 'control-layer:worker-ready';
/** A worker asks the primary for the cluster's metrics, and gets them back. */
const METRICS = 'control-layer:metrics';
/** The primary asks a worker for its own metrics, and gets them back. */
const COLLECT = 'control-layer:collect';

type WorkerMetrics = MetricObjectWithValues<MetricValue<string>>[];

type ClusterMessage =
  | { type: typeof READY; url: string }
  | { type: typeof METRICS; id: number; text?: string; error?: string }
  | { type: typeof COLLECT; id: number; metrics?: WorkerMetrics };

function isClusterMessage(message: unknown): message is ClusterMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === READY || type === METRICS || type === COLLECT;
}

/**
 * How long the primary waits for the workers' metrics. A worker still starting (it has no metrics
 * yet) or just killed does not answer; the scrape goes out without it once this passes.
 */
export const COLLECT_TIMEOUT_MS = 500;

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
  let nextCollect = 0;
  const collecting = new Map<number, (worker: Worker, metrics: WorkerMetrics) => void>();
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
      else if (message.type === METRICS) void answerMetrics(worker, message.id);
      else if (message.metrics) collecting.get(message.id)?.(worker, message.metrics);
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

  /** Every live worker's metrics that arrive within COLLECT_TIMEOUT_MS, summed (or min'd, per metric). */
  const clusterMetrics = async (): Promise<string> => {
    const asked = alive().filter((w) => w.isConnected());
    const answers = new Map<Worker, WorkerMetrics>();
    const id = nextCollect++;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, COLLECT_TIMEOUT_MS);
      collecting.set(id, (worker, metrics) => {
        answers.set(worker, metrics);
        if (answers.size < asked.length) return;
        clearTimeout(timer);
        resolve();
      });
      // A worker that died since the list was made fails the send, and is simply not heard from.
      for (const worker of asked) worker.send({ type: COLLECT, id }, () => {});
    });
    collecting.delete(id);
    const registry = AggregatorRegistry.aggregate([...answers.values()]);
    scrapeGauges(registry, asked.length, answers.size);
    return registry.metrics();
  };

  const answerMetrics = async (worker: Worker, id: number) => {
    try {
      const text = await clusterMetrics();
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

/** The gauges that say how many workers a cluster scrape asked and how many answered. */
function scrapeGauges(
  registry: ReturnType<typeof AggregatorRegistry.aggregate>,
  asked: number,
  answered: number,
): void {
  const gauges = [
    ['gateway_cluster_workers_asked', 'Workers alive when this scrape asked for their metrics', asked],
    [
      'gateway_cluster_workers_answered',
      'Workers whose metrics this scrape sums (a starting worker has none)',
      answered,
    ],
  ] as const;
  for (const [name, help, value] of gauges) new Gauge({ name, help, registers: [registry] }).set(value);
}

/**
 * A worker's `/metrics`: the sum over every worker that answers the primary in time (see
 * COLLECT_TIMEOUT_MS), with `gateway_cluster_workers_answered` and `…_asked` saying how many that
 * was. Also makes this worker answer the primary's requests for its own metrics. Fails after
 * `timeoutMs`, so a scrape reports an error rather than hanging when the primary is gone.
 */
export function clusterMetricsSource(own: GatewayMetrics, timeoutMs = 5000): MetricsSource {
  process.on('message', (message: unknown) => {
    if (!isClusterMessage(message) || message.type !== COLLECT) return;
    void own.registry.getMetricsAsJSON().then(
      (metrics) => process.send?.({ type: COLLECT, id: message.id, metrics }),
      () => {},
    );
  });
  return askPrimaryForMetrics(timeoutMs);
}

let askingPrimary: MetricsSource | undefined;

/**
 * The cluster's metrics, from the primary: what a worker still starting (without metrics of its
 * own yet) answers `/metrics` with, and what every ready worker answers it with.
 */
export function askPrimaryForMetrics(timeoutMs = 5000): MetricsSource {
  // One asker per process: two would number their requests alike and take each other's answers.
  askingPrimary ??= primaryAsker(timeoutMs);
  return askingPrimary;
}

function primaryAsker(timeoutMs: number): MetricsSource {
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

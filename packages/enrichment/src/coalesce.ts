/**
 * Concurrent calls with the same key share one execution of `work`: the first starts it, the
 * others wait for its result. Nothing is kept once it settles, so a later call always runs afresh
 * (no cache, no staleness beyond the one execution in flight).
 *
 * @example
 * const explain = coalesce(
 *   (secret: string, model: string | null) => explainDenial(db, secret, model),
 *   (secret, model) => JSON.stringify([secret, model]),
 * );
 */
export function coalesce<A extends unknown[], T>(
  work: (...args: A) => Promise<T>,
  keyOf: (...args: A) => string,
): (...args: A) => Promise<T> {
  const inFlight = new Map<string, Promise<T>>();
  return (...args: A): Promise<T> => {
    const key = keyOf(...args);
    const running = inFlight.get(key);
    if (running) return running;
    const started = work(...args).finally(() => inFlight.delete(key));
    inFlight.set(key, started);
    return started;
  };
}

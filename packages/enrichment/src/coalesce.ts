/**
 * Concurrent calls with the same key share one execution of `work`: the first starts it, and
 * calls within `windowMs` of its start wait for its result. A later call starts afresh, so what a
 * caller gets was computed no more than `windowMs` before it asked (a statement's snapshot is
 * taken when it starts). Nothing is kept once an execution settles: no cache.
 *
 * @example
 * const explain = coalesce(
 *   (secret: string, model: string | null) => explainDenial(db, secret, model),
 *   (secret, model) => JSON.stringify([secret, model]),
 *   { windowMs: 100 },
 * );
 */
export function coalesce<A extends unknown[], T>(
  work: (...args: A) => Promise<T>,
  keyOf: (...args: A) => string,
  options: { windowMs: number },
): (...args: A) => Promise<T> {
  const inFlight = new Map<string, { started: number; result: Promise<T> }>();
  return (...args: A): Promise<T> => {
    const key = keyOf(...args);
    const now = performance.now();
    const running = inFlight.get(key);
    if (running && now - running.started <= options.windowMs) return running.result;
    const entry = { started: now, result: work(...args) };
    // Only this execution's own entry is removed: a newer one may have replaced it meanwhile.
    const clear = () => {
      if (inFlight.get(key) === entry) inFlight.delete(key);
    };
    entry.result.then(clear, clear);
    inFlight.set(key, entry);
    return entry.result;
  };
}

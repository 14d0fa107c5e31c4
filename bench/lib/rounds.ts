/**
 * Measure every variant once per round, in the same order each round (A, B, C, A, B, C, …), so
 * that whatever the shared machine does meanwhile falls on all of them alike. A warm-up pass over
 * every variant runs first and is thrown away.
 */
export async function interleave<V extends PropertyKey, R>(
  variants: readonly V[],
  options: { rounds: number; warmup?: (variant: V) => Promise<unknown> },
  measure: (variant: V, round: number) => Promise<R>,
): Promise<Record<V, R[]>> {
  if (options.warmup) for (const variant of variants) await options.warmup(variant);
  const results = Object.fromEntries(variants.map((v) => [v, [] as R[]])) as Record<V, R[]>;
  for (let round = 0; round < options.rounds; round++) {
    for (const variant of variants) results[variant].push(await measure(variant, round));
  }
  return results;
}

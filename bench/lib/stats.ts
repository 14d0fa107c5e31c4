/** Median of a non-empty list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Spread as (max - min) / median, a unitless measure of how noisy the rounds were. */
export function spread(values: number[]): number {
  const m = median(values);
  return m === 0 ? 0 : (Math.max(...values) - Math.min(...values)) / m;
}

/** One JSON line per figure, for machines; the tables are for people. */
export function reportLine(
  scenario: string,
  metric: string,
  value: number,
  target: string | null,
  met: boolean | null,
): void {
  console.log(JSON.stringify({ scenario, metric, value: Number(value.toFixed(4)), target, met }));
}

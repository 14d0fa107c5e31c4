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

/** The nearest-rank `p`th percentile (0–100) of a non-empty list. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? 0;
}

/**
 * Round-by-round ratios of two variants measured back to back (`a[i] / b[i]`): a slow spell of the
 * machine hits both sides of a pair alike, so their median is steadier than a ratio of medians.
 */
export function pairedRatios(a: number[], b: number[]): number[] {
  return a.map((value, i) => value / (b[i] ?? Number.NaN));
}

/** `median (spread%)` of rounds, for a table cell. */
export function medianWithSpread(values: number[], digits = 0): string {
  return `${median(values).toFixed(digits)} (${(spread(values) * 100).toFixed(1)}%)`;
}

/** The legend every table of rounds repeats. */
export const ROUNDS_LEGEND = 'median of rounds (spread: (max − min) / median)';

/** A Markdown table, for people; the JSON lines are for machines. */
export function printTable(headers: string[], rows: (string | number)[][]): void {
  console.log(`| ${headers.join(' | ')} |`);
  console.log(`|${headers.map(() => '---').join('|')}|`);
  for (const row of rows) console.log(`| ${row.join(' | ')} |`);
  console.log('');
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

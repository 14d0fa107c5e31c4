import { Decimal } from '@control-layer/db';
import { formatBalance } from '@control-layer/enrichment';
import { CliError } from './cli-error.ts';

/**
 * A credit amount as typed: digits with an optional fraction, greater than zero. No sign, no
 * exponent, no separators: the ledger's type gives the sign, and `1e3` or `1,5` are likelier typos.
 */
export function parseAmount(text: string): Decimal {
  if (!/^\d+(\.\d+)?$/.test(text)) {
    throw new CliError(`bad amount ${JSON.stringify(text)}: expected a positive decimal such as 10 or 2.50`);
  }
  const amount = new Decimal(text);
  if (amount.lte(0)) throw new CliError(`bad amount ${JSON.stringify(text)}: it must be greater than 0`);
  return amount;
}

const PER: Record<string, string> = { daily: 'day', weekly: 'week', monthly: 'month' };

/** A cap for a listing: the exact amount and its window (`0.00001/day`), `once`, or `-` when uncapped. */
export function describeCap(limit: Decimal | null, interval: string | null): string {
  if (limit === null) return '-';
  return `${formatBalance(limit)}${interval === null ? ' once' : `/${PER[interval] ?? interval}`}`;
}

import { Decimal as DecimalJs } from 'decimal.js';

/**
 * Significant digits every money computation keeps. A `numeric(38,15)` value has at most 38; a
 * difference or a sum of a few of them needs a digit or two more, a product of a price
 * (`numeric(12,8)`) and a token count fewer than 60. 80 leaves room and is still cheap.
 */
export const MONEY_PRECISION = 80;

/**
 * The `Decimal` constructor for money, exact over the ledger's whole range. decimal.js rounds
 * every operation to its constructor's precision (20 significant digits by default), and an
 * operation takes the precision of the constructor that made its left operand: so every money
 * value is made here (the schema's columns, the queries, the admin tool, the gateway), never
 * with decimal.js's default export. Its instances are decimal.js `Decimal`s (`instanceof`
 * holds both ways), so the type stays decimal.js's.
 *
 * @example
 * new Decimal('12345678901234567890123.000000000000001').minus('0.5').toFixed();
 * // '12345678901234567890122.500000000000001'
 */
export const Decimal = DecimalJs.clone({
  precision: MONEY_PRECISION,
  rounding: DecimalJs.ROUND_HALF_EVEN,
  // String(x) stays positional for any amount the ledger holds (decimal.js switches to
  // exponent notation below 1e-7 by default).
  toExpNeg: -MONEY_PRECISION,
  toExpPos: MONEY_PRECISION,
});
export type Decimal = DecimalJs;

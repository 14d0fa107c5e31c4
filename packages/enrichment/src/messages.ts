import type { Decimal } from 'decimal.js';

/*
 * User-facing messages, word for word those of dwctl's error_enrichment.rs, so that clients and
 * docs written against dwctl read the same text.
 */

// A Map, not an object literal: a purpose such as `constructor` or `__proto__` must not find
// Object.prototype's members.
const KNOWN_LABELS: ReadonlyMap<string, string> = new Map([
  ['batch', 'Batch'],
  ['realtime', 'Real-time'],
  ['playground', 'Playground'],
  ['platform', 'Platform'],
]);

/**
 * An `api_keys.purpose` as a user-facing modality label. An unknown purpose gets its first
 * character upper-cased (so a purpose added later still reads right); an empty one reads `This`.
 */
export function modalityLabel(purpose: string): string {
  const known = KNOWN_LABELS.get(purpose);
  if (known !== undefined) return known;
  // By code point, as Rust's chars() does, so a leading astral character is not split.
  const [first, ...rest] = purpose;
  if (first === undefined) return 'This';
  return first.toUpperCase() + rest.join('');
}

/** Most characters of a model name an error quotes; a longer name is cut and marked with `…`. */
export const MAX_QUOTED_MODEL_CHARS = 256;

/**
 * A model name as an error quotes it: whole up to 256 characters (code points, so a pair is never
 * split), else its first 256 and `…`. A client may send megabytes as `model`; echoing them back
 * would make every denial as large.
 */
export function quotedModel(model: string): string {
  if (model.length <= MAX_QUOTED_MODEL_CHARS) return model;
  let end = 0;
  for (let chars = 0; chars < MAX_QUOTED_MODEL_CHARS && end < model.length; chars++) {
    end += (model.codePointAt(end) ?? 0) > 0xffff ? 2 : 1;
  }
  return end >= model.length ? model : `${model.slice(0, end)}…`;
}

export function modelAccessDeniedMessage(model: string): string {
  return `You do not have access to '${quotedModel(model)}'. Please contact your administrator to request access.`;
}

export function modalityBlockedMessage(purpose: string, model: string): string {
  return `${modalityLabel(purpose)} access to '${quotedModel(model)}' is blocked by a routing rule. Please contact your administrator to request access.`;
}

export const INSUFFICIENT_CREDITS_MESSAGE = 'Account balance too low. Please add credits to continue.';

export const INVALID_API_KEY_MESSAGE = 'Invalid API key';

// dwctl says "Missing Authorization header"; a key is also read from x-api-key, so name both.
export const MISSING_API_KEY_MESSAGE = 'Missing API key: send Authorization: Bearer <key> or x-api-key';

/**
 * `expiredAt` is RFC 3339 in whole seconds. The key's name is quoted like a model (an admin may
 * have named it at any length); an unnamed key reads `This API key`. Never the secret.
 */
export function apiKeyExpiredMessage(name: string, expiredAt: string): string {
  const key = name === '' ? 'This API key' : `API key '${quotedModel(name)}'`;
  return `${key} expired at ${expiredAt}. Create a new key to continue.`;
}

/** A balance as a decimal string with at least two decimals and never a rounded digit: `-50.00`, `0.125`. */
export function formatBalance(balance: Decimal): string {
  return balance.decimalPlaces() < 2 ? balance.toFixed(2) : balance.toFixed();
}

export function nonInferenceKeyMessage(purpose: string): string {
  return `API keys with purpose '${purpose}' cannot be used for inference requests.`;
}

/**
 * Dollars in a message, to the cent (half to even, as dwctl's `round_dp(2)`): `$10.00`, `$10.50`.
 * An amount other than zero below one cent is written exactly (`$0.00001`), since rounding it
 * would print a cap of `$0.00` that the key nonetheless reached (dwctl rounds those too).
 */
export function formatDollars(amount: Decimal): string {
  if (!amount.isZero() && amount.abs().lt('0.01')) return `$${amount.toFixed()}`;
  return `$${amount.toDecimalPlaces(2, 6).toFixed(2)}`;
}

/** `resetsAt` is RFC 3339 in whole seconds; null for a one-off cap, whose message names no reset. */
export function spendCapExceededMessage(limit: Decimal, spent: Decimal, resetsAt: string | null): string {
  const resets = resetsAt === null ? '' : `; resets ${resetsAt}`;
  return `API key has reached its spending cap of ${formatDollars(limit)} (spent ${formatDollars(spent)} this period${resets}). Raise or remove the cap to resume.`;
}

export const SPEND_CAP_RESET_PENDING_MESSAGE =
  'Spending cap window has reset; the key is being reinstated. Retry shortly.';

import type { DenialFacts } from '@control-layer/db';
import { diagnoseDenial } from './diagnose.ts';
import type { DenialCode } from './error-codes.ts';

/** Whether a request to a listed model would be served, and if not, what it would be told. */
export type ModelAvailability = { status: 'available' } | { status: 'denied'; code: DenialCode; message: string };

const AVAILABLE: ModelAvailability = Object.freeze({ status: 'available' });

/**
 * A listed model's availability for the key: the verdict rules, in their order, on the facts a
 * denied request to `model` would be diagnosed on, so the code and message are the ones such a
 * request gets (`modality_blocked`, `insufficient_credits` on paid models, the cap's two codes).
 *
 * @example
 * const entries = listing.models.map((m) => ({ id: m.alias, availability: modelAvailability(m.facts, m.alias) }));
 */
export function modelAvailability(facts: DenialFacts, model: string): ModelAvailability {
  const denial = diagnoseDenial(facts, model);
  return denial === null ? AVAILABLE : { status: 'denied', code: denial.code, message: denial.message };
}

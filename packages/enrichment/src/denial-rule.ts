import type { DenialFacts } from '@control-layer/db';
import type { ErrorExtras } from './envelope.ts';
import type { DenialCode } from './error-codes.ts';

/** An explained denial: the code, dwctl's message, the extra envelope fields and headers. */
export interface Denial {
  code: DenialCode;
  message: string;
  extras: ErrorExtras;
  /** Response headers beyond the envelope's own (e.g. `retry-after`). */
  headers?: Readonly<Record<string, string>>;
}

/**
 * One check of the verdict: the facts it reads, when it holds, and what it answers. Rules run in
 * order and the first that holds wins, so a new check is one new rule placed in the list.
 */
export interface DenialRule {
  code: DenialCode;
  /** The facts the predicate and the envelope read (documentation, and checked by the tests). */
  reads: readonly (keyof DenialFacts)[];
  /** `model` is the request's `model`, or null when it named none. */
  holds(facts: DenialFacts, model: string | null): boolean;
  /** Called only when `holds` returned true. */
  denial(facts: DenialFacts, model: string | null): Denial;
}

/** The request's model, which the model rules only run with. */
export function requireModel(model: string | null): string {
  if (model === null) throw new TypeError('a model rule ran without a model');
  return model;
}

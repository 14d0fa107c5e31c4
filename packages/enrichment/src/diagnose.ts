import type { DenialFacts } from '@control-layer/db';
import type { Denial, DenialRule } from './denial-rule.ts';
import { DENIAL_RULES } from './rules/index.ts';

/**
 * The reason for a router's 403: the first rule of `rules` (dwctl's order by default) that holds
 * for these facts and the request's model (null when it named none). Null: nothing explains it.
 */
export function diagnoseDenial(
  facts: DenialFacts,
  model: string | null,
  rules: readonly DenialRule[] = DENIAL_RULES,
): Denial | null {
  for (const rule of rules) {
    if (rule.holds(facts, model)) return rule.denial(facts, model);
  }
  return null;
}

import type { DenialFacts } from '@control-layer/db';
import type { DenialRule } from '../denial-rule.ts';
import { formatBalance, spendCapExceededMessage } from '../messages.ts';

/** The scope's window spend has reached its cap, on a model the cap applies to (a paid one). */
export function capReached(facts: DenialFacts): boolean {
  const cap = facts.spendCap;
  if (cap === null) return false;
  return cap.windowSpend.gte(cap.limit) && facts.modelIsFree !== true;
}

/** 4. The key's cap scope has spent its cap in the current window: the router drops its paid models. */
export const spendCapExceeded: DenialRule = {
  code: 'spend_cap_exceeded',
  reads: ['spendCap', 'modelIsFree'],
  holds: (facts) => capReached(facts) && facts.spendCap?.windowCurrent === true,
  denial: (facts) => {
    if (!facts.spendCap) throw new TypeError('the spend cap rule ran without a cap');
    const { limit, windowSpend, resetsAt } = facts.spendCap;
    return {
      code: 'spend_cap_exceeded',
      message: spendCapExceededMessage(limit, windowSpend, resetsAt),
      extras: { spend_limit: formatBalance(limit), window_spend: formatBalance(windowSpend), resets_at: resetsAt },
    };
  },
};

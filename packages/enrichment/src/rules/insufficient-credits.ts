import type { DenialRule } from '../denial-rule.ts';
import { formatBalance, INSUFFICIENT_CREDITS_MESSAGE } from '../messages.ts';

/**
 * 3. The owner's balance is ≤ 0 (the router admits only balances above zero), unless the owner
 * is exempt (`ALLOW_NEGATIVE_BALANCE`, or the system user, which the router always admits) or the
 * model is free (the router admits any balance on a model without an active paid tariff).
 */
export const insufficientCredits: DenialRule = {
  code: 'insufficient_credits',
  reads: ['balance', 'balanceExempt', 'isSystemKey', 'modelIsFree'],
  holds: (facts) => facts.balance.lte(0) && !facts.balanceExempt && !facts.isSystemKey && facts.modelIsFree !== true,
  denial: (facts) => ({
    code: 'insufficient_credits',
    message: INSUFFICIENT_CREDITS_MESSAGE,
    extras: { balance: formatBalance(facts.balance) },
  }),
};

import type { DenialRule } from '../denial-rule.ts';
import { SPEND_CAP_RESET_PENDING_MESSAGE } from '../messages.ts';
import { capReached } from './spend-cap-exceeded.ts';

/** Seconds a client should wait: a router readmits the key within seconds of being told. */
export const SPEND_CAP_RETRY_AFTER_SECONDS = 5;

/**
 * 4′. The cap was spent, but in a window that has since ended: the router has not readmitted the
 * key yet. Retriable (429 with `retry-after`); the middleware also tells the router to reload.
 */
export const spendCapResetPending: DenialRule = {
  code: 'spend_cap_reset_pending',
  reads: ['spendCap', 'modelIsFree'],
  holds: (facts) => capReached(facts) && facts.spendCap?.windowCurrent === false,
  denial: () => ({
    code: 'spend_cap_reset_pending',
    message: SPEND_CAP_RESET_PENDING_MESSAGE,
    extras: {},
    headers: { 'retry-after': String(SPEND_CAP_RETRY_AFTER_SECONDS) },
  }),
};

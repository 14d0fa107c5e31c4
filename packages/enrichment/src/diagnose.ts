import type { DenialFacts } from '@control-layer/db';
import type { ErrorExtras } from './envelope.ts';
import type { DenialCode } from './error-codes.ts';
import {
  formatBalance,
  INSUFFICIENT_CREDITS_MESSAGE,
  modalityBlockedMessage,
  modelAccessDeniedMessage,
  quotedModel,
} from './messages.ts';

export interface Denial {
  code: DenialCode;
  message: string;
  extras: ErrorExtras;
}

/**
 * The reason for a router's 403, checked in dwctl's order, most fundamental first: no access to
 * the model, then a routing rule on the key's purpose, then the balance. The router excludes keys
 * whose balance is not above zero, so zero counts as too low. Null: nothing explains it.
 */
export function diagnoseDenial(facts: DenialFacts, model: string | null): Denial | null {
  if (model !== null && facts.hasModelAccess === false) {
    return {
      code: 'model_access_denied',
      message: modelAccessDeniedMessage(model),
      extras: { model: quotedModel(model) },
    };
  }
  if (model !== null && facts.deniedPurpose !== null) {
    return {
      code: 'modality_blocked',
      message: modalityBlockedMessage(facts.deniedPurpose, model),
      extras: { model: quotedModel(model), purpose: facts.deniedPurpose },
    };
  }
  if (facts.balance.lte(0)) {
    return {
      code: 'insufficient_credits',
      message: INSUFFICIENT_CREDITS_MESSAGE,
      extras: { balance: formatBalance(facts.balance) },
    };
  }
  return null;
}

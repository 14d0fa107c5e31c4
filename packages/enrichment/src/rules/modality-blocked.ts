import { type DenialRule, requireModel } from '../denial-rule.ts';
import { modalityBlockedMessage, quotedModel } from '../messages.ts';

/** 2. A `deny` traffic rule on the model matches the key's purpose. */
export const modalityBlocked: DenialRule = {
  code: 'modality_blocked',
  reads: ['deniedPurpose'],
  holds: (facts, model) => model !== null && facts.deniedPurpose !== null,
  denial: (facts, model) => {
    const name = requireModel(model);
    const purpose = facts.deniedPurpose ?? '';
    return {
      code: 'modality_blocked',
      message: modalityBlockedMessage(purpose, name),
      extras: { model: quotedModel(name), purpose },
    };
  },
};

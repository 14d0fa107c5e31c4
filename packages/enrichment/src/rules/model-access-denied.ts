import { type DenialRule, requireModel } from '../denial-rule.ts';
import { modelAccessDeniedMessage, quotedModel } from '../messages.ts';

/** 1. The owner reaches no live deployment of the model through their groups or Everyone. */
export const modelAccessDenied: DenialRule = {
  code: 'model_access_denied',
  reads: ['hasModelAccess'],
  holds: (facts, model) => model !== null && facts.hasModelAccess === false,
  denial: (_facts, model) => {
    const name = requireModel(model);
    return {
      code: 'model_access_denied',
      message: modelAccessDeniedMessage(name),
      extras: { model: quotedModel(name) },
    };
  },
};

import { INFERENCE_PURPOSES } from '@control-layer/db';
import type { DenialRule } from '../denial-rule.ts';
import { nonInferenceKeyMessage } from '../messages.ts';

/**
 * 0. A key whose purpose is not an inference purpose (`platform`) is never in the router's key
 * set. The system key is exempt: the router admits it (dwctl's key sync and its Flex gate do).
 */
export const nonInferenceKey: DenialRule = {
  code: 'non_inference_key',
  reads: ['purpose', 'isSystemKey'],
  holds: (facts) => !facts.isSystemKey && !INFERENCE_PURPOSES.includes(facts.purpose),
  denial: (facts) => ({
    code: 'non_inference_key',
    message: nonInferenceKeyMessage(facts.purpose),
    extras: { purpose: facts.purpose },
  }),
};

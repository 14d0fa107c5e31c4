import type { DenialRule } from '../denial-rule.ts';
import { apiKeyExpired } from './api-key-expired.ts';
import { insufficientCredits } from './insufficient-credits.ts';
import { modalityBlocked } from './modality-blocked.ts';
import { modelAccessDenied } from './model-access-denied.ts';
import { nonInferenceKey } from './non-inference-key.ts';
import { spendCapExceeded } from './spend-cap-exceeded.ts';
import { spendCapResetPending } from './spend-cap-reset-pending.ts';

/**
 * The verdict, most fundamental first: a key that has expired, then a key that cannot do
 * inference at all, then access, then the key's purpose, then the account's balance (which
 * supersedes the key's cap: if both are spent, the account is what to act on), then the cap.
 */
export const DENIAL_RULES: readonly DenialRule[] = [
  apiKeyExpired,
  nonInferenceKey,
  modelAccessDenied,
  modalityBlocked,
  insufficientCredits,
  spendCapExceeded,
  spendCapResetPending,
];

export { SPEND_CAP_RETRY_AFTER_SECONDS } from './spend-cap-reset-pending.ts';

import type { DenialRule } from '../denial-rule.ts';
import { apiKeyExpiredMessage } from '../messages.ts';

/**
 * 0. The key's `expires_at` has passed by the database clock. First of all: an expired key is
 * refused whatever else holds, and its holder is told what to do about the key before anything
 * about the account. Only a caller holding the key gets here; an unknown one is told nothing.
 */
export const apiKeyExpired: DenialRule = {
  code: 'api_key_expired',
  reads: ['expired', 'expiresAt', 'keyName'],
  holds: (facts) => facts.expired,
  denial: (facts) => {
    const expiredAt = facts.expiresAt ?? '';
    return {
      code: 'api_key_expired',
      message: apiKeyExpiredMessage(facts.keyName, expiredAt),
      extras: { expired_at: expiredAt },
    };
  },
};

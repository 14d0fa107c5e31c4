import { type Database, explainDenial } from '@control-layer/db';
import { INVALID_API_KEY_MESSAGE, modalityBlockedMessage, modelAccessDeniedMessage } from './messages.ts';

export const ACCESS_DENIAL_CODES = [
  'invalid_api_key',
  'model_access_denied',
  'modality_blocked',
  'lookup_failed',
] as const;
export type AccessDenialCode = (typeof ACCESS_DENIAL_CODES)[number];

export type AccessVerdict =
  | { ok: true }
  | {
      ok: false;
      code: AccessDenialCode;
      /** User-facing; for `lookup_failed` it names no internal detail (see `cause`). */
      message: string;
      /** The database error behind `lookup_failed`, for logs only. */
      cause?: unknown;
    };

/**
 * May this key call this model? The enrichment's verdict as a plain function, for paths that
 * bypass the router: an unknown or deleted key, no access through the owner's groups, or a deny
 * rule on the key's purpose each give a denial with the user-facing message. The balance is not
 * checked. Never throws: a database failure is a `lookup_failed` verdict.
 *
 * @example
 * const verdict = await validateApiKeyModelAccess(db, apiKey, 'gpt-4o');
 * if (!verdict.ok) ctx.throw(verdict.code === 'invalid_api_key' ? 401 : 403, verdict.message);
 */
export async function validateApiKeyModelAccess(db: Database, apiKey: string, model: string): Promise<AccessVerdict> {
  let facts: Awaited<ReturnType<typeof explainDenial>>;
  try {
    facts = await explainDenial(db, apiKey, model);
  } catch (cause) {
    return { ok: false, code: 'lookup_failed', message: 'Failed to check model access. Please try again.', cause };
  }
  if (!facts) return { ok: false, code: 'invalid_api_key', message: INVALID_API_KEY_MESSAGE };
  if (facts.hasModelAccess === false) {
    return { ok: false, code: 'model_access_denied', message: modelAccessDeniedMessage(model) };
  }
  if (facts.deniedPurpose !== null) {
    return { ok: false, code: 'modality_blocked', message: modalityBlockedMessage(facts.deniedPurpose, model) };
  }
  return { ok: true };
}

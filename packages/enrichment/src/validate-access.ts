import { type Database, explainDenial } from '@control-layer/db';
import { diagnoseDenial } from './diagnose.ts';
import { INVALID_API_KEY_MESSAGE } from './messages.ts';
import { apiKeyExpired } from './rules/api-key-expired.ts';
import { modalityBlocked } from './rules/modality-blocked.ts';
import { modelAccessDenied } from './rules/model-access-denied.ts';
import { nonInferenceKey } from './rules/non-inference-key.ts';

export const ACCESS_DENIAL_CODES = [
  'invalid_api_key',
  'api_key_expired',
  'non_inference_key',
  'model_access_denied',
  'modality_blocked',
  'lookup_failed',
] as const;
export type AccessDenialCode = (typeof ACCESS_DENIAL_CODES)[number];

/** dwctl's Flex requests run on the owner's hidden batch key, so `batch` deny rules are theirs. */
export const FLEX_DISPATCH_PURPOSE = 'batch';

export interface ValidateAccessOptions {
  /**
   * The purpose whose deny rules apply: the purpose the request will run as. Pass
   * `FLEX_DISPATCH_PURPOSE` for work dispatched on the owner's batch key, so a `realtime` rule
   * (meant to push traffic onto that path) does not block it.
   * @default the key's own purpose
   */
  rulePurpose?: string;
}

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

/** The enrichment's first four rules: expiry, the purpose gate, access, then the deny rule. */
const ACCESS_RULES = [apiKeyExpired, nonInferenceKey, modelAccessDenied, modalityBlocked];

/**
 * May this key call this model? The enrichment's verdict as a plain function, for paths that
 * bypass the router: a key that is not known (unknown, deleted, or of a deleted owner), an
 * expired key (`api_key_expired`), a key whose purpose is not for inference (the
 * system key excepted), no access through the owner's groups, or a deny rule on the purpose the
 * request runs as each give a denial with the user-facing message. Neither the balance nor a cap
 * is checked. Never throws: a database failure is a `lookup_failed` verdict.
 *
 * @example
 * const verdict = await validateApiKeyModelAccess(db, apiKey, 'gpt-4o', { rulePurpose: FLEX_DISPATCH_PURPOSE });
 * if (!verdict.ok) ctx.throw(verdict.code === 'invalid_api_key' ? 401 : 403, verdict.message);
 */
export async function validateApiKeyModelAccess(
  db: Database,
  apiKey: string,
  model: string,
  options: ValidateAccessOptions = {},
): Promise<AccessVerdict> {
  let facts: Awaited<ReturnType<typeof explainDenial>>;
  try {
    facts = await explainDenial(
      db,
      apiKey,
      model,
      options.rulePurpose === undefined ? {} : { rulePurpose: options.rulePurpose },
    );
  } catch (cause) {
    return { ok: false, code: 'lookup_failed', message: 'Failed to check model access. Please try again.', cause };
  }
  if (!facts) return { ok: false, code: 'invalid_api_key', message: INVALID_API_KEY_MESSAGE };
  const denial = diagnoseDenial(facts, model, ACCESS_RULES);
  if (!denial) return { ok: true };
  return { ok: false, code: denial.code as AccessDenialCode, message: denial.message };
}

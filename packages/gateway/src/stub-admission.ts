import { type DenialFacts, INFERENCE_PURPOSES } from '@control-layer/db';
import { type ApiKeyHeaders, requestApiKey } from '@control-layer/enrichment';

const ONWARDS_BEARER = 'Bearer ';

/**
 * The key the router reads from a request, or null (its 401). Which header counts is everyone's
 * rule (`requestApiKey`: `Authorization` when present, else `x-api-key`), so the stub, the
 * middleware and the access log agree about whose key a request carries. `Authorization` itself
 * stays as strict as onwards' `strip_prefix("Bearer ")` (case-sensitive, untrimmed): the router
 * answers `bearer <key>` with a 401, which the gateway passes through unexplained, and a stub that
 * admitted it would show a demo that the real router does not. `x-api-key` has no onwards rule to
 * mirror (onwards reads only `Authorization`; dwctl's edge accepts `x-api-key` where that is
 * absent), so it is read as `requestApiKey` reads it.
 */
export function routerApiKey(headers: ApiKeyHeaders): string | null {
  const key = requestApiKey(headers);
  const authorization = headers.authorization;
  if (key === null || authorization === undefined || authorization === '') return key;
  return authorization.startsWith(ONWARDS_BEARER) && authorization.length > ONWARDS_BEARER.length
    ? authorization.slice(ONWARDS_BEARER.length)
    : null;
}

/**
 * Whether onwards would have the key in the model's key set and let it through, as dwctl's key
 * sync builds it: only a live key (known, which `explain_denial` already requires, and not
 * expired by the database clock) is in any key set, refused exactly like an unknown one; a deny rule on the key's purpose stops any key; past that, the system key always
 * passes (whatever its purpose, groups, balance or cap); any other key needs an inference purpose
 * and access to the model; then a balance above zero unless the owner is exempt or the model is
 * free; and a capped scope whose current window is spent loses paid models only. The stub reads
 * the database on every request, so a rolled window readmits at once (a router does at its reload).
 */
export function admits(facts: DenialFacts | null): boolean {
  if (facts === null || facts.expired || facts.deniedPurpose !== null) return false;
  if (facts.isSystemKey) return true;
  if (!INFERENCE_PURPOSES.includes(facts.purpose)) return false;
  if (facts.hasModelAccess !== true) return false;
  const free = facts.modelIsFree === true;
  if (!free && !facts.balanceExempt && facts.balance.lte(0)) return false;
  if (free || facts.spendCap === null) return true;
  const { windowCurrent, windowSpend, limit } = facts.spendCap;
  return !(windowCurrent && windowSpend.gte(limit));
}

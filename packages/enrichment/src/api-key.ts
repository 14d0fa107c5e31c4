import { bearerToken } from './bearer-token.ts';

/** The request headers an API key can arrive in. */
export interface ApiKeyHeaders {
  authorization?: string | undefined;
  'x-api-key'?: string | string[] | undefined;
}

/**
 * The API key of a request: the `Authorization: Bearer` token, else `x-api-key` (what Claude Code,
 * Anthropic's curl examples and the 0.x Anthropic SDKs send). When both are present `Authorization`
 * wins, as dwctl decides. Every reader of a key (the middleware, the model listing, the stub router,
 * the access log) asks this one function, so they cannot disagree about whose key a request carries.
 */
export function requestApiKey(headers: ApiKeyHeaders): string | null {
  const authorization = headers.authorization;
  if (authorization !== undefined && authorization !== '') return bearerToken(authorization);
  const raw = headers['x-api-key'];
  // A repeated header is ambiguous: no key rather than a guess.
  if (raw === undefined || Array.isArray(raw)) return null;
  const key = raw.trim();
  return key ? key : null;
}

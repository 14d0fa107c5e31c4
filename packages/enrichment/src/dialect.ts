/** The error dialects a client can read: OpenAI's `{error:{…}}` and Anthropic's `{type:"error",…}`. */
export const DIALECTS = ['openai', 'anthropic'] as const;
export type Dialect = (typeof DIALECTS)[number];

/**
 * The dialect of a request, decided once from its path and headers: Anthropic when the path ends in
 * `/messages` (the Messages API) or the request carries `anthropic-version` (every Anthropic SDK
 * sends it, also to `/v1/models`); otherwise OpenAI.
 */
export function requestDialect(path: string, anthropicVersion: string | string[] | undefined): Dialect {
  if (anthropicVersion !== undefined) return 'anthropic';
  return path.endsWith('/messages') || path.endsWith('/messages/') ? 'anthropic' : 'openai';
}

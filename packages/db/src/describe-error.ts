/** What may be logged of a failure: a code and a message, never a statement or its parameters. */
export interface ErrorDescription {
  /** SQLSTATE (`57P01`), Node system code (`ECONNREFUSED`) or driver code, when there is one. */
  code?: string;
  message: string;
}

// 64 hex digits (a key digest) and anything shaped like an API key, wherever they appear.
const DIGEST = /\b[0-9a-f]{64}\b/gi;
const API_KEY = /\bsk-[A-Za-z0-9_-]{8,}/g;

/** Drizzle's query wrapper: its message is the SQL text followed by the parameters. */
function isQueryWrapper(error: object): error is { query: unknown; params: unknown[] } {
  return 'query' in error && 'params' in error && Array.isArray((error as { params: unknown }).params);
}

/**
 * Describe an error for a log line by its root cause: drivers and Drizzle wrap the reason
 * (ECONNREFUSED, a SQLSTATE) deep down, and Drizzle's own message carries the SQL and every
 * parameter, a key's digest included. That message is never used; the parameters are blanked
 * out of the root message too (Postgres quotes a bad value back), as are digests and keys.
 *
 * @example
 * logger.warn({ err: describeError(error) }, 'diagnosis failed');
 * // {"err":{"code":"ECONNREFUSED","message":"connect ECONNREFUSED 127.0.0.1:5432"}}
 */
export function describeError(error: unknown): ErrorDescription {
  const secrets: string[] = [];
  const seen = new Set<unknown>();
  let root: unknown = error;
  let code: string | undefined;
  for (let current: unknown = error; current !== null && typeof current === 'object' && !seen.has(current); ) {
    seen.add(current);
    if (isQueryWrapper(current)) {
      for (const param of current.params) if (typeof param === 'string' && param.length >= 3) secrets.push(param);
    } else {
      root = current;
    }
    const ownCode = (current as { code?: unknown }).code;
    if (typeof ownCode === 'string' && ownCode !== '') code = ownCode;
    // A failed connection to a name with several addresses is an AggregateError of each attempt.
    const next: unknown =
      (current as { cause?: unknown }).cause ?? (current instanceof AggregateError ? current.errors[0] : undefined);
    current = next;
  }
  let message =
    root instanceof Error
      ? root.message || (root instanceof AggregateError ? '' : root.name)
      : typeof root === 'string'
        ? root
        : 'unknown error';
  if (message === '' || (typeof root === 'object' && root !== null && isQueryWrapper(root)))
    message = code ?? 'unknown error';
  for (const secret of secrets) message = message.split(secret).join('[redacted]');
  message = message.replace(DIGEST, '[redacted]').replace(API_KEY, '[redacted]');
  return code === undefined ? { message } : { code, message };
}

/** The `at …` lines of a stack, without its first line (which repeats the message). */
export function stackFrames(error: unknown): string | undefined {
  if (!(error instanceof Error) || typeof error.stack !== 'string') return undefined;
  return error.stack
    .split('\n')
    .filter((line) => line.trimStart().startsWith('at '))
    .join('\n');
}

export type UpstreamFailureCode = 'upstream_unavailable' | 'upstream_timeout';

export interface UpstreamFailure {
  code: UpstreamFailureCode;
  /** For the client: says what happened, not where (no addresses, no internals). */
  message: string;
  /** For the operator's log. */
  logMessage: string;
  /** The driver's error code or message. */
  detail: string;
}

// undici's timeouts before any response byte: opening the connection, or waiting for headers.
const TIMEOUT_CODES: ReadonlySet<string> = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'ETIMEDOUT']);

/** The error code of an error or of its causes (undici wraps socket errors). */
function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * What to tell the client when the upstream gave no response: a timeout is a 504, anything else
 * (refused, reset, unresolvable, a broken response) a 502.
 */
export function upstreamFailure(error: unknown): UpstreamFailure {
  const code = errorCode(error);
  const detail = code ?? (error instanceof Error ? error.message : String(error));
  if (code !== undefined && TIMEOUT_CODES.has(code)) {
    return {
      code: 'upstream_timeout',
      message: 'The upstream service did not respond in time. Please try again later.',
      logMessage: 'upstream timed out',
      detail,
    };
  }
  return {
    code: 'upstream_unavailable',
    message: 'The upstream service could not be reached. Please try again later.',
    logMessage: 'upstream unreachable',
    detail,
  };
}

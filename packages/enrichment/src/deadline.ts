/** Raised when work does not finish within its time budget. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
  constructor(readonly timeoutMs: number) {
    super(`gave up after ${timeoutMs} ms`);
  }
}

/**
 * `work`, or a `DeadlineExceededError` after `timeoutMs`. The work is not cancelled; its late
 * failure is swallowed so it can never surface as an unhandled rejection.
 */
export async function withDeadline<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceededError(timeoutMs)), timeoutMs);
  });
  work.catch(() => {});
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

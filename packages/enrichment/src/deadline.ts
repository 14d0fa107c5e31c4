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
export function withDeadline<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  // One promise settled by whichever comes first (no race of two, no async frame): every
  // diagnosis pays for this. A settled promise ignores the later call.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new DeadlineExceededError(timeoutMs)), timeoutMs);
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

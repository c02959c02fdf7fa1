import type { ErrorMatcher, RetryPolicy } from './types';

export const DEFAULT_MAX_RETRIES = 3;
export const DEFAULT_RETRY_DELAY_SECONDS = 180;
export const DEFAULT_BACKOFF_MAX_SECONDS = 600;

/** Does `error` match any matcher? Classes by instanceof, strings by `code` or `name`, functions by calling. */
export function matchesAny(error: unknown, matchers: readonly ErrorMatcher[] | undefined): boolean {
  if (!matchers) return false;
  for (const m of matchers) {
    if (typeof m === 'string') {
      const e = error as { code?: unknown; name?: unknown } | null;
      if (e && (e.code === m || e.name === m)) return true;
    } else if (isClass(m)) {
      if (error instanceof m) return true;
    } else if ((m as (e: unknown) => boolean)(error)) {
      return true;
    }
  }
  return false;
}

function isClass(m: ErrorMatcher): m is abstract new (...args: never[]) => Error {
  return typeof m === 'function' && (m === Error || m.prototype instanceof Error);
}

/** Whether an error thrown by the body is retried automatically. */
export function shouldAutoRetry(policy: RetryPolicy | undefined, error: unknown): boolean {
  if (!policy?.on) return false;
  return matchesAny(error, policy.on) && !matchesAny(error, policy.notOn);
}

/**
 * Seconds until the next attempt, as Celery computes it: with backoff,
 * `min(backoffMax, base * 2 ** retries)`, jittered to `random(0…countdown)`; without, `delay`.
 */
export function retryCountdown(policy: RetryPolicy | undefined, retries: number, random: () => number = Math.random): number {
  const backoff = policy?.backoff;
  if (backoff === undefined || backoff === false) return policy?.delay ?? DEFAULT_RETRY_DELAY_SECONDS;
  const base = backoff === true ? 1 : backoff;
  const cap = policy?.backoffMax ?? DEFAULT_BACKOFF_MAX_SECONDS;
  const countdown = Math.min(cap, base * 2 ** retries);
  if (policy?.jitter === false) return countdown;
  // Celery: randrange(countdown + 1), an integer in 0…countdown.
  return Math.floor(random() * (countdown + 1));
}

/** The retry limit in force: a per-call override beats the policy; `null` = unlimited. */
export function maxRetries(policy: RetryPolicy | undefined, override: number | null | undefined): number | null {
  if (override !== undefined) return override;
  if (policy?.max !== undefined) return policy.max;
  return DEFAULT_MAX_RETRIES;
}

/**
 * Retrying what the SDK hands back as partial failures (failed batch entries, unprocessed keys).
 * The SDK already retries whole requests (throttling, 5xx, network); these loops cover what it
 * cannot see, and a whole request that still failed after the SDK's own attempts.
 */
import { CeleriacError, ErrorCodes } from '../../errors';
import type { Clock } from '../../ports';

/** Bounded exponential backoff with full jitter (delay drawn from 0…min(cap, base·2^n)). */
export interface RetryPolicy {
  /** Total attempts including the first (default 5). */
  readonly attempts: number;
  /** First backoff ceiling, ms (default 50). */
  readonly baseMs: number;
  /** Largest backoff ceiling, ms (default 2000). */
  readonly capMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 50, capMs: 2_000 };

/** The delay before retry number `attempt` (1 = the first retry). */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.floor(random() * ceiling);
}

const THROTTLE_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'LimitExceededException',
  'TransactionInProgressException',
  'SlowDown',
]);

const SERVER_NAMES = new Set([
  'InternalServerError',
  'InternalFailure',
  'InternalError',
  'InternalException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
]);

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
]);

interface SdkErrorShape {
  readonly name?: unknown;
  readonly code?: unknown;
  readonly $fault?: unknown;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

/**
 * True for failures worth retrying later: throttling, 5xx, and the network failing before any
 * HTTP answer. Client errors (validation, missing resources, conditions) are not.
 */
export function isTransient(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const err = e as SdkErrorShape;
  if (err.$retryable !== undefined && err.$retryable !== null && err.$retryable !== false) return true;
  const name = typeof err.name === 'string' ? err.name : '';
  if (THROTTLE_NAMES.has(name) || SERVER_NAMES.has(name)) return true;
  const status = err.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  if (err.$fault === 'server') return true;
  return (typeof err.code === 'string' && NETWORK_CODES.has(err.code)) || name === 'TimeoutError';
}

/** The error's SDK name (`ThrottlingException`, `QueueDoesNotExist`…), for messages and details. */
export function errorName(e: unknown): string {
  if (typeof e === 'object' && e !== null) {
    const n = (e as { name?: unknown }).name;
    if (typeof n === 'string' && n !== 'Error') return n;
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return 'Error';
}

/** Wraps an infrastructure failure: `BACKEND_UNAVAILABLE`, retryable when it was transient. */
export function backendError(what: string, e: unknown): CeleriacError {
  if (e instanceof CeleriacError) return e;
  const transient = isTransient(e);
  const msg = e instanceof Error ? e.message : String(e);
  return new CeleriacError(ErrorCodes.BACKEND_UNAVAILABLE, `${what} failed (${errorName(e)}): ${msg}`, {
    retryable: transient,
    cause: e,
    details: { aws: errorName(e) },
  });
}

/** Runs `fn` until it returns without leftovers, backing off between rounds; returns the final leftovers. */
export async function retryLeftovers<T>(
  clock: Clock,
  policy: RetryPolicy,
  initial: readonly T[],
  fn: (items: readonly T[]) => Promise<readonly T[]>,
): Promise<readonly T[]> {
  let pending = initial;
  for (let attempt = 1; ; attempt++) {
    pending = await fn(pending);
    if (pending.length === 0 || attempt >= policy.attempts) return pending;
    await clock.sleep(backoffMs(policy, attempt));
  }
}

/**
 * Idempotency keys (README, "Call once: idempotency keys"): the one place that says how a key is
 * scoped, how long it holds and what it is checked against. The producer (lib/runtime/producer.ts)
 * claims a key before publishing; the worker claims the key a queue message carries on admission
 * (lib/runtime/worker.ts). Both go through {@link claimCallKey}, one conditional write.
 */
import { createHash } from 'node:crypto';
import { CeleriacError, ErrorCodes } from '../errors';
import type { CallClaim, ResultStore } from '../ports';
import { IDEMPOTENCY_TTL_MAX_SECONDS, isIdempotencyTtl } from '../protocol/wire';

/**
 * How long a key holds when the call gives no `idempotencyTtl`: 24 hours. Long enough for the
 * retries that make duplicates (an HTTP client's, a Lambda's async retries over up to 6 hours, a
 * batch re-run the next morning); no longer than results are kept by default (86,400 s), so the
 * handle a later caller gets still reads the first call's result.
 */
export const DEFAULT_IDEMPOTENCY_TTL_SECONDS = 86_400;

/** Longest key accepted, in characters (it becomes part of a DynamoDB key of at most 2 KB). */
export const IDEMPOTENCY_KEY_MAX_LENGTH = 256;

/** What a key is scoped to: a task by name, or the kind of canvas applied. */
export type CallScope = { readonly kind: 'task'; readonly task: string } | { readonly kind: 'chain' | 'group' | 'chord' };

/**
 * The store key of an idempotency key: app, scope and key as a JSON array, so no choice of names
 * can make two scopes meet (`a:b` + `c` and `a` + `b:c` stay apart, and a task named `chain` is not
 * the chain scope).
 */
export function callKeyOf(app: string, scope: CallScope, key: string): string {
  const json = JSON.stringify(scope.kind === 'task' ? [app, 'task', scope.task, key] : [app, scope.kind, key]);
  // A DynamoDB key holds 2,048 bytes: a longer one (escaped or multi-byte names) is stored by its
  // digest, which cannot meet a plain one (those start with "[").
  return Buffer.byteLength(json) <= MAX_PLAIN_KEY_BYTES ? json : `sha256:${createHash('sha256').update(json).digest('hex')}`;
}

/** Longest store key kept readable (bytes); the rest of DynamoDB's 2,048 is the item prefix's margin. */
const MAX_PLAIN_KEY_BYTES = 1_024;

/** Throws INVALID_OPTIONS unless `key` is a usable idempotency key. */
export function checkIdempotencyKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length < 1 || key.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
    throw new CeleriacError(
      ErrorCodes.INVALID_OPTIONS,
      `idempotencyKey must be a string of 1-${IDEMPOTENCY_KEY_MAX_LENGTH} characters, got ${typeof key === 'string' ? `${key.length} characters` : typeof key}`,
    );
  }
}

/** Milliseconds a key holds: `ttlSeconds` (a positive number) or the default. */
export function idempotencyTtlMs(ttlSeconds: unknown): number {
  if (ttlSeconds === undefined) return DEFAULT_IDEMPOTENCY_TTL_SECONDS * 1000;
  if (!isIdempotencyTtl(ttlSeconds)) {
    throw new CeleriacError(
      ErrorCodes.INVALID_OPTIONS,
      `idempotencyTtl must be a positive number of seconds, at most ${IDEMPOTENCY_TTL_MAX_SECONDS} (10 years), got ${String(ttlSeconds)}`,
    );
  }
  return ttlSeconds * 1000;
}

/**
 * Claims `key` (already scoped by {@link callKeyOf}) for the call `id`, holding for `ttlMs` from
 * `now`. Undefined: this call is the first, go on. Otherwise the claim of the first call.
 */
export function claimCallKey(
  store: ResultStore,
  key: string,
  call: { readonly id: string; readonly seed?: string },
  now: number,
  ttlMs: number,
): Promise<CallClaim | undefined> {
  return store.claimCall(key, { ...call, expiresAt: now + ttlMs }, now);
}

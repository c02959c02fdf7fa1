/**
 * Errors that cross process boundaries. Every celeriac error carries a stable `code` (recognised
 * by code, never by class, once it has been serialized into a result record or an event), a
 * `retryable` flag, and an optional `cause`.
 */

/** Every error code celeriac itself raises. Codes are part of the wire contract: never rename one. */
export const ErrorCodes = {
  // protocol / bad input
  MALFORMED_JSON: 'MALFORMED_JSON',
  BAD_ENVELOPE: 'BAD_ENVELOPE',
  UNSUPPORTED_VERSION: 'UNSUPPORTED_VERSION',
  UNSAFE_KEY: 'UNSAFE_KEY',
  TOO_DEEP: 'TOO_DEEP',
  NOT_JSON_SERIALIZABLE: 'NOT_JSON_SERIALIZABLE',
  BAD_NUMBER: 'BAD_NUMBER',
  INVALID_UNICODE: 'INVALID_UNICODE',
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  RESULT_TOO_LARGE: 'RESULT_TOO_LARGE',
  /** A payload reference points outside the app's payload store prefix. */
  PAYLOAD_FOREIGN: 'PAYLOAD_FOREIGN',
  /** A payload reference points to nothing (deleted, expired, or never written). */
  PAYLOAD_NOT_FOUND: 'PAYLOAD_NOT_FOUND',
  /** A stored payload's size or digest is not the one its reference names. */
  PAYLOAD_CORRUPT: 'PAYLOAD_CORRUPT',
  /** A call's large arguments together are more than its worker may load before the body runs. */
  PAYLOAD_OVER_BUDGET: 'PAYLOAD_OVER_BUDGET',
  TASK_NOT_REGISTERED: 'TASK_NOT_REGISTERED',
  INVALID_ARGS: 'INVALID_ARGS',
  FOREIGN_MESSAGE_UNROUTABLE: 'FOREIGN_MESSAGE_UNROUTABLE',
  // canvas
  INVALID_CANVAS: 'INVALID_CANVAS',
  WORKFLOW_TOO_LARGE: 'WORKFLOW_TOO_LARGE',
  WORKFLOW_NOT_FOUND: 'WORKFLOW_NOT_FOUND',
  /** A message's plan, frames and headers do not agree (forged or corrupted): refused before it runs. */
  BAD_WORKFLOW: 'BAD_WORKFLOW',
  CHORD_ERROR: 'CHORD_ERROR',
  CHORD_TIMEOUT: 'CHORD_TIMEOUT',
  CHAIN_ABORTED: 'CHAIN_ABORTED',
  // execution
  TASK_ERROR: 'TASK_ERROR',
  MAX_RETRIES_EXCEEDED: 'MAX_RETRIES_EXCEEDED',
  TIME_LIMIT_EXCEEDED: 'TIME_LIMIT_EXCEEDED',
  SOFT_TIME_LIMIT_EXCEEDED: 'SOFT_TIME_LIMIT_EXCEEDED',
  TASK_REVOKED: 'TASK_REVOKED',
  TASK_REJECTED: 'TASK_REJECTED',
  // client
  TIMEOUT: 'TIMEOUT',
  NOT_CONFIGURED: 'NOT_CONFIGURED',
  INVALID_OPTIONS: 'INVALID_OPTIONS',
  SYNC_SUBTASK: 'SYNC_SUBTASK',
  /** An idempotency key is held by a call of another shape (other options or canvas). */
  IDEMPOTENCY_CONFLICT: 'IDEMPOTENCY_CONFLICT',
  // infrastructure
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  LEASE_HELD: 'LEASE_HELD',
  PUBLISH_FAILED: 'PUBLISH_FAILED',
  CONFIG_INVALID: 'CONFIG_INVALID',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes] | (string & {});

export interface CeleriacErrorOptions {
  readonly retryable?: boolean;
  readonly cause?: unknown;
  readonly details?: Record<string, unknown>;
}

/**
 * The base error. `code` is what programs match on; `message` is for people.
 *
 * @example
 * ```ts
 * try { await r.get({ timeoutMs: 1000 }); }
 * catch (e) { if (isCeleriacError(e, 'TIMEOUT')) retryLater(); }
 * ```
 */
export class CeleriacError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: CeleriacErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CeleriacError';
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

/** True when `e` is a CeleriacError (or anything carrying the same `code`), optionally of one code. */
export function isCeleriacError(e: unknown, code?: ErrorCode): e is CeleriacError {
  if (typeof e !== 'object' || e === null) return false;
  const c = (e as { code?: unknown }).code;
  if (typeof c !== 'string') return false;
  return code === undefined ? e instanceof CeleriacError || 'retryable' in e : c === code;
}

/** Raised by `get()` for a task stored as FAILURE: the rebuilt remote error. */
export class TaskFailedError extends CeleriacError {
  /** The remote error's class name, e.g. `TypeError` or `TransientError`. */
  readonly type: string;
  readonly remoteStack: string | undefined;
  constructor(type: string, message: string, code: ErrorCode, opts: CeleriacErrorOptions & { stack?: string } = {}) {
    super(code, message, opts);
    this.name = type;
    this.type = type;
    this.remoteStack = opts.stack;
  }
}

/** A chord's body could not run because a header part failed (Celery's `ChordError`). */
export class ChordError extends CeleriacError {
  constructor(message: string, options: CeleriacErrorOptions = {}) {
    super(ErrorCodes.CHORD_ERROR, message, options);
    this.name = 'ChordError';
  }
}

/** A task's retries are exhausted and no error was given to `retry()`. */
export class MaxRetriesExceededError extends CeleriacError {
  constructor(message: string, options: CeleriacErrorOptions = {}) {
    super(ErrorCodes.MAX_RETRIES_EXCEEDED, message, options);
    this.name = 'MaxRetriesExceededError';
  }
}

/** The task was revoked or expired before it ran. */
export class TaskRevokedError extends CeleriacError {
  constructor(message: string, options: CeleriacErrorOptions = {}) {
    super(ErrorCodes.TASK_REVOKED, message, options);
    this.name = 'TaskRevokedError';
  }
}

/** The task ran past its hard time limit. */
export class TimeLimitExceededError extends CeleriacError {
  constructor(message: string, options: CeleriacErrorOptions = {}) {
    super(ErrorCodes.TIME_LIMIT_EXCEEDED, message, options);
    this.name = 'TimeLimitExceeded';
  }
}

/** Reason given to the task's AbortSignal when its soft time limit passes. */
export class SoftTimeLimitExceededError extends CeleriacError {
  constructor(message: string, options: CeleriacErrorOptions = {}) {
    super(ErrorCodes.SOFT_TIME_LIMIT_EXCEEDED, message, options);
    this.name = 'SoftTimeLimitExceeded';
  }
}

/** `get()` waited longer than `timeoutMs`; the task is unaffected. */
export class TimeoutError extends CeleriacError {
  constructor(message: string, options: CeleriacErrorOptions = {}) {
    super(ErrorCodes.TIMEOUT, message, { retryable: true, ...options });
    this.name = 'TimeoutError';
  }
}

// ── control flow, thrown from inside a task ────────────────────────────────────────────────

/** Options of `ctx.retry()`. */
export interface RetryRequestOptions {
  /** Seconds before the next attempt. Default: backoff policy or the task's `defaultRetryDelay`. */
  readonly countdown?: number;
  /** Absolute time of the next attempt. */
  readonly eta?: Date;
  /** Stored (and raised to `get()`) if this was the last allowed attempt. */
  readonly error?: unknown;
  /** Overrides the task's `retry.max` for this call. `null` retries forever. */
  readonly maxRetries?: number | null;
  /** Replacement arguments for the next attempt. */
  readonly args?: readonly unknown[];
}

/** Thrown by `ctx.retry()`: the worker republishes the task with the same id (Celery's `Retry`). */
export class Retry extends Error {
  readonly options: RetryRequestOptions;
  constructor(options: RetryRequestOptions = {}) {
    super(options.error instanceof Error ? `Retry: ${options.error.message}` : 'Retry requested');
    this.name = 'Retry';
    this.options = options;
  }
}

/** Thrown from a task: acknowledge, store nothing (Celery's `Ignore`). */
export class Ignore extends Error {
  constructor(message = 'ignored') {
    super(message);
    this.name = 'Ignore';
  }
}

/** Thrown from a task: refuse the message. `requeue: true` lets SQS redeliver it (Celery's `Reject`). */
export class Reject extends Error {
  readonly requeue: boolean;
  constructor(reason = 'rejected', options: { requeue?: boolean } = {}) {
    super(reason);
    this.name = 'Reject';
    this.requeue = options.requeue ?? false;
  }
}

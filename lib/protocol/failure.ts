import { CeleriacError, ChordError, type ErrorCode, ErrorCodes, TaskFailedError, TaskRevokedError } from '../errors';
import type { Json } from './json';

/**
 * An error as stored in a result record and carried by events. Plain JSON; rebuilt on the client
 * as a {@link TaskFailedError} whose `name` is the original class name and whose `code` is kept.
 */
export interface SerializedError {
  readonly type: string;
  readonly message: string;
  readonly code: string;
  readonly retryable: boolean;
  readonly stack?: string;
  readonly details?: { readonly [k: string]: Json };
  readonly cause?: SerializedError;
}

const MAX_STACK = 8_000;
const MAX_MESSAGE = 4_000;

/** Turns anything thrown into a SerializedError. Never throws. */
export function serializeError(e: unknown, depth = 0): SerializedError {
  if (e instanceof Error) {
    const code =
      typeof (e as { code?: unknown }).code === 'string' ? String((e as unknown as { code: string }).code) : ErrorCodes.TASK_ERROR;
    const retryable = (e as { retryable?: unknown }).retryable === true;
    const out: {
      type: string;
      message: string;
      code: string;
      retryable: boolean;
      stack?: string;
      details?: { [k: string]: Json };
      cause?: SerializedError;
    } = {
      type: e.name || 'Error',
      message: truncate(e.message, MAX_MESSAGE),
      code,
      retryable,
    };
    if (e.stack) out.stack = truncate(e.stack, MAX_STACK);
    if (e instanceof CeleriacError && e.details) {
      try {
        out.details = JSON.parse(JSON.stringify(e.details)) as { [k: string]: Json };
      } catch {
        // details that cannot be serialized are dropped: the message already says what happened
      }
    }
    if (e.cause !== undefined && depth < 4) out.cause = serializeError(e.cause, depth + 1);
    return out;
  }
  let message: string;
  try {
    message = typeof e === 'string' ? e : (JSON.stringify(e) ?? String(e));
  } catch {
    message = String(e);
  }
  return { type: 'NonErrorThrown', message: truncate(message, MAX_MESSAGE), code: ErrorCodes.TASK_ERROR, retryable: false };
}

/** Rebuilds a SerializedError into a throwable that keeps `code`, `retryable` and the class name. */
export function deserializeError(s: SerializedError): CeleriacError {
  const opts = {
    retryable: s.retryable,
    ...(s.cause ? { cause: deserializeError(s.cause) } : {}),
    ...(s.details ? { details: s.details as Record<string, unknown> } : {}),
  };
  let err: CeleriacError;
  if (s.type === 'ChordError') err = new ChordError(s.message, opts);
  else if (s.type === 'TaskRevokedError') err = new TaskRevokedError(s.message, opts);
  else err = new TaskFailedError(s.type, s.message, s.code as ErrorCode, { ...opts, ...(s.stack ? { stack: s.stack } : {}) });
  // The stored code wins: a ChordError may be a CHORD_TIMEOUT, a revocation an expiry.
  (err as { code: ErrorCode }).code = s.code as ErrorCode;
  if (s.stack) err.stack = s.stack;
  return err;
}

/** Celery's `repr(exc)`, used in ChordError messages: `TypeError('boom')`. */
export function reprError(s: SerializedError): string {
  return `${s.type}(${JSON.stringify(s.message)})`;
}

/**
 * The traceback stored beside an error (a record's `traceback`), cut as its `stack` is: a message
 * quoting a large input is repeated in the stack, and must not make the record too large to store.
 */
export function tracebackOf(e: unknown): string | undefined {
  return e instanceof Error && e.stack ? truncate(e.stack, MAX_STACK) : undefined;
}

/** How much of its message an error keeps when the rest of it does not fit its record. */
const SHRUNK_MESSAGE = 1_000;

/**
 * `e` with only what always fits a record: its type, code, retryability and the start of its
 * message. For an error whose details, causes or stack made its record too large to store: the
 * call still ends in its one stored FAILURE, saying what was dropped.
 */
export function shrinkError(e: SerializedError): SerializedError {
  return {
    type: e.type,
    code: e.code,
    retryable: e.retryable,
    message: `${truncate(e.message, SHRUNK_MESSAGE)} (its details, causes and stack did not fit the result record and were dropped)`,
  };
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…[truncated ${s.length - n} chars]` : s;
}

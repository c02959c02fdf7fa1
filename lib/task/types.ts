import type { AnySignature } from '../canvas/signature';
import type { RetryRequestOptions } from '../errors';
import type { RequestInfo } from '../signals';
import type { ConcurrencyLimit, RateLimit } from './flow';

/** Something that says whether an error should be retried: a class, an error code, or a predicate. */
export type ErrorMatcher = (abstract new (...args: never[]) => Error) | string | ((error: unknown) => boolean);

/**
 * Automatic retry policy (Celery's `autoretry_for`, `max_retries`, `retry_backoff`, `retry_jitter`).
 * Backoff countdown = min(backoffMax, base · 2^retries); jitter replaces it by a random 0…countdown.
 */
export interface RetryPolicy {
  /** Maximum retries (executions = max + 1). Default 3; `null` retries forever. */
  readonly max?: number | null;
  /** Errors that trigger an automatic retry. Without `on`, only `ctx.retry()` retries. */
  readonly on?: readonly ErrorMatcher[];
  /** Errors never retried automatically, even when they match `on`. */
  readonly notOn?: readonly ErrorMatcher[];
  /**
   * `true` = base 1 s; a number = base seconds. Off: the delay is `delay`. Automatic retries only
   * (`on`), as Celery's `retry_backoff`: `ctx.retry()` without a countdown waits `delay`.
   */
  readonly backoff?: boolean | number;
  /** Cap of the backoff countdown, seconds. Default 600. */
  readonly backoffMax?: number;
  /** Randomise the backoff countdown (default true, as Celery). */
  readonly jitter?: boolean;
  /** Seconds between retries without backoff, and of `ctx.retry()` without a countdown (Celery's `default_retry_delay`). Default 180. */
  readonly delay?: number;
}

/** A Standard Schema v1 (valibot, zod, arktype…) validating a task's argument tuple. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (
      value: unknown,
    ) =>
      | { readonly value: Output; readonly issues?: undefined }
      | { readonly issues: readonly { readonly message: string; readonly path?: readonly unknown[] }[] }
      | Promise<
          | { readonly value: Output; readonly issues?: undefined }
          | { readonly issues: readonly { readonly message: string; readonly path?: readonly unknown[] }[] }
        >;
    readonly types?: { readonly input: Input; readonly output: Output };
  };
}

/** What a task body can reach about its own call. Available as `currentTask()` and passed to hooks. */
export interface TaskContext extends RequestInfo {
  /** Aborted at the soft time limit (reason: SoftTimeLimitExceeded) and when the hard limit is hit. */
  readonly signal: AbortSignal;
  /** Epoch ms by which the task must finish (hard limit or the Lambda deadline, whichever is first). */
  readonly deadline: number;
  /** Ask for another attempt. Throws the Retry control-flow error: use `throw ctx.retry()` for clarity. */
  retry(options?: RetryRequestOptions): never;
  /**
   * Replace this task with a signature, chain, group or chord (Celery's `Task.replace`). Throws the
   * Replace control-flow error: use `throw ctx.replace(sig)` for clarity; nothing after it runs.
   * The replacement keeps this task's id (its last task, a chord's body, or for a group an added
   * `celeriac.accumulate` step returning the list), so `get()` on this id, and a chain or chord
   * holding it, yields the replacement's final value. It inherits this task's links, errbacks, its
   * place in a group or chord header and the rest of its chain. This task stores no outcome of its
   * own (its state is `REPLACED` until the replacement finishes), publishes no lifecycle event,
   * and `taskPostrun` says IGNORED. Outside a worker (`task.run()`) it throws TASK_ERROR.
   */
  replace(sig: AnySignature): never;
  /** Store a custom state (e.g. PROGRESS) with meta, visible to `state()` / `info()`. */
  updateState(state: string, meta?: unknown): Promise<void>;
  /** True when the body runs outside a worker (`task.run()` / `sig.call()`). */
  readonly calledDirectly: boolean;
  /**
   * The value `x` points to when it is a large payload's reference (a `lazyPayloads` task's
   * argument, or a member of one read so), read from the payload store; any other value as it is.
   * One level at a time: a list stored by reference comes back with its large members still
   * references, to be read one by one.
   * @throws CeleriacError PAYLOAD_FOREIGN, PAYLOAD_NOT_FOUND or PAYLOAD_CORRUPT (a bad reference);
   *   BACKEND_UNAVAILABLE, retryable (the store did not answer). Either is the body's error, as
   *   any call it makes: `retry.on` decides whether it is retried.
   */
  readPayload<T = unknown>(x: unknown): Promise<T>;
}

/** State passed to `afterReturn`. */
export type FinalState = 'SUCCESS' | 'FAILURE';

/** Options of `app.task(name, fn, options)`. */
export interface TaskOptions<A extends readonly unknown[] = readonly unknown[], R = unknown> {
  /** Logical queue (default: the app's default queue, `default`). */
  readonly queue?: string;
  readonly retry?: RetryPolicy;
  /** Hard time limit, seconds: FAILURE with TIME_LIMIT_EXCEEDED. */
  readonly timeLimit?: number;
  /** Soft time limit, seconds: aborts `ctx.signal`. */
  readonly softTimeLimit?: number;
  /** Store nothing on success (`get()` returns undefined). */
  readonly ignoreResult?: boolean;
  /** Store STARTED when the body starts (Celery's `track_started`). */
  readonly trackStarted?: boolean;
  /** Store name, args, kwargs, queue, retries in the record (Celery's `result_extended`). */
  readonly resultExtended?: boolean;
  /** Publish lifecycle events for this task (default: the app's setting). */
  readonly events?: boolean;
  /** Validate arguments at the worker (and at publish) with a Standard Schema over the args tuple. */
  readonly schema?: StandardSchemaV1<A>;
  /**
   * How this task is called as an errback: `inline` = called in the failing task's worker as
   * `fn(request, error, traceback, ...args)`; `task` = published with the failed id as first arg.
   * Default, as Celery: inline when the function declares more than one parameter (those with
   * defaults count, a rest parameter counts as several).
   */
  readonly errbackStyle?: 'inline' | 'task';
  /** Default `expires` (seconds) for calls of this task. */
  readonly expires?: number;
  /**
   * Celery's `rate_limit`, enforced across every worker: starts of this task are spaced by at
   * least 1/rate. A call over the limit waits (briefly in its worker, else back on its queue with
   * a delay); it is not a retry and is not counted against `retry.max`.
   */
  readonly rateLimit?: RateLimit;
  /**
   * At most this many running at once (per key, when `key` is given), across every worker. A
   * call over the limit waits on its queue (a delayed re-send, not a retry); a crashed holder's
   * slot frees itself when its invocation's time is up.
   */
  readonly concurrency?: number | ConcurrencyLimit<A>;
  /**
   * The tenant of a call made without one (README, "Fairness"): a function of the call's
   * arguments, e.g. `(order) => order.customerId`. A key given on the call, or inherited from the
   * message that caused this one (the previous chain step, the calling task), wins over it.
   */
  readonly fairnessKey?: (...args: A) => string;
  /**
   * Leave the arguments stored by reference (README, "Large payloads") as references: the body
   * gets `{ $payload }` where the value is large and reads each when it needs it with
   * `currentTask().readPayload(x)`, one level at a time. For a body that cannot hold every value at
   * once, as a chord body gathering many large member results. Its hooks and signals then see
   * the references too, as does its request when it is an inline errback. Not with `schema`,
   * which checks values.
   * Default false: every reader sees the values.
   */
  readonly lazyPayloads?: boolean;
  /** Called before the body, after `taskPrerun`. */
  readonly beforeStart?: (ctx: TaskContext) => void | Promise<void>;
  /** After SUCCESS is stored and continuations are published, before `taskSuccess`. */
  readonly onSuccess?: (result: Awaited<R>, ctx: TaskContext) => void | Promise<void>;
  /** After FAILURE is stored, the chain tail marked and errbacks fired; before `taskFailure`. */
  readonly onFailure?: (error: unknown, ctx: TaskContext) => void | Promise<void>;
  /** After RETRY is stored (the retry was already published); before `taskRetry`. */
  readonly onRetry?: (error: unknown, ctx: TaskContext) => void | Promise<void>;
  /** After onSuccess/onFailure and their signal, before `taskPostrun`; not for retries. */
  readonly afterReturn?: (state: FinalState, resultOrError: unknown, ctx: TaskContext) => void | Promise<void>;
}

/** Call options live beside the canvas they configure (see canvas/signature); re-exported here. */
export type { CallOptions } from '../canvas/signature';

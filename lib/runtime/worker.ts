/**
 * The worker path for one message: decode → admit its workflow → dedupe/resume → expiry → hooks →
 * run → {@link settle} (the guard write, continuations, the event, the done mark) → hooks. Pure
 * over ports: the Lambda handler in lib/worker.ts and the local pollers both call
 * {@link processMessage}.
 */

import { createHash } from 'node:crypto';
import { DEFAULT_MAX_NODES } from '../canvas/compile';
import type { AnySignature } from '../canvas/signature';
import {
  CeleriacError,
  ErrorCodes,
  Ignore,
  MaxRetriesExceededError,
  Reject,
  Retry,
  type RetryRequestOptions,
  SoftTimeLimitExceededError,
  TaskRevokedError,
  TimeLimitExceededError,
} from '../errors';
import type { Backend, Clock, Lease, ReadOptions, ResultRecord, WriteResult } from '../ports';
import { decodeContinuation, decodeEnvelope, decodePlan, type Envelope, encodeContinuation, encodePlan } from '../protocol/envelope';
import { deserializeError, type SerializedError, serializeError, shrinkError, tracebackOf } from '../protocol/failure';
import { replacedKey, safeId } from '../protocol/ids';
import { type Json, type JsonObject, toJson } from '../protocol/json';
import { EVENT_RESULT_BYTES, jsonOver, resultTooLarge } from '../protocol/limits';
import { isPayloadRefusal, ReadBudget, readPointer } from '../protocol/payload';
import { entryTasks, type Frame, isChainFrame, type Plan, planNode, type TaskNode, type WorkflowRef } from '../protocol/plan';
import { isReady, States } from '../results/states';
import type { PostrunPayload, RequestInfo } from '../signals';
import { type DetailType, DetailTypes, eventSource, isoTime, type TaskEventDetail } from '../signals/events';
import { checkArity, declaresSeveral } from '../task/arity';
import { calledChildren, runWithContext } from '../task/context';
import { Replace } from '../task/replace';
import { DEFAULT_RETRY_DELAY_SECONDS, maxRetries, retryCountdown, shouldAutoRetry } from '../task/retry';
import type { TaskContext } from '../task/types';
import { activeTraceHeaders, inProcessSpan, type ProcessedMessage, recordOutcome } from '../telemetry/tracing';
import { admitFlow } from './admit';
import type { RuntimeApp, TaskDef } from './app-port';
import {
  CHORD_DEADLINE_TASK,
  chordDeadline,
  continueFailure,
  continueRevoked,
  continueSuccess,
  delayFor,
  type EngineEnv,
  type FailedTask,
  type Flow,
  fireCallbacks,
  fireErrbacks,
  ignoredResultKey,
  joinClaimKey,
  joinOnly,
  LeaseHeldError,
  Outbox,
  shardSizeFor,
  startNode,
} from './engine';
import { taskFairnessKey } from './fairness';
import { callKeyOf, claimCallKey, idempotencyTtlMs } from './idempotency';
import { deriveId } from './ids';
import { offloadError, offloadResult, PutKeys, resolveCall } from './payloads';
import { validateEntries } from './producer';
import { publish } from './publish';
import { compileReplacement, nestingOf } from './replace';
import { isThrottled, throttle } from './throttle';

/** One received message, transport-neutral. */
export interface IncomingMessage {
  readonly body: string;
  /** Transport message id (SQS messageId): the id of foreign calls that bring none. */
  readonly messageId: string;
  /** 1 on first delivery. */
  readonly receiveCount: number;
  /** Logical queue it came from. */
  readonly queue: string | undefined;
  /** Epoch ms the transport accepted it (SQS `SentTimestamp`), when known: the start of its queue wait. */
  readonly sentAt?: number;
  /** SQS's `AWSTraceHeader` system attribute (X-Ray active tracing on the sender), when present. */
  readonly awsTraceHeader?: string;
}

/** `ack` = done with it (delete); `retry` = let the transport redeliver it (batch item failure). */
export type Disposition = 'ack' | 'retry';

/** One invocation (one batch): the same object for each of its records. */
export interface InvocationInfo {
  /** Epoch ms when the invocation is killed (Lambda deadline); Infinity when unbounded. */
  readonly deadline: number;
}

/** Hooks for fault-injection tests: throwing from one simulates a crash at that point. */
export interface FaultHooks {
  afterDecode?(env: Envelope): void;
  afterRun?(env: Envelope): void;
  afterStore?(env: Envelope): void;
  afterPublish?(env: Envelope): void;
  /** After every record of a batch was processed, before the batch response is returned. */
  beforeResponse?(failures: readonly string[]): void;
}

const HARD_MARGIN_MS = 1_000;
const SOFT_MARGIN_MS = 3_000;
const ETA_SKEW_MS = 1_000;
const DEFAULT_LEASE_MS = 60_000;
/** A record still unfinished this close to the invocation's deadline is returned for redelivery. */
const RECORD_MARGIN_MS = 500;
/** Default bound on a store call whose result other messages wait for (a plan read). */
const DEFAULT_CALL_TIMEOUT_MS = 10_000;

/** Tunables of a {@link WorkerRuntime}. */
export interface WorkerRuntimeOptions {
  /**
   * Longest a plan read may take before it is abandoned (and the message retried). Bounds a read
   * that never settles (a hung connection), which every message of that workflow would wait on.
   * Default 10 s.
   */
  readonly callTimeoutMs?: number;
  /**
   * Most bytes of large payloads one call's arguments may load before its body runs (the sum of
   * the sizes their references name); a call over it is its stored FAILURE, PAYLOAD_OVER_BUDGET.
   * Default unbounded; `createWorker` sets a quarter of the function's memory on Lambda.
   */
  readonly maxPayloadReadBytes?: number;
}
/**
 * The `task` a refused message is stored and announced under: not the task it claims, whose
 * static links and error links must not act on a message that never was a valid call of it.
 */
export const REFUSED_TASK = '(refused)';

/** Per-backend state of a worker: the engine environment, plan cache. */
export class WorkerRuntime {
  readonly app: RuntimeApp;
  readonly backend: Backend;
  readonly engine: EngineEnv;
  readonly faults: FaultHooks;
  /** Unique per worker instance: lease owners must never collide across concurrent invocations. */
  readonly instance: string;
  readonly callTimeoutMs: number;
  /** See {@link WorkerRuntimeOptions.maxPayloadReadBytes}. */
  readonly maxPayloadReadBytes: number;
  /** The `source` of this app's lifecycle events. */
  readonly eventSource: string;
  #seq = 0;
  /** Plans are immutable: a warm worker reads each one once. Only reads in flight (bounded) or settled well are kept. */
  readonly #plans = new Map<string, Promise<Plan>>();
  /** The loaded ones, for a lookup without a promise (every member of a chord asks). */
  readonly #loaded = new Map<string, Plan>();

  constructor(app: RuntimeApp, backend: Backend, faults: FaultHooks = {}, options: WorkerRuntimeOptions = {}) {
    this.app = app;
    this.backend = backend;
    this.faults = faults;
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.maxPayloadReadBytes = options.maxPayloadReadBytes ?? Number.POSITIVE_INFINITY;
    this.instance = backend.ids.uuid();
    this.eventSource = eventSource(app.name);
    this.engine = {
      store: backend.store,
      clock: backend.clock,
      queueOf: (task, opts) => app.queueOf(task, opts),
      chordDeadlineSeconds: app.settings.chordDeadlineSeconds,
      isInlineErrback: (node) => {
        const def = app.getTask(node.name);
        return def !== undefined && (def.options.errbackStyle ?? (declaresSeveral(def.fn) ? 'inline' : 'task')) === 'inline';
      },
      runInlineErrback: (node, failed) => this.#inlineErrback(node, failed),
      defaultExpires: (task) => app.getTask(task)?.options.expires,
      defaultFairnessKey: (task, args) => {
        try {
          return taskFairnessKey(app, task, args);
        } catch (e) {
          // The call is already decided (the previous step succeeded): it is sent without a key
          // (SQS then counts it as a tenant of its own) rather than not at all.
          app.logger.warn('fairnessKey function failed; the call is sent without a fairness key', {
            task,
            error: e instanceof Error ? e.message : String(e),
          });
          return undefined;
        }
      },
    };
  }

  /** A fresh lease for one delivery of `msg`, held until the invocation's deadline. */
  leaseFor(msg: IncomingMessage, now: number, inv: InvocationInfo): Lease {
    return {
      owner: `${this.instance}:${msg.messageId}:${msg.receiveCount}:${++this.#seq}`,
      until: Number.isFinite(inv.deadline) ? Math.max(inv.deadline, now + 1_000) : now + DEFAULT_LEASE_MS,
    };
  }

  flowOf(env: Envelope): Flow | undefined | Promise<Flow | undefined> {
    const wf = env.workflow;
    if (!wf) return undefined;
    if ('plan' in wf) return flowOn(wf.plan, wf, env);
    const loaded = this.#loaded.get(wf.ref);
    if (loaded) return flowOn(loaded, wf, env);
    let plan = this.#plans.get(wf.ref);
    if (!plan) {
      // One load per plan even when a whole batch asks at once.
      if (this.#plans.size > 1_000) {
        this.#plans.clear();
        this.#loaded.clear();
      }
      const loading = this.#loadPlan(wf.ref);
      plan = loading;
      this.#plans.set(wf.ref, loading);
      // A failed or abandoned read is forgotten at once: the next message reads again.
      loading.catch(() => {
        if (this.#plans.get(wf.ref) === loading) this.#plans.delete(wf.ref);
      });
    }
    return plan.then((p) => flowOn(p, wf, env));
  }

  async #loadPlan(ref: string): Promise<Plan> {
    const raw = await bounded(this.backend.store.getPlan(ref), this.callTimeoutMs, `reading workflow plan ${ref}`);
    if (!raw) {
      // Plans are stored before any message naming them is sent, and read strongly consistent:
      // a missing one expired, was deleted or never existed. No redelivery brings it back.
      throw new CeleriacError(ErrorCodes.WORKFLOW_NOT_FOUND, `workflow plan ${ref} is not in the store (expired, deleted or never stored)`);
    }
    const plan = decodePlan(raw);
    this.#loaded.set(ref, plan);
    return plan;
  }

  async #inlineErrback(node: TaskNode, failed: FailedTask): Promise<void> {
    const def = this.app.getTask(node.name);
    if (!def) return;
    // A `lazyPayloads` errback reads the failed call's large arguments itself, if at all.
    const call = def.options.lazyPayloads ? failed : await this.#errbackCall(failed);
    const request = {
      id: failed.id,
      task: failed.task,
      args: call.args,
      kwargs: call.kwargs,
      retries: failed.retries,
      rootId: failed.rootId,
      parentId: failed.parentId,
      groupId: failed.groupId,
    };
    try {
      await def.fn(request, deserializeError(failed.error), failed.traceback, ...node.args);
    } catch (e) {
      // Celery (main) logs and ignores errors raised inside an inline errback.
      this.app.logger.error('inline errback failed', { errback: node.name, failedTask: failed.id, error: serializeError(e) });
    }
  }

  /**
   * The failed call's arguments as its body saw them: references read back (README, "Large
   * payloads"). One whose object is gone or not the app's is passed as the reference, with a
   * warning: the errback still hears of the failure. A read that fails otherwise is thrown before
   * the errback runs, so the redelivery that retries the outcome calls it then.
   */
  async #errbackCall(failed: FailedTask): Promise<Call> {
    try {
      return await resolveCall(this.backend.payloads, failed, new ReadBudget(this.maxPayloadReadBytes));
    } catch (e) {
      if (!isPayloadRefusal(e)) throw e;
      this.app.logger.warn("an errback gets the failed call's arguments as references: a payload could not be read", {
        failedTask: failed.id,
        error: serializeError(e),
      });
      return failed;
    }
  }
}

/**
 * `p`, or a retryable BACKEND_UNAVAILABLE once `ms` have passed (real time: a hung socket does
 * not follow the app clock). The abandoned promise keeps running; nothing waits on it.
 */
function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new CeleriacError(ErrorCodes.BACKEND_UNAVAILABLE, `${what} did not finish within ${Math.round(ms)} ms`, { retryable: true }),
        ),
      Math.max(0, ms),
    );
    timer.unref?.();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** Processes one message. Never throws: infrastructure errors become `retry`. */
export async function processMessage(rt: WorkerRuntime, msg: IncomingMessage, inv: InvocationInfo): Promise<Disposition> {
  try {
    const work = handle(rt, msg, inv);
    if (!Number.isFinite(inv.deadline)) return await work;
    // The whole record is bounded by the invocation: one hung call must not keep the batch's
    // answer from reaching SQS. Whatever the hung attempt holds (its lease) expires with the
    // invocation, and the redelivery takes it over.
    return await bounded(work, inv.deadline - RECORD_MARGIN_MS - rt.backend.clock.now(), `message ${msg.messageId}`);
  } catch (e) {
    if (e instanceof LeaseHeldError) {
      rt.app.logger.debug('another delivery holds this continuation; retrying later', { messageId: msg.messageId, until: e.holder.until });
      return 'retry';
    }
    rt.app.logger.error('message processing failed; it will be redelivered', {
      messageId: msg.messageId,
      receiveCount: msg.receiveCount,
      error: serializeError(e),
    });
    return 'retry';
  }
}

async function handle(rt: WorkerRuntime, msg: IncomingMessage, inv: InvocationInfo): Promise<Disposition> {
  const { app } = rt;
  const owner = msg.queue !== undefined ? app.queueOwner(msg.queue) : undefined;
  const decoded = decodeEnvelope(msg.body, {
    messageId: msg.messageId,
    queue: msg.queue,
    queueOwner: owner,
    maxDepth: app.settings.maxJsonDepth,
  });
  if (!decoded.ok) return rejectMessage(rt, msg, inv, decoded.id, decoded.task, decoded.error);
  const env = decoded.envelope;
  rt.faults.afterDecode?.(env);
  return inProcessSpan(
    () => processedMessage(env, msg),
    () => handleCall(rt, msg, inv, env),
  );
}

/** What the process span of `env` says about it (built only when spans are recorded). */
function processedMessage(env: Envelope, msg: IncomingMessage): ProcessedMessage {
  const h = env.headers;
  return {
    id: env.id,
    task: env.task,
    rootId: h.rootId,
    retries: h.retries,
    queue: msg.queue,
    messageId: msg.messageId,
    trace: {
      ...(h.traceparent !== undefined ? { traceparent: h.traceparent } : {}),
      ...(h.tracestate !== undefined ? { tracestate: h.tracestate } : {}),
    },
    ...(msg.awsTraceHeader !== undefined ? { awsTraceHeader: msg.awsTraceHeader } : {}),
  };
}

/** Everything after decoding, inside the message's process span. */
async function handleCall(rt: WorkerRuntime, msg: IncomingMessage, inv: InvocationInfo, env: Envelope): Promise<Disposition> {
  const { app, backend } = rt;
  const now = backend.clock.now();

  // A chord deadline check for a chord that already fired is dropped, not hopped for a day.
  if (env.task === CHORD_DEADLINE_TASK && (await joinFired(rt, env))) return 'ack';
  // A delay longer than SQS allows arrives early: send it on for the rest (a hop), do nothing else.
  if (env.headers.eta !== undefined) {
    const eta = Date.parse(env.headers.eta);
    if (eta > now + ETA_SKEW_MS) {
      await publish(app, backend, [{ envelope: env, queue: msg.queue ?? app.queueOf(env.task), delaySeconds: delayFor(eta, now) }]);
      return 'ack';
    }
  }
  const lease = rt.leaseFor(msg, now, inv);
  const admitted = await admit(rt, env);
  // A workflow that is a lie is refused like a malformed body: stored once under the transport's
  // id (never under the id it claims, which may be another workflow's), its body never run.
  if (!admitted.ok) return rejectMessage(rt, msg, inv, safeId(msg.messageId), env.task, admitted.error);
  let request = requestOf(env);
  const { flow } = admitted;
  if (env.task === CHORD_DEADLINE_TASK) return handleChordDeadline(rt, env, flow, lease);

  // Arguments stored by reference are read once (README, "Large payloads"): here when a
  // `taskReceived` receiver is to see them, else once the call is known to run (below).
  const resolving = once(() => resolveCall(backend.payloads, env, new ReadBudget(rt.maxPayloadReadBytes)));
  const def = app.getTask(env.task);
  if (app.signals.taskReceived.hasReceivers && !def?.options.lazyPayloads) {
    request = await withCall(request, env, resolving).catch((e: unknown) => {
      // A reference that cannot be read is the call's stored FAILURE below; the signal sees it as sent.
      if (isPayloadRefusal(e)) return request;
      throw e;
    });
  }
  if (app.signals.taskReceived.hasReceivers) await app.signals.taskReceived.send({ sender: env.task, request });
  const queueWaitMs = msg.sentAt !== undefined ? Math.max(0, now - msg.sentAt) : undefined;
  let call: Call | undefined;
  const attempt = (ctx?: TaskContext): Attempt => ({ env, request, ctx, def, lease, started: now, flow, queueWaitMs, call });

  // A first delivery reads the guard eventually consistently (half the read's price): a copy that
  // misses an outcome stored within the last second runs like a racing copy, and the conditional
  // outcome write still lets only one store and continue. A redelivery (the first delivery died,
  // failed or was cut) reads strongly, so it finds what that delivery left to finish.
  const existing = await readGuard(rt, attempt(), { consistent: msg.receiveCount > 1 });
  if (existing) {
    if (isReady(existing.state)) {
      if (existing.cont !== 'pending') return 'ack'; // duplicate of finished work
      if (replayable(rt, attempt(), existing)) return replay(rt, attempt(), existing);
      if (leaseLive(rt, existing)) return 'retry'; // another delivery is finishing it
      return resume(rt, attempt(), existing);
    }
    if ((existing.retries ?? 0) > env.headers.retries) return 'ack'; // a stale attempt; a newer one was published
  }

  if (env.headers.expires !== undefined && Date.parse(env.headers.expires) <= now) {
    const error = new TaskRevokedError(`task ${env.task}[${env.id}] expired at ${env.headers.expires} before it ran`);
    await revoke(rt, attempt(), { kind: 'revoked', error: serializeError(error), reason: 'expired' });
    return 'ack';
  }
  if (env.headers.idempotencyKey !== undefined && !(await admitKey(rt, attempt(), now))) return 'ack';

  if (!def) {
    const err = new CeleriacError(
      ErrorCodes.TASK_NOT_REGISTERED,
      `task "${env.task}" is not registered in app "${app.name}" (is the worker bundle up to date?)`,
    );
    await settle(rt, attempt(), failureOf(err), 0);
    // After the FAILURE is stored, as Celery's task_unknown (a receiver reads it stored).
    if (app.signals.taskUnknown.hasReceivers) {
      await app.signals.taskUnknown.send({ sender: env.task, message: msg.body, exc: err, name: env.task, id: env.id });
    }
    return 'ack';
  }
  // A reference that is missing or not the app's is this call's stored FAILURE. A `lazyPayloads`
  // task reads its own, one at a time (`readPayload`): they reach it as sent.
  try {
    call = def.options.lazyPayloads ? env : await resolving();
  } catch (e) {
    if (!isPayloadRefusal(e)) throw e;
    await settle(rt, attempt(), failureOf(e), 0);
    return 'ack';
  }
  if (call !== env) request = await withCall(request, env, resolving);
  if (!isThrottled(def)) return execute(rt, attempt(), def, inv);
  // A rate or concurrency limit: the call waits its turn (see lib/runtime/throttle.ts) before it runs.
  const args = callArgs(call);
  const gate = await throttle(backend, app.logger, app.name, def, env, args, inv.deadline);
  if (gate.kind === 'refused') {
    await settle(rt, attempt(), failureOf(gate.error), 0);
    return 'ack';
  }
  if (gate.kind === 'wait') {
    // The same message, later: not a retry (retries and the receive count stay as they are).
    app.logger.debug(`${gate.why}: the call waits on its queue`, { task: env.task, id: env.id, delaySeconds: gate.delaySeconds });
    await publish(app, backend, [{ envelope: env, queue: msg.queue ?? app.queueOf(env.task), delaySeconds: gate.delaySeconds }]);
    return 'ack';
  }
  try {
    return await execute(rt, attempt(), def, inv);
  } finally {
    await gate.release();
  }
}

/**
 * Admits a message that carries an idempotency key (README, "Call once: idempotency keys"): it
 * claims the key for the message's id (one conditional write). A redelivery or retry of the same id
 * finds its own claim and runs on. A message whose key another id holds is stored REVOKED
 * (`revokedBy: duplicate`, the first id in the error's `details.duplicateOf`) and never runs.
 */
async function admitKey(rt: WorkerRuntime, a: Attempt, now: number): Promise<boolean> {
  const key = a.env.headers.idempotencyKey as string;
  const scoped = callKeyOf(rt.app.name, { kind: 'task', task: a.env.task }, key);
  const first = await claimCallKey(rt.backend.store, scoped, { id: a.env.id }, now, idempotencyTtlMs(a.env.headers.idempotencyTtl));
  if (first === undefined || first.id === a.env.id) return true;
  const error = new TaskRevokedError(
    `task ${a.env.task}[${a.env.id}] was not run: it duplicates ${first.id}, which holds idempotency key ${JSON.stringify(key)}`,
    { details: { duplicateOf: first.id, idempotencyKey: key } },
  );
  await revoke(rt, a, { kind: 'revoked', error: serializeError(error), reason: 'duplicate' });
  return false;
}

/** A message's workflow, admitted, or the reason it is refused. */
type Admission = { readonly ok: true; readonly flow: Flow | undefined } | { readonly ok: false; readonly error: CeleriacError };

/**
 * Admits a message's workflow before anything of it runs (the body, a join, a hook): resolves the
 * plan it names (inline, cached, or read by reference). The one place where a message's workflow
 * is checked as a whole; a refusal is settled once as a FAILURE with the refusal's code.
 * Infrastructure errors (a read that failed or timed out) are thrown: the message is retried.
 */
async function admit(rt: WorkerRuntime, env: Envelope): Promise<Admission> {
  let flow: Flow | undefined;
  // admitFlow (lib/runtime/admit.ts) resolves the plan through the bounded, uncached-on-failure
  // read of the runtime and validates plan, frames and headers against each other.
  const checked = admitFlow(env, (e) => {
    const pending = rt.flowOf(e);
    if (pending instanceof Promise) return pending.then((f) => (flow = f));
    flow = pending;
    return pending;
  });
  const refusal = checked instanceof Promise ? await checked : checked;
  return refusal === undefined ? { ok: true, flow } : { ok: false, error: refusal };
}

/**
 * The record guarding this attempt's outcome, as stored: the task's own, or (a result nobody
 * keeps) its guard record — whichever is ready, so a failure stored under the task's id counts too.
 */
async function readGuard(rt: WorkerRuntime, a: Attempt, read: ReadOptions): Promise<ResultRecord | undefined> {
  const own = await ownGuard(rt, a, read);
  if (own === undefined || isReady(own.state)) return own;
  // A task that replaced itself stores no outcome under its id (it reads REPLACED, then whatever
  // its replacement, which took the id, writes): its guard is the replace record of this nesting.
  return (await rt.backend.store.get(replacedKey(a.env.id, nestingOf(a.env) + 1), read)) ?? own;
}

async function ownGuard(rt: WorkerRuntime, a: Attempt, read: ReadOptions): Promise<ResultRecord | undefined> {
  const id = a.env.id;
  if (!ignoresSuccess(rt, a)) return rt.backend.store.get(id, read);
  const [own, guard] = await rt.backend.store.getMany([id, ignoredResultKey(id)], read);
  return own && isReady(own.state) ? own : (guard ?? own);
}

/** A call's arguments as its body sees them (references resolved). */
interface Call {
  readonly args: readonly Json[];
  readonly kwargs?: JsonObject | undefined;
}

/** `request` with the call's arguments as the body sees them (the same object when none was a reference). */
async function withCall(request: RequestInfo, env: Envelope, resolving: () => Promise<Call>): Promise<RequestInfo> {
  const call = await resolving();
  return call.args === env.args && call.kwargs === env.kwargs ? request : { ...request, args: call.args, kwargs: call.kwargs };
}

/** `f`'s promise, made on the first call and returned on every later one. */
function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}

/** The arguments the body is called with: the args, then the kwargs object when there is one. */
function callArgs(call: Call): readonly unknown[] {
  return call.kwargs && Object.keys(call.kwargs).length > 0 ? [...call.args, call.kwargs] : call.args;
}

/** The workflow `env` runs in: its messages inherit `env`'s root and fairness key. */
function flowOn(plan: Plan, workflow: WorkflowRef, env: Envelope): Flow {
  return { plan, workflow, rootId: env.headers.rootId, fairnessKey: env.headers.fairnessKey };
}

function requestOf(env: Envelope): RequestInfo {
  const h = env.headers;
  return {
    id: env.id,
    task: env.task,
    args: env.args,
    kwargs: env.kwargs,
    retries: h.retries,
    rootId: h.rootId,
    parentId: h.parentId,
    groupId: h.groupId,
    groupIndex: h.groupIndex,
    eta: h.eta,
    expires: h.expires,
    queue: h.queue,
    headers: h.custom ?? {},
    fairnessKey: h.fairnessKey,
  };
}

// ── execution ──────────────────────────────────────────────────────────────────────────────

type RunOutcome = { readonly kind: 'success'; readonly value: unknown } | { readonly kind: 'error'; readonly error: unknown };

/** Runs the task body of `base` (a registered task, admitted) and settles what it ended in. */
async function execute(rt: WorkerRuntime, base: Attempt, def: TaskDef, inv: InvocationInfo): Promise<Disposition> {
  const { env, request } = base;
  const { app, backend } = rt;
  const { signals } = app;
  const started = backend.clock.now();
  const h = env.headers;
  const limits = limitsOf(started, h.timeLimit?.[0] ?? def.options.timeLimit, h.timeLimit?.[1] ?? def.options.softTimeLimit, inv);
  const { hardAt } = limits;
  if (limits.hardIsDeadline && (hardAt <= started || deadlinesReached.has(inv))) {
    // No time left in this invocation to even start: a later one runs it (not a failure of the task).
    // "Left" is what the deadline timer says as well as the clock: a timer may fire a few ms before
    // the clock reaches it, and a body started in that gap would only be cut (its effects run twice).
    app.logger.warn('no time left in the invocation to start the task; returned for redelivery', { task: env.task, id: env.id });
    return 'retry';
  }
  const controller = new AbortController();
  const args = callArgs(base.call ?? env);

  const ctx: TaskContext = {
    ...request,
    args,
    signal: controller.signal,
    deadline: hardAt,
    calledDirectly: false,
    readPayload: async <T>(x: unknown) => (await readPointer(backend.payloads, x)) as T,
    retry(options?: RetryRequestOptions): never {
      throw new Retry(options);
    },
    replace(sig: AnySignature): never {
      throw new Replace(sig);
    },
    async updateState(state: string, meta?: unknown) {
      await backend.store.writeProgress({
        id: env.id,
        state,
        meta: toJson(meta, 'meta'),
        retries: h.retries,
        task: env.task,
        rootId: h.rootId,
        parentId: h.parentId,
      });
    },
  };
  const attempt: Attempt = { ...base, ctx, started };

  if (signals.taskPrerun.hasReceivers) {
    await signals.taskPrerun.send({ sender: env.task, taskId: env.id, task: env.task, args, kwargs: request.kwargs });
  }
  if (def.options.trackStarted) {
    await backend.store.writeProgress({
      id: env.id,
      state: States.STARTED,
      retries: h.retries,
      task: env.task,
      rootId: h.rootId,
      parentId: h.parentId,
      startedAt: started,
    });
  }

  let outcome: RunOutcome;
  try {
    if (def.options.beforeStart) await runWithContext(ctx, () => def.options.beforeStart?.(ctx));
    await validateArgs(def, args);
    const value = await runWithLimits(() => runWithContext(ctx, () => def.fn(...args)), controller, limits, inv, env, backend.clock);
    outcome = { kind: 'success', value };
  } catch (e) {
    outcome = { kind: 'error', error: e };
  }
  rt.faults.afterRun?.(env);
  const duration = backend.clock.now() - started;

  if (outcome.kind === 'success') {
    let value: Json;
    const puts = new PutKeys();
    try {
      // A result nobody keeps (ignored, nothing continues from it) is stored nowhere: not
      // offloaded, not held to a record's size. Its event carries it inline, or truncated when
      // large, as an event does without a payload store.
      value = ignoresSuccess(rt, attempt)
        ? toJson(outcome.value, `result of ${env.task}`)
        : await storedResult(rt, attempt, outcome.value, puts);
    } catch (e) {
      if (e instanceof CeleriacError && e.retryable) throw e; // the payload store is unreachable: retry the message
      await fail(rt, attempt, e, duration);
      return 'ack';
    }
    // A racing delivery stored its own outcome first: what this one put is nobody's.
    if (!(await succeed(rt, attempt, value, outcome.value, duration))) await puts.discard(backend.payloads);
    return 'ack';
  }

  const error = outcome.error;
  if (isDeadlineCut(error)) {
    // Cut by this invocation's own deadline, not by the task's limits: the next delivery gets a
    // fresh invocation. Nothing was settled, so nothing is lost or doubled.
    app.logger.warn('task cut by the invocation deadline; returned for redelivery', { task: env.task, id: env.id, durationMs: duration });
    return 'retry';
  }
  if (error instanceof Replace) {
    await replaceTask(rt, attempt, error.canvas, duration);
    return 'ack';
  }
  if (error instanceof Ignore) {
    await postrun(rt, attempt, undefined, 'IGNORED', duration);
    return 'ack';
  }
  if (error instanceof Reject) {
    if (error.requeue) {
      await postrun(rt, attempt, undefined, 'REJECTED', duration);
      return 'retry';
    }
    const rejected = new CeleriacError(ErrorCodes.TASK_REJECTED, `task rejected the message: ${error.message}`, { cause: error });
    await fail(rt, attempt, rejected, duration, true);
    return 'ack';
  }
  if (error instanceof Retry || shouldAutoRetry(def.options.retry, error)) {
    const req: RetryRequestOptions = error instanceof Retry ? error.options : { error };
    const limit = maxRetries(def.options.retry, req.maxRetries);
    if (limit !== null && h.retries >= limit) {
      const final = req.error ?? new MaxRetriesExceededError(`task ${env.task}[${env.id}] exceeded its maximum of ${limit} retries`);
      await fail(rt, attempt, final, duration);
      return 'ack';
    }
    await retry(rt, attempt, ctx, def, req, error, duration, !(error instanceof Retry));
    return 'ack';
  }
  await fail(rt, attempt, error, duration);
  return 'ack';
}

async function validateArgs(def: TaskDef, args: readonly unknown[]): Promise<void> {
  const schema = def.options.schema;
  if (schema) {
    const r = await schema['~standard'].validate(args);
    if (r.issues) {
      const detail = r.issues
        .slice(0, 3)
        .map(
          (i) =>
            `${i.path?.map((p) => (typeof p === 'object' && p !== null && 'key' in p ? String((p as { key: unknown }).key) : String(p))).join('.') || '$'}: ${i.message}`,
        )
        .join('; ');
      throw new CeleriacError(ErrorCodes.INVALID_ARGS, `arguments of ${def.name} are invalid: ${detail}`);
    }
    return;
  }
  checkArity(def.name, def.fn, args.length);
}

/** When a run's soft and hard limits fall (epoch ms, app clock), and which of them the invocation's deadline set. */
interface Limits {
  readonly started: number;
  readonly softAt: number;
  readonly hardAt: number;
  /** The soft limit is the invocation's deadline (minus a margin), not the task's own. */
  readonly softIsDeadline: boolean;
  /** The hard limit is the invocation's deadline (minus a margin), not the task's own. */
  readonly hardIsDeadline: boolean;
}

function limitsOf(started: number, hardS: number | null | undefined, softS: number | null | undefined, inv: InvocationInfo): Limits {
  const ownHard = hardS != null ? started + hardS * 1000 : Number.POSITIVE_INFINITY;
  const ownSoft = softS != null ? started + softS * 1000 : Number.POSITIVE_INFINITY;
  const deadlineHard = inv.deadline - HARD_MARGIN_MS;
  const deadlineSoft = inv.deadline - SOFT_MARGIN_MS;
  return {
    started,
    hardAt: Math.min(ownHard, deadlineHard),
    softAt: Math.min(ownSoft, deadlineSoft),
    hardIsDeadline: deadlineHard < ownHard,
    softIsDeadline: deadlineSoft < ownSoft,
  };
}

/**
 * The abort reasons this worker raised because the invocation ran out of time (not the task's own
 * limits). A task that rethrows one (or an error caused by one) was cut, not failed.
 */
const deadlineCuts = new WeakSet<object>();

/** The invocations whose deadline timer has fired: no task starts in them any more. */
const deadlinesReached = new WeakSet<InvocationInfo>();

function isDeadlineCut(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  return deadlineCuts.has(e) || (e instanceof Error && typeof e.cause === 'object' && e.cause !== null && deadlineCuts.has(e.cause));
}

/**
 * Runs a body under its limits. The timers are set from the app clock (`clock.now()`), the clock
 * the limits were computed on: local mode's clock runs ahead of the wall clock after `tick()`.
 */
async function runWithLimits(
  run: () => unknown,
  controller: AbortController,
  limits: Limits,
  inv: InvocationInfo,
  env: Envelope,
  clock: Clock,
): Promise<unknown> {
  const { started, softAt, hardAt } = limits;
  if (!Number.isFinite(softAt) && !Number.isFinite(hardAt)) return await run();
  let softTimer: ReturnType<typeof setTimeout> | undefined;
  let hardTimer: ReturnType<typeof setTimeout> | undefined;
  const cut = <E extends Error>(e: E, byDeadline: boolean): E => {
    if (byDeadline) deadlineCuts.add(e);
    return e;
  };
  try {
    if (Number.isFinite(softAt)) {
      softTimer = setTimeout(
        () =>
          controller.abort(
            cut(
              new SoftTimeLimitExceededError(
                `soft time limit (${Math.round((softAt - started) / 1000)} s) exceeded by ${env.task}[${env.id}]`,
              ),
              limits.softIsDeadline,
            ),
          ),
        Math.max(0, softAt - clock.now()),
      );
    }
    const hard = Number.isFinite(hardAt)
      ? new Promise<never>((_, reject) => {
          hardTimer = setTimeout(
            () => {
              const err = cut(
                new TimeLimitExceededError(
                  `hard time limit (${Math.round((hardAt - started) / 1000)} s) exceeded by ${env.task}[${env.id}]`,
                ),
                limits.hardIsDeadline,
              );
              if (limits.hardIsDeadline) deadlinesReached.add(inv);
              if (!controller.signal.aborted) controller.abort(err);
              reject(err);
            },
            Math.max(0, hardAt - clock.now()),
          );
        })
      : undefined;
    const p = Promise.resolve().then(run);
    return await (hard ? Promise.race([p, hard]) : p);
  } finally {
    if (softTimer) clearTimeout(softTimer);
    if (hardTimer) clearTimeout(hardTimer);
  }
}

/**
 * A body's return value as it is stored and travels: JSON, by reference when over the payload
 * threshold (and the backend has a payload store), else refused over `maxResultBytes`.
 */
async function storedResult(rt: WorkerRuntime, a: Attempt, value: unknown, puts: PutKeys): Promise<Json> {
  const { env } = a;
  const json = toJson(value, `result of ${env.task}`);
  const { backend, app } = rt;
  const { maxResultBytes, payloadThreshold } = app.settings;
  const stored = backend.payloads === undefined ? json : await offloadResult(backend, app.settings, env.id, deliveryToken(a), json, puts);
  // What stays inline is at most the threshold: measured again only when the threshold allows more than a record holds.
  if (backend.payloads !== undefined && payloadThreshold <= maxResultBytes) return stored;
  const over = jsonOver(stored, maxResultBytes);
  if (over !== undefined) throw resultTooLarge(env.id, over.bytes, maxResultBytes, `result of ${env.task}`);
  return stored;
}

/** A key part unique to this delivery: a racing duplicate never overwrites what the winner's record points to. */
function deliveryToken(a: Attempt): string {
  return createHash('sha256').update(a.lease.owner).digest('base64url').slice(0, 12);
}

// ── settling an outcome ────────────────────────────────────────────────────────────────────

/** One delivery's attempt at a task: what it settles an outcome for. */
interface Attempt {
  readonly env: Envelope;
  readonly request: RequestInfo;
  /** The running task's context; absent when the body never ran (expired, unknown, refused). */
  readonly ctx: TaskContext | undefined;
  readonly def: TaskDef | undefined;
  readonly lease: Lease;
  /** Epoch ms (app clock) the attempt started. */
  readonly started: number;
  /** The admitted workflow, when the message belongs to one. */
  readonly flow: Flow | undefined;
  /** How long the message waited on its queue before this attempt began (ms), when the transport says. */
  readonly queueWaitMs: number | undefined;
  /** The call's arguments with references resolved, once read (absent: the body never runs, or none were by reference). */
  readonly call?: Call | undefined;
}

/** What an attempt ended in, for good (a retry is not an outcome: nothing is settled). */
type Outcome =
  | { readonly kind: 'success'; readonly value: Json }
  | { readonly kind: 'failure'; readonly error: SerializedError; readonly traceback: string | undefined }
  | { readonly kind: 'revoked'; readonly error: SerializedError; readonly reason: NonNullable<ResultRecord['revokedBy']> }
  /**
   * The task replaced itself (`ctx.replace`): its continuation is to start node `start` of the
   * stored plan `ref` (its workflow with the replacement in its place) with frames `k`. `plan` is
   * that plan when this delivery compiled it (a resuming one reads it by `ref`).
   */
  | {
      readonly kind: 'replaced';
      readonly ref: string;
      readonly start: number;
      readonly continuation: readonly Frame[];
      readonly plan?: Plan;
    };

type Revoked = Extract<Outcome, { kind: 'revoked' }>;
type Replaced = Extract<Outcome, { kind: 'replaced' }>;

function failureOf(error: unknown): Outcome {
  return { kind: 'failure', error: serializeError(error), traceback: tracebackOf(error) };
}

/** The outcome a stored ready record holds (for a delivery that finishes another's work). */
function outcomeOf(rec: ResultRecord, a: Attempt): Outcome {
  if (rec.id !== a.env.id && rec.id === replacedKey(a.env.id, nestingOf(a.env) + 1)) {
    // Our own guard record (a reserved key no message can name), written by replacedRecordOf.
    const r = rec.result as unknown as { ref: string; start: number; k: unknown };
    return { kind: 'replaced', ref: r.ref, start: r.start, continuation: decodeContinuation(r.k) };
  }
  if (rec.state === States.SUCCESS) return { kind: 'success', value: rec.result ?? null };
  if (rec.state === States.REVOKED) {
    return {
      kind: 'revoked',
      error: rec.error ?? serializeError(new TaskRevokedError(`task ${rec.id} was revoked`)),
      reason: rec.revokedBy ?? 'client',
    };
  }
  return { kind: 'failure', error: rec.error ?? serializeError(new Error('failed')), traceback: rec.traceback };
}

/** What follows an outcome's guard write, decided before it. */
interface Route {
  /** Anything to publish or count: a chain step, a join, links or errbacks. */
  readonly continues: boolean;
  /**
   * The only continuation is a join (a chord member without links): idempotent to redo, so it
   * needs no done mark and is replayed by a redelivery (see {@link replay}).
   */
  readonly replayable: boolean;
  /** A lifecycle event is published. */
  readonly events: boolean;
}

function routeOf(rt: WorkerRuntime, a: Attempt, outcome: Outcome): Route {
  // A replaced task's one continuation is its replacement; it publishes no event (Celery's
  // `replace` raises Ignore: no task-succeeded for it), the replacement's last task does.
  if (outcome.kind === 'replaced') return { continues: true, replayable: false, events: false };
  const node = nodeOf(a.flow, a.env);
  const k = a.env.continuation;
  const own = outcome.kind === 'success' ? node?.link?.length : outcome.kind === 'failure' ? node?.linkError?.length : 0;
  const continues = (k?.length ?? 0) > 0 || (own ?? 0) > 0;
  // A revoked record is always finished by a done mark: resume() is what completes it.
  const replayable = continues && outcome.kind !== 'revoked' && (own ?? 0) === 0 && joinOnly(k);
  return { continues, replayable, events: eventsOn(rt, a.def) };
}

/*
 * The ordering rule, written once. Time runs left to right; ✗ is where a worker may die.
 *
 *   most outcomes:  guard write ─✗─ continuations ─✗─ event ─✗─ done mark
 *   chord member:   guard write ─✗─ event ─✗─ join add (+ body, claim-guarded)
 *
 * - The guard write ("if not already ready") comes first: of racing deliveries exactly one wins,
 *   and only it goes on. It writes `cont: pending` under its lease while anything is left to do.
 * - The done mark comes last: until it lands, a redelivery that finds the lease expired takes it
 *   over and finishes what is missing (resume); a live lease makes the redelivery wait (retry).
 * - A chord member (a join is its only continuation) skips the done mark to keep a join at one
 *   write per member: its join add is a set (a no-op the second time) and the body fires through
 *   a create-once claim, so a redelivery may redo it (replay). Its event goes BEFORE the add, so
 *   that being counted proves the event went out: a redelivery finding the member uncounted
 *   publishes it — but only once it holds the lease (the first delivery may be mid-publish).
 */

/**
 * Writes a record holding `error` (`whole`: with its traceback). One too large for its record
 * (details, causes) is written again with only what always fits ({@link shrinkError}): still the
 * call's one record, rather than a redelivery that runs its body again and again. Returns the
 * write's result and the error it stored.
 */
async function writeFitting<T>(
  rt: WorkerRuntime,
  a: Attempt,
  error: SerializedError,
  write: (error: SerializedError, whole: boolean) => Promise<T>,
): Promise<{ readonly written: T; readonly error: SerializedError }> {
  try {
    return { written: await write(error, true), error };
  } catch (e) {
    if (!(e instanceof CeleriacError && e.code === ErrorCodes.RESULT_TOO_LARGE)) throw e;
    rt.app.logger.warn('an error did not fit its result record; it is stored without its details, causes and traceback', {
      task: a.env.task,
      id: a.env.id,
      error: e.message,
    });
    const shrunk = shrinkError(error);
    return { written: await write(shrunk, false), error: shrunk };
  }
}

/**
 * Settles an outcome: the guard write, then (if this delivery won it) the rest in the order above.
 * False when another delivery had already stored an outcome (that one finishes it).
 */
async function settle(rt: WorkerRuntime, a: Attempt, given: Outcome, durationMs: number): Promise<boolean> {
  let outcome = given;
  const route = routeOf(rt, a, outcome);
  const pending = route.continues || route.events;
  // `pending` while anything is left to publish, the lifecycle event included: a redelivery
  // after a crash publishes it again. The lease also identifies our own write (see ours()).
  // (The record is each attempt's own fresh object: completed in place rather than copied.)
  const store = async (o: Outcome): Promise<{ record: ResultRecord; w: WriteResult }> => {
    const record = o.kind === 'success' && ignoresResult(a, () => route) ? ignoredRecordOf(rt, a) : recordOf(rt, a, o, durationMs);
    const w = await rt.backend.store.writeIfNotReady(
      Object.assign(record, { cont: pending ? 'pending' : 'done', lease: a.lease } as const),
    );
    return { record, w };
  };
  let stored: { record: ResultRecord; w: WriteResult };
  if (outcome.kind === 'failure') {
    const failure = outcome;
    const fitted = await writeFitting(rt, a, failure.error, (error, whole) =>
      store({ kind: 'failure', error, traceback: whole ? failure.traceback : undefined }),
    );
    stored = fitted.written;
    if (fitted.error !== failure.error) outcome = { kind: 'failure', error: fitted.error, traceback: undefined };
  } else {
    stored = await store(outcome);
  }
  const { record, w } = stored;
  if (!ours(w, a.lease)) {
    // `revoke()` stored REVOKED while this delivery ran: nobody else is left to count it into
    // its join, publish its event and mark it done, so this delivery does (as a redelivery would).
    await finishRevoked(rt, a, w.written ? undefined : w.current);
    return false;
  }
  rt.faults.afterStore?.(a.env);
  recordOutcome(record.state, outcome.kind === 'failure' || outcome.kind === 'revoked' ? outcome.error : undefined);
  await finish(rt, a, outcome, durationMs, route, {
    event: route.events,
    mark: pending && !route.replayable ? record.id : undefined,
    live: true,
  });
  return true;
}

/** A REVOKED record that `revoke()` stored while this delivery ran, left for it to finish (see settle). */
async function finishRevoked(rt: WorkerRuntime, a: Attempt, cur: ResultRecord | undefined): Promise<void> {
  if (cur?.state === States.REVOKED && cur.cont === 'pending' && !leaseLive(rt, cur)) await resume(rt, a, cur);
}

/** Whether another delivery holds a live lease on `rec` (and so is presumed to be finishing it). */
function leaseLive(rt: WorkerRuntime, rec: ResultRecord): boolean {
  return rec.lease !== undefined && rec.lease.until > rt.backend.clock.now();
}

/** How {@link finish} runs for its caller. */
interface FinishPlan {
  /** Publish the lifecycle event. */
  readonly event: boolean;
  /** The record to mark done at the end, if any. */
  readonly mark: string | undefined;
  /** The first delivery (not a resume or replay): the crash-point hooks apply. */
  readonly live: boolean;
}

/** Everything after the guard write: continuations and the event in the rule's order, then the done mark. */
async function finish(rt: WorkerRuntime, a: Attempt, outcome: Outcome, durationMs: number, route: Route, plan: FinishPlan): Promise<void> {
  if (route.replayable && plan.event) await publishEvent(rt, a, outcome, durationMs);
  if (route.continues && (a.flow !== undefined || outcome.kind === 'replaced')) {
    const out = new Outbox(a.lease);
    await continueOutcome(rt, a, a.flow, outcome, out);
    await publishOutbox(rt, out);
    if (plan.live) rt.faults.afterPublish?.(a.env);
  }
  if (!route.replayable && plan.event) await publishEvent(rt, a, outcome, durationMs);
  if (plan.mark !== undefined) await rt.backend.store.finishContinuations(plan.mark);
}

/** The continuations of an outcome: links or errbacks of the node, then its frames. */
async function continueOutcome(rt: WorkerRuntime, a: Attempt, flow: Flow | undefined, outcome: Outcome, out: Outbox): Promise<void> {
  if (outcome.kind === 'replaced') return startReplacement(rt, a, outcome, out);
  if (flow === undefined) return;
  const { env } = a;
  const k = env.continuation ?? [];
  const node = nodeOf(flow, env);
  switch (outcome.kind) {
    case 'success':
      if (node) await fireCallbacks(rt.engine, flow, node, env.id, outcome.value, out);
      return continueSuccess(rt.engine, flow, k, outcome.value, env.id, out);
    case 'failure':
      await continueFailure(rt.engine, flow, k, outcome.error, env.id, out);
      if (node) {
        const failed: FailedTask = {
          id: env.id,
          task: env.task,
          // As the body saw them, when it ran in this delivery (a resumed outcome's are read again).
          args: a.call?.args ?? env.args,
          kwargs: a.call ? a.call.kwargs : env.kwargs,
          retries: env.headers.retries,
          parentId: env.headers.parentId,
          groupId: env.headers.groupId,
          error: outcome.error,
          rootId: env.headers.rootId,
          traceback: outcome.traceback,
        };
        await fireErrbacks(rt.engine, flow, node, failed, out);
      }
      return;
    case 'revoked':
      return continueRevoked(rt.engine, flow, k, env.id, out);
  }
}

/** The stored record of an outcome (without `cont` / `lease`, which {@link settle} adds). */
function recordOf(rt: WorkerRuntime, a: Attempt, outcome: Outcome, durationMs: number): ResultRecord {
  const base = baseRecord(a.env, a.def, rt.app.settings.resultExtended);
  const dateDone = rt.backend.clock.now();
  // What the body called (add_to_parent), stored whatever the outcome, as Celery's meta `children`.
  const called = a.ctx ? calledChildren(a.ctx) : [];
  switch (outcome.kind) {
    case 'success': {
      const children = [...staticChildren(a.flow, a.env, nodeOf(a.flow, a.env)), ...called];
      return {
        ...base,
        state: States.SUCCESS,
        result: outcome.value,
        dateDone,
        durationMs,
        ...(children.length > 0 ? { children } : {}),
      };
    }
    case 'failure':
      return {
        ...base,
        state: States.FAILURE,
        error: outcome.error,
        ...(outcome.traceback ? { traceback: outcome.traceback } : {}),
        dateDone,
        durationMs,
        ...(called.length > 0 ? { children: [...called] } : {}),
      };
    case 'revoked':
      return { ...base, state: States.REVOKED, error: outcome.error, revokedBy: outcome.reason, dateDone };
    case 'replaced':
      return replacedRecordOf(rt, a, outcome);
  }
}

/**
 * The guard record of a replaced task: under its own key ({@link replacedKey}), saying where the
 * replacement starts, so that a redelivery neither runs the body again nor publishes twice.
 */
function replacedRecordOf(rt: WorkerRuntime, a: Attempt, outcome: Replaced): ResultRecord {
  const h = a.env.headers;
  const at: Json = { ref: outcome.ref, start: outcome.start, k: encodeContinuation(outcome.continuation) };
  return {
    id: replacedKey(a.env.id, nestingOf(a.env) + 1),
    state: States.SUCCESS,
    task: a.env.task,
    rootId: h.rootId,
    parentId: h.parentId,
    result: at,
    dateDone: rt.backend.clock.now(),
  };
}

/**
 * The guard record of a success whose result is ignored: no result, under its own key (see
 * {@link ignoredResultKey}), so that a second delivery neither runs the body nor announces it again.
 */
function ignoredRecordOf(rt: WorkerRuntime, a: Attempt): ResultRecord {
  const h = a.env.headers;
  return { id: ignoredResultKey(a.env.id), state: States.SUCCESS, task: a.env.task, rootId: h.rootId, dateDone: rt.backend.clock.now() };
}

/** `ignoreResult` drops the record only of a task nothing continues from (its route is asked for only then). */
function ignoresResult(a: Attempt, route: () => Route): boolean {
  return (a.env.headers.ignoreResult ?? a.def?.options.ignoreResult ?? false) && !route().continues;
}

/** {@link ignoresResult} for a success not settled yet (the guard read, the result before it is stored). */
function ignoresSuccess(rt: WorkerRuntime, a: Attempt): boolean {
  return ignoresResult(a, () => routeOf(rt, a, { kind: 'success', value: null }));
}

/** Settles a success, then runs the success hooks. False when a racing duplicate stored first. */
async function succeed(rt: WorkerRuntime, a: Attempt, value: Json, raw: unknown, durationMs: number): Promise<boolean> {
  if (!(await settle(rt, a, { kind: 'success', value }, durationMs))) return false;
  const { env, ctx, def } = a;
  if (!ctx || !def) return true;
  const { signals } = rt.app;
  const hooks = def.options;
  if (hooks.onSuccess) await guardHook(rt, 'onSuccess', env, () => runWithContext(ctx, () => hooks.onSuccess?.(raw, ctx)));
  if (signals.taskSuccess.hasReceivers) await signals.taskSuccess.send({ sender: env.task, taskId: env.id, result: raw });
  if (hooks.afterReturn) await guardHook(rt, 'afterReturn', env, () => runWithContext(ctx, () => hooks.afterReturn?.('SUCCESS', raw, ctx)));
  await postrun(rt, a, raw, States.SUCCESS, durationMs);
  return true;
}

/**
 * Settles a failure, then runs the failure hooks. A `Reject(requeue=false)` is stored and signalled
 * as a failure (Celery main), but is not the task failing: `onFailure` and `afterReturn` do not run
 * and `taskPostrun` says REJECTED (celery-semantics §hooks).
 */
async function fail(rt: WorkerRuntime, a: Attempt, error: unknown, durationMs: number, rejected = false): Promise<void> {
  const failure = failureOf(error);
  const puts = new PutKeys();
  // An error's details over the payload threshold are stored by reference, as a result is.
  const outcome: Outcome =
    failure.kind === 'failure' && rt.backend.payloads !== undefined
      ? { ...failure, error: await offloadError(rt.backend, rt.app.settings, a.env.id, deliveryToken(a), failure.error, puts) }
      : failure;
  if (!(await settle(rt, a, outcome, durationMs))) {
    await puts.discard(rt.backend.payloads);
    return;
  }
  const { env, ctx, def } = a;
  if (!ctx) return;
  const { signals } = rt.app;
  const hooks = rejected ? undefined : def?.options;
  if (hooks?.onFailure) await guardHook(rt, 'onFailure', env, () => runWithContext(ctx, () => hooks.onFailure?.(error, ctx)));
  if (signals.taskFailure.hasReceivers) {
    const traceback = outcome.kind === 'failure' ? outcome.traceback : undefined;
    await signals.taskFailure.send({
      sender: env.task,
      taskId: env.id,
      exception: error,
      args: ctx.args,
      kwargs: a.request.kwargs,
      traceback,
      einfo: { exception: error, traceback },
    });
  }
  if (hooks?.afterReturn)
    await guardHook(rt, 'afterReturn', env, () => runWithContext(ctx, () => hooks.afterReturn?.('FAILURE', error, ctx)));
  await postrun(rt, a, error, rejected ? 'REJECTED' : States.FAILURE, durationMs);
}

async function revoke(rt: WorkerRuntime, a: Attempt, outcome: Revoked): Promise<void> {
  if (!(await settle(rt, a, outcome, 0))) return;
  await revokedSignal(rt, a, outcome);
}

async function revokedSignal(rt: WorkerRuntime, a: Attempt, outcome: Revoked): Promise<void> {
  const signal = rt.app.signals.taskRevoked;
  if (signal.hasReceivers) {
    await signal.send({ sender: a.env.task, request: a.request, terminated: false, signum: null, expired: outcome.reason === 'expired' });
  }
}

/**
 * `ctx.replace(sig)`: compiles the replacement into the task's place, marks the task's id
 * REPLACED, then settles the `replaced` outcome (its guard write, then publishing the replacement).
 * A replacement that cannot run (an empty chain, arguments its task refuses) fails the task, as
 * Celery's `replace` raising does. Like Celery (which raises Ignore), no success hooks run and
 * `taskPostrun` says IGNORED; the replacement's own hooks run when it does.
 */
async function replaceTask(rt: WorkerRuntime, a: Attempt, canvas: AnySignature, durationMs: number): Promise<void> {
  const { env } = a;
  let plan: Plan;
  let start: number;
  let continuation: readonly Frame[];
  try {
    ({ plan, start, continuation } = compileReplacement(
      canvas,
      env,
      a.flow,
      {
        maxGroupSize: rt.app.settings.maxGroupSize,
        maxNodes: DEFAULT_MAX_NODES,
      },
      a.lease.owner,
    ));
    await validateEntries(rt.app, plan, start);
  } catch (e) {
    await fail(rt, a, e, durationMs);
    return;
  }
  const { store } = rt.backend;
  await store.putPlan(encodePlan(plan));
  // The mark comes before the guard write: a redelivery that finds it reads the guard; one that
  // finds no guard (this delivery died in between) runs the body again, nothing having been sent.
  // Retries 0: the replacement's calls start their own count, and must not look stale against it.
  const mark = await store.writeIfNotReady({
    ...baseRecord(env, a.def, rt.app.settings.resultExtended),
    state: States.REPLACED,
    retries: 0,
    meta: { nesting: nestingOf(env) + 1 },
  });
  if (!mark.written && mark.current !== undefined && isReady(mark.current.state)) {
    // revoke() stored REVOKED while the body ran: the revocation wins and nothing is sent.
    await finishRevoked(rt, a, mark.current);
    return;
  }
  if (!(await settle(rt, a, { kind: 'replaced', ref: plan.id, start, continuation, plan }, durationMs))) return;
  await postrun(rt, a, undefined, 'IGNORED', durationMs);
}

/** Starts a replacement in the replaced task's place: its parent, group membership and frames. */
async function startReplacement(rt: WorkerRuntime, a: Attempt, outcome: Replaced, out: Outbox): Promise<void> {
  const h = a.env.headers;
  const wf = { ref: outcome.ref };
  const plan = outcome.plan ?? (await rt.flowOf({ ...a.env, workflow: wf }))?.plan;
  if (plan === undefined) throw new CeleriacError(ErrorCodes.WORKFLOW_NOT_FOUND, `replacement plan ${outcome.ref} is not in the store`);
  const origin = { parentId: h.parentId, ...(h.groupId !== undefined ? { groupId: h.groupId, groupIndex: h.groupIndex as number } : {}) };
  await startNode(rt.engine, flowOn(plan, wf, a.env), outcome.start, undefined, outcome.continuation, origin, out);
}

async function retry(
  rt: WorkerRuntime,
  a: Attempt,
  ctx: TaskContext,
  def: TaskDef,
  req: RetryRequestOptions,
  raised: unknown,
  duration: number,
  auto: boolean,
): Promise<void> {
  const { app, backend } = rt;
  const { env, request } = a;
  const now = backend.clock.now();
  const h = env.headers;
  // As Celery: an automatic retry (`retry.on`) waits the policy's backoff; `ctx.retry()` without a
  // countdown or eta waits `default_retry_delay` (`retry.delay`), backoff or not.
  const policyCountdown = () =>
    auto ? retryCountdown(def.options.retry, h.retries) : (def.options.retry?.delay ?? DEFAULT_RETRY_DELAY_SECONDS);
  const countdown = req.countdown ?? (req.eta !== undefined ? Math.max(0, (req.eta.getTime() - now) / 1000) : policyCountdown());
  const etaMs = now + countdown * 1000;
  const next: Envelope = {
    ...env,
    args: req.args ? req.args.map((a, i) => toJson(a, `retry args[${i}]`)) : env.args,
    headers: { ...h, retries: h.retries + 1, ...(countdown > 0 ? { eta: new Date(etaMs).toISOString() } : { eta: undefined }) },
  };
  const reason = req.error ?? raised;
  const traceback = tracebackOf(reason);
  // Large details go by reference, as a failure's do (the RETRY record and event carry them).
  const offloaded = await offloadError(backend, app.settings, env.id, deliveryToken(a), serializeError(reason), new PutKeys());
  const progress = (error: SerializedError, tb: string | undefined) =>
    backend.store.writeProgress({
      ...baseRecord(env, def, app.settings.resultExtended),
      state: States.RETRY,
      error,
      retries: h.retries + 1,
      ...(tb !== undefined ? { traceback: tb } : {}),
    });
  // The RETRY record first, then the retry: a write that fails then sends nothing, so a
  // redelivery cannot publish the same retry a second time.
  const serialized = (await writeFitting(rt, a, offloaded, (error, whole) => progress(error, whole ? traceback : undefined))).error;
  await publish(app, backend, [{ envelope: next, queue: h.queue ?? app.queueOf(env.task), delaySeconds: delayFor(etaMs, now) }]);
  const { signals } = app;
  if (def.options.onRetry) await guardHook(rt, 'onRetry', env, () => runWithContext(ctx, () => def.options.onRetry?.(reason, ctx)));
  if (signals.taskRetry.hasReceivers)
    await signals.taskRetry.send({
      sender: env.task,
      request,
      reason: raised instanceof Retry ? raised : new Retry(req),
      einfo: { exception: reason, traceback },
    });
  if (eventsOn(rt, def)) await emit(rt, env, DetailTypes.retry, { state: 'RETRY', error: serialized, durationMs: duration });
  await postrun(rt, a, raised, States.RETRY, duration);
}

// ── finishing another delivery's outcome ───────────────────────────────────────────────────

/**
 * A ready record whose only pending work is a join (a chord member): redoing it is idempotent —
 * the set add is a no-op, the firing is claim-guarded — so a duplicate need not wait for a lease.
 */
function replayable(rt: WorkerRuntime, a: Attempt, rec: ResultRecord): boolean {
  return routeOf(rt, a, outcomeOf(rec, a)).replayable;
}

/**
 * Redoes a chord member's pending join. Its event was published before it was counted, so it is
 * published again only if the member is not in the join's set yet (the first delivery crashed in
 * between); then the join runs again, firing the body if this member completes it.
 */
async function replay(rt: WorkerRuntime, a: Attempt, rec: ResultRecord): Promise<Disposition> {
  const f = a.env.continuation?.[0];
  if (!a.flow || !f || isChainFrame(f)) return 'ack';
  const outcome = outcomeOf(rec, a);
  const route = routeOf(rt, a, outcome);
  const shard = Math.floor(f.member / shardSizeFor(f.size));
  const shards = await rt.backend.store.joinRead(f.joinId, shard + 1);
  const counted = shards[shard]?.done.includes(f.member) ?? false;
  if (!counted && route.events) {
    // Not counted yet: the first delivery may be publishing the event right now. Only the holder
    // of the record's lease publishes it — the first delivery, or one that took over after its
    // lease ran out (it died between its guard write and its join add).
    if (leaseLive(rt, rec)) return 'retry';
    if (!(await rt.backend.store.takeOver(rec.id, rec.lease?.owner, a.lease))) return 'retry';
  }
  await finish(rt, a, outcome, rec.durationMs ?? 0, route, { event: route.events && !counted, mark: undefined, live: false });
  return 'ack';
}

/** Finishes the continuations of a ready record whose writer did not (a crash, or `revoke()`). */
async function resume(rt: WorkerRuntime, a: Attempt, rec: ResultRecord): Promise<Disposition> {
  if (!(await rt.backend.store.takeOver(rec.id, rec.lease?.owner, a.lease))) return 'retry';
  const outcome = outcomeOf(rec, a);
  const route = routeOf(rt, a, outcome);
  await finish(rt, a, outcome, rec.durationMs ?? 0, { ...route, replayable: false }, { event: route.events, mark: rec.id, live: false });
  if (outcome.kind === 'revoked') await revokedSignal(rt, a, outcome);
  return 'ack';
}

// ── events ─────────────────────────────────────────────────────────────────────────────────

/** Whether lifecycle events are published for this task. */
function eventsOn(rt: WorkerRuntime, def: TaskDef | undefined): boolean {
  return def?.options.events ?? rt.app.settings.events;
}

/** The lifecycle event of a settled outcome. */
function publishEvent(rt: WorkerRuntime, a: Attempt, outcome: Outcome, durationMs: number): Promise<void> {
  switch (outcome.kind) {
    case 'success':
      return emit(rt, a.env, DetailTypes.success, { state: 'SUCCESS', result: outcome.value, durationMs });
    case 'failure':
      return emit(rt, a.env, DetailTypes.failure, { state: 'FAILURE', error: outcome.error, durationMs });
    case 'revoked':
      return emit(rt, a.env, DetailTypes.revoked, { state: 'REVOKED', error: outcome.error, durationMs: 0 });
    case 'replaced':
      return Promise.resolve(); // no event of its own (see routeOf)
  }
}

/** What a static link's call carries on from an event (lib/routing/topology.ts, CARRIED_PATHS). */
function carriedSlots(fairnessKey: string | undefined): Pick<TaskEventDetail, 'traceparent' | 'tracestate' | 'fairnessKey'> {
  const trace = activeTraceHeaders();
  return { traceparent: trace.traceparent ?? null, tracestate: trace.tracestate ?? null, fairnessKey: fairnessKey ?? null };
}

/** Publishes one lifecycle event about `env` (the one place an event's detail is built). */
async function emit(
  rt: WorkerRuntime,
  env: Envelope,
  detailType: DetailType,
  part: Pick<TaskEventDetail, 'state' | 'durationMs'> & { result?: Json; error?: SerializedError; resultTruncated?: true },
): Promise<void> {
  const { app, backend } = rt;
  const now = backend.clock.now();
  const h = env.headers;
  if (part.result !== undefined && jsonOver(part.result, EVENT_RESULT_BYTES) !== undefined) {
    // An EventBridge entry holds 256 KB; a larger result stays in the store, the event says so.
    part = { ...part, result: null, resultTruncated: true };
  }
  // One shape for every event (absent optional fields are undefined, which JSON leaves out): no
  // spreads on the worker path.
  const detail: TaskEventDetail = {
    v: 1,
    app: app.name,
    task: env.task,
    id: env.id,
    rootId: h.rootId,
    parentId: h.parentId,
    groupId: h.groupId,
    attempt: h.retries,
    queue: h.queue,
    timestamp: isoTime(now),
    // Always present, null when unset: a static link's input transformer then always finds its
    // path, and never depends on how EventBridge fills a placeholder whose path is missing.
    ...carriedSlots(h.fairnessKey),
    state: part.state,
    result: part.result,
    error: part.error,
    durationMs: part.durationMs,
    resultTruncated: part.resultTruncated,
  };
  await backend.events.publish([
    { source: rt.eventSource, detailType, detail: detail as unknown as Record<string, Json>, time: now, resources: NO_RESOURCES },
  ]);
}

const NO_RESOURCES: readonly string[] = Object.freeze([]);

// ── helpers ────────────────────────────────────────────────────────────────────────────────

function nodeOf(flow: Flow | undefined, env: Envelope): TaskNode | undefined {
  if (!flow || env.node === undefined) return undefined;
  const n = planNode(flow.plan, env.node);
  return n.kind === 'task' ? n : undefined;
}

/** Ids a success will cause (Celery's children), known before the guard write. */
function staticChildren(flow: Flow | undefined, env: Envelope, node: TaskNode | undefined): string[] {
  const out: string[] = [];
  for (const l of node?.link ?? []) out.push(deriveId(env.id, `link:${l}`));
  const f = env.continuation?.[0];
  if (flow && f && isChainFrame(f)) {
    const chain = planNode(flow.plan, f.chain);
    const step = chain.kind === 'chain' ? chain.steps[f.step] : undefined;
    if (step !== undefined) for (const t of entryTasks(flow.plan, step)) out.push(t.id);
  }
  return out;
}

function baseRecord(env: Envelope, def: TaskDef | undefined, extended: boolean): Omit<ResultRecord, 'state'> {
  const h = env.headers;
  return {
    id: env.id,
    task: env.task,
    rootId: h.rootId,
    parentId: h.parentId,
    retries: h.retries,
    ...(h.groupId !== undefined ? { groupId: h.groupId } : {}),
    ...(h.queue !== undefined ? { queue: h.queue } : {}),
    ...(extended || def?.options.resultExtended ? { args: env.args, ...(env.kwargs ? { kwargs: env.kwargs } : {}) } : {}),
  };
}

/**
 * Did our conditional write land? Also true when the write reports "condition failed" against a
 * record carrying our own lease: a write that was applied but answered with an error, then
 * retried by the SDK, fails its condition on itself.
 */
function ours(w: WriteResult, lease: Lease): boolean {
  return w.written || w.current?.lease?.owner === lease.owner;
}

/** Publishes an outbox, then marks its create-once claims done (so a replay does not publish again). */
async function publishOutbox(rt: WorkerRuntime, out: Outbox): Promise<void> {
  // Most chord members only count themselves: nothing to publish, nothing to mark.
  if (out.dispatches.length === 0 && out.claims.length === 0) return;
  await publish(rt.app, rt.backend, out.dispatches);
  for (const key of out.claims) await rt.backend.store.finishContinuations(key);
}

async function joinFired(rt: WorkerRuntime, env: Envelope): Promise<boolean> {
  const f = env.continuation?.[0];
  if (!f || isChainFrame(f)) return false;
  return (await rt.backend.store.get(joinClaimKey(f.joinId))) !== undefined;
}

async function handleChordDeadline(rt: WorkerRuntime, env: Envelope, flow: Flow | undefined, lease: Lease): Promise<Disposition> {
  if (!flow) throw new CeleriacError(ErrorCodes.BAD_ENVELOPE, 'chord deadline message without a workflow');
  const out = new Outbox(lease);
  const r = await chordDeadline(rt.engine, flow, env.continuation ?? [], out);
  if (r === 'fired') {
    await publishOutbox(rt, out);
    rt.app.logger.warn('chord deadline passed; chord failed with CHORD_TIMEOUT', { rootId: env.headers.rootId });
  }
  return 'ack';
}

/**
 * A message that is not a valid call (it cannot be decoded, or its workflow is a lie): settled as
 * a FAILURE with a specific code under `id` — the transport's message id made safe, never the id
 * it claims (KEYS.md, "what a refused message may claim") — through the same guard and event as
 * any outcome, so a second delivery stores and announces nothing more. It is stored and announced
 * as task `(refused)`, so no static link of the task it claims acts on it.
 */
async function rejectMessage(
  rt: WorkerRuntime,
  msg: IncomingMessage,
  inv: InvocationInfo,
  id: string,
  task: string | undefined,
  error: CeleriacError,
): Promise<Disposition> {
  const { app, backend } = rt;
  app.logger.warn('rejected a message that is not a valid call', {
    messageId: msg.messageId,
    id,
    ...(task !== undefined ? { claimedTask: task } : {}),
    code: error.code,
    reason: error.message,
  });
  if (app.signals.taskRejected.hasReceivers)
    await app.signals.taskRejected.send({ sender: task ?? REFUSED_TASK, message: msg.body, exc: error });
  const now = backend.clock.now();
  const env: Envelope = {
    v: 1,
    id,
    task: REFUSED_TASK,
    args: [],
    headers: { rootId: id, parentId: null, retries: 0, ...(msg.queue !== undefined ? { queue: msg.queue } : {}) },
  };
  const attempt: Attempt = {
    env,
    request: requestOf(env),
    ctx: undefined,
    def: undefined,
    lease: rt.leaseFor(msg, now, inv),
    started: now,
    flow: undefined,
    queueWaitMs: undefined,
  };
  await settle(rt, attempt, failureOf(error), 0);
  return 'ack';
}

/** `taskPostrun`, last of every outcome of a body that ran (also RETRY, IGNORED, REJECTED). */
async function postrun(rt: WorkerRuntime, a: Attempt, retval: unknown, state: PostrunPayload['state'], runtimeMs: number): Promise<void> {
  const signal = rt.app.signals.taskPostrun;
  if (!signal.hasReceivers) return;
  const { env } = a;
  await signal.send({
    sender: env.task,
    taskId: env.id,
    task: env.task,
    args: a.ctx?.args ?? env.args,
    kwargs: a.request.kwargs,
    retval,
    state,
    runtimeMs,
    queueWaitMs: a.queueWaitMs,
  });
}

async function guardHook(rt: WorkerRuntime, hook: string, env: Envelope, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (e) {
    // A hook runs after the outcome is stored: its error cannot change the outcome, so it is logged.
    rt.app.logger.error(`${hook} hook failed`, { task: env.task, id: env.id, error: serializeError(e) });
  }
}

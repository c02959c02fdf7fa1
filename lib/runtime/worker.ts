/**
 * The worker path for one message: decode → dedupe/resume → expiry → hooks → run → store (the
 * exactly-once guard) → continuations → events → hooks. Pure over ports: the Lambda handler in
 * lib/worker.ts and the local pollers both call {@link processMessage}.
 */
import {
  CeleriacError,
  ErrorCodes,
  Ignore,
  MaxRetriesExceededError,
  Reject,
  Retry,
  type RetryRequestOptions,
  SoftTimeLimitExceededError,
  TimeLimitExceededError,
} from '../errors';
import type { Backend, ResultRecord, WriteResult } from '../ports';
import { decodeEnvelope, decodePlan, type Envelope } from '../protocol/envelope';
import { deserializeError, type SerializedError, serializeError } from '../protocol/failure';
import { safeId } from '../protocol/ids';
import { type Json, toJson } from '../protocol/json';
import { entryTasks, isChainFrame, type Plan, planNode, type TaskNode } from '../protocol/plan';
import { isReady, States } from '../results/states';
import type { PostrunPayload, RequestInfo } from '../signals';
import { type DetailType, DetailTypes, eventSource, type TaskEventDetail } from '../signals/events';
import { runWithContext } from '../task/context';
import { maxRetries, retryCountdown, shouldAutoRetry } from '../task/retry';
import type { TaskContext } from '../task/types';
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
  joinClaimKey,
  joinOnly,
  Outbox,
  shardSizeFor,
} from './engine';
import { deriveId } from './ids';
import { publish } from './publish';

/** One received message, transport-neutral. */
export interface IncomingMessage {
  readonly body: string;
  /** Transport message id (SQS messageId): the id of foreign calls that bring none. */
  readonly messageId: string;
  /** 1 on first delivery. */
  readonly receiveCount: number;
  /** Logical queue it came from. */
  readonly queue: string | undefined;
}

/** `ack` = done with it (delete); `retry` = let the transport redeliver it (batch item failure). */
export type Disposition = 'ack' | 'retry';

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
/** Results larger than this travel in events as `result: null, resultTruncated: true` (entries hold 256 KB). */
const EVENT_RESULT_BYTES = 200_000;
const SOFT_MARGIN_MS = 3_000;
const ETA_SKEW_MS = 1_000;
const DEFAULT_LEASE_MS = 60_000;
/** The `task` of a refused message's event: not the task it claims, whose static links must not fire. */
export const REFUSED_TASK = '(refused)';

/** Per-backend state of a worker: the engine environment, plan cache. */
export class WorkerRuntime {
  readonly app: RuntimeApp;
  readonly backend: Backend;
  readonly engine: EngineEnv;
  readonly faults: FaultHooks;
  /** Unique per worker instance: lease owners must never collide across concurrent invocations. */
  readonly instance: string;
  #seq = 0;
  /** Plans are immutable: a warm worker reads each one once. */
  readonly #plans = new Map<string, Promise<Plan>>();
  /** The loaded ones, for a lookup without a promise (every member of a chord asks). */
  readonly #loaded = new Map<string, Plan>();

  constructor(app: RuntimeApp, backend: Backend, faults: FaultHooks = {}) {
    this.app = app;
    this.backend = backend;
    this.faults = faults;
    this.instance = backend.ids.uuid();
    this.engine = {
      store: backend.store,
      clock: backend.clock,
      queueOf: (task, opts) => app.queueOf(task, opts),
      chordDeadlineSeconds: app.settings.chordDeadlineSeconds,
      isInlineErrback: (node) => {
        const def = app.getTask(node.name);
        return def !== undefined && (def.options.errbackStyle ?? (def.fn.length > 1 ? 'inline' : 'task')) === 'inline';
      },
      runInlineErrback: (node, failed) => this.#inlineErrback(node, failed),
    };
  }

  nextSeq(): number {
    return ++this.#seq;
  }

  flowOf(env: Envelope): Flow | undefined | Promise<Flow | undefined> {
    const wf = env.wf;
    if (!wf) return undefined;
    if ('plan' in wf) return { plan: wf.plan, wf, rootId: env.headers.rootId };
    const loaded = this.#loaded.get(wf.ref);
    if (loaded) return { plan: loaded, wf, rootId: env.headers.rootId };
    let plan = this.#plans.get(wf.ref);
    if (!plan) {
      // One load per plan even when a whole batch asks at once.
      plan = this.#loadPlan(wf.ref);
      if (this.#plans.size > 1_000) {
        this.#plans.clear();
        this.#loaded.clear();
      }
      this.#plans.set(wf.ref, plan);
    }
    return plan.then((p) => ({ plan: p, wf, rootId: env.headers.rootId }));
  }

  async #loadPlan(ref: string): Promise<Plan> {
    try {
      const raw = await this.backend.store.getPlan(ref);
      if (!raw)
        throw new CeleriacError(ErrorCodes.WORKFLOW_NOT_FOUND, `workflow plan ${ref} is not in the store (expired or deleted)`, {
          retryable: true,
        });
      const plan = decodePlan(raw);
      this.#loaded.set(ref, plan);
      return plan;
    } catch (e) {
      this.#plans.delete(ref);
      throw e;
    }
  }

  async #inlineErrback(node: TaskNode, failed: FailedTask): Promise<void> {
    const def = this.app.getTask(node.name);
    if (!def) return;
    const request = { id: failed.id, task: failed.task, args: failed.args, rootId: failed.rootId };
    try {
      await def.fn(request, deserializeError(failed.error), failed.traceback, ...node.args);
    } catch (e) {
      // Celery (main) logs and ignores errors raised inside an inline errback.
      this.app.logger.error('inline errback failed', { errback: node.name, failedTask: failed.id, error: serializeError(e) });
    }
  }
}

/** Processes one message. Never throws: infrastructure errors become `retry`. */
export async function processMessage(rt: WorkerRuntime, msg: IncomingMessage, inv: InvocationInfo): Promise<Disposition> {
  try {
    return await handle(rt, msg, inv);
  } catch (e) {
    if ((e as { details?: { busy?: unknown } })?.details?.busy === true) {
      rt.app.logger.debug('another delivery holds this continuation; retrying later', { messageId: msg.messageId });
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
  const { app, backend } = rt;
  const decoded = decodeEnvelope(msg.body, {
    messageId: msg.messageId,
    ...(msg.queue !== undefined ? { queue: msg.queue } : {}),
    ...(msg.queue !== undefined && app.queueOwner(msg.queue) !== undefined ? { queueOwner: app.queueOwner(msg.queue) as string } : {}),
    maxDepth: app.settings.maxJsonDepth,
  });
  if (!decoded.ok) return rejectMessage(rt, msg, decoded.id, decoded.task, decoded.error);
  const env = decoded.envelope;
  const admitted = admitFlow(env, (e) => rt.flowOf(e));
  const refusal = admitted instanceof Promise ? await admitted : admitted;
  if (refusal) return rejectMessage(rt, msg, safeId(msg.messageId), env.task, refusal);
  rt.faults.afterDecode?.(env);
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
  const lease = { owner: `${rt.instance}:${msg.messageId}:${msg.receiveCount}:${rt.nextSeq()}`, until: leaseUntil(now, inv) };
  if (env.task === CHORD_DEADLINE_TASK) return handleChordDeadline(rt, env, lease);

  const request = requestOf(env);
  if (app.signals.taskReceived.hasReceivers) await app.signals.taskReceived.send({ sender: env.task, request });

  const existing = await backend.store.get(env.id);
  if (existing) {
    if (isReady(existing.state)) {
      if (existing.cont !== 'pending') return 'ack'; // duplicate of finished work
      if (await replayable(rt, env, existing)) return replay(rt, env, existing, lease);
      if (existing.lease && existing.lease.until > now) return 'retry'; // another delivery is finishing it
      return resume(rt, env, existing, lease);
    }
    if ((existing.retries ?? 0) > env.headers.retries) return 'ack'; // a stale attempt; a newer one was published
  }

  if (env.headers.expires !== undefined && Date.parse(env.headers.expires) <= now) {
    return revokeExpired(rt, env, request, lease);
  }

  const def = app.getTask(env.task);
  if (!def) {
    const err = new CeleriacError(
      ErrorCodes.TASK_NOT_REGISTERED,
      `task "${env.task}" is not registered in app "${app.name}" (is the worker bundle up to date?)`,
    );
    if (app.signals.taskUnknown.hasReceivers) {
      await app.signals.taskUnknown.send({ sender: env.task, message: msg.body, exc: err, name: env.task, id: env.id });
    }
    await fail(rt, env, request, undefined, err, lease, 0, { hooks: false });
    return 'ack';
  }
  return execute(rt, env, request, def, inv, lease);
}

function leaseUntil(now: number, inv: InvocationInfo): number {
  return Number.isFinite(inv.deadline) ? Math.max(inv.deadline, now + 1_000) : now + DEFAULT_LEASE_MS;
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
  };
}

// ── execution ──────────────────────────────────────────────────────────────────────────────

type RunOutcome = { readonly kind: 'success'; readonly value: unknown } | { readonly kind: 'error'; readonly error: unknown };

async function execute(
  rt: WorkerRuntime,
  env: Envelope,
  request: RequestInfo,
  def: TaskDef,
  inv: InvocationInfo,
  lease: { owner: string; until: number },
): Promise<Disposition> {
  const { app, backend } = rt;
  const { signals } = app;
  const started = backend.clock.now();
  const h = env.headers;
  const hardS = h.timeLimit?.[0] ?? def.options.timeLimit;
  const softS = h.timeLimit?.[1] ?? def.options.softTimeLimit;
  const hardAt = Math.min(hardS !== undefined ? started + hardS * 1000 : Number.POSITIVE_INFINITY, inv.deadline - HARD_MARGIN_MS);
  const softAt = Math.min(softS !== undefined ? started + softS * 1000 : Number.POSITIVE_INFINITY, inv.deadline - SOFT_MARGIN_MS);
  const controller = new AbortController();
  const args = env.kwargs && Object.keys(env.kwargs).length > 0 ? [...env.args, env.kwargs] : env.args;

  const ctx: TaskContext = {
    ...request,
    args,
    signal: controller.signal,
    deadline: hardAt,
    calledDirectly: false,
    retry(options?: RetryRequestOptions): never {
      throw new Retry(options);
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

  if (signals.taskPrerun.hasReceivers) {
    await signals.taskPrerun.send({ sender: env.task, taskId: env.id, task: env.task, args, kwargs: env.kwargs });
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
    const value = await runWithLimits(() => runWithContext(ctx, () => def.fn(...args)), controller, started, softAt, hardAt, env);
    outcome = { kind: 'success', value };
  } catch (e) {
    outcome = { kind: 'error', error: e };
  }
  rt.faults.afterRun?.(env);
  const duration = backend.clock.now() - started;

  if (outcome.kind === 'success') {
    let value: Json;
    try {
      value = checkResult(outcome.value, env, app.settings.maxResultBytes);
    } catch (e) {
      await fail(rt, env, request, ctx, e, lease, duration, { hooks: true, def });
      return 'ack';
    }
    await succeed(rt, env, ctx, def, value, outcome.value, lease, duration);
    return 'ack';
  }

  const error = outcome.error;
  if (error instanceof Ignore) {
    await postrun(rt, env, args, undefined, 'IGNORED');
    return 'ack';
  }
  if (error instanceof Reject) {
    if (error.requeue) {
      await postrun(rt, env, args, undefined, 'REJECTED');
      return 'retry';
    }
    const rejected = new CeleriacError(ErrorCodes.TASK_REJECTED, `task rejected the message: ${error.message}`, { cause: error });
    await fail(rt, env, request, ctx, rejected, lease, duration, { hooks: true, def });
    return 'ack';
  }
  if (error instanceof Retry || shouldAutoRetry(def.options.retry, error)) {
    const req: RetryRequestOptions = error instanceof Retry ? error.options : { error };
    const limit = maxRetries(def.options.retry, req.maxRetries);
    if (limit !== null && h.retries >= limit) {
      const final = req.error ?? new MaxRetriesExceededError(`task ${env.task}[${env.id}] exceeded its maximum of ${limit} retries`);
      await fail(rt, env, request, ctx, final, lease, duration, { hooks: true, def });
      return 'ack';
    }
    await retry(rt, env, request, ctx, def, req, error, duration);
    return 'ack';
  }
  await fail(rt, env, request, ctx, error, lease, duration, { hooks: true, def });
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
  if (args.length < def.fn.length) {
    throw new CeleriacError(ErrorCodes.INVALID_ARGS, `${def.name}() takes ${def.fn.length} argument(s) but ${args.length} were given`);
  }
}

async function runWithLimits(
  run: () => unknown,
  controller: AbortController,
  started: number,
  softAt: number,
  hardAt: number,
  env: Envelope,
): Promise<unknown> {
  if (!Number.isFinite(softAt) && !Number.isFinite(hardAt)) return await run();
  let softTimer: ReturnType<typeof setTimeout> | undefined;
  let hardTimer: ReturnType<typeof setTimeout> | undefined;
  try {
    if (Number.isFinite(softAt)) {
      softTimer = setTimeout(
        () =>
          controller.abort(
            new SoftTimeLimitExceededError(
              `soft time limit (${Math.round((softAt - started) / 1000)} s) exceeded by ${env.task}[${env.id}]`,
            ),
          ),
        Math.max(0, softAt - Date.now()),
      );
    }
    const hard = Number.isFinite(hardAt)
      ? new Promise<never>((_, reject) => {
          hardTimer = setTimeout(
            () => {
              const err = new TimeLimitExceededError(
                `hard time limit (${Math.round((hardAt - started) / 1000)} s) exceeded by ${env.task}[${env.id}]`,
              );
              if (!controller.signal.aborted) controller.abort(err);
              reject(err);
            },
            Math.max(0, hardAt - Date.now()),
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

function resultBytes(v: Json): number {
  if (typeof v === 'string') return v.length * 3 > EVENT_RESULT_BYTES ? Buffer.byteLength(v) : v.length;
  if (typeof v !== 'object' || v === null) return 8;
  const s = JSON.stringify(v);
  return s.length * 3 > EVENT_RESULT_BYTES ? Buffer.byteLength(s) : s.length;
}

function checkResult(value: unknown, env: Envelope, maxBytes: number): Json {
  const json = toJson(value, `result of ${env.task}`);
  if (json !== null && (typeof json === 'object' || (typeof json === 'string' && json.length * 3 > EVENT_RESULT_BYTES))) {
    const s = typeof json === 'string' ? json : JSON.stringify(json);
    const bytes = s.length * 3 > maxBytes ? Buffer.byteLength(s) : s.length;
    if (bytes > maxBytes) {
      throw new CeleriacError(
        ErrorCodes.RESULT_TOO_LARGE,
        `result of ${env.task}[${env.id}] is ${bytes} bytes; results are limited to ${maxBytes} bytes (DynamoDB items hold 400 KB). Store large data elsewhere and return a reference.`,
        { details: { bytes, limit: maxBytes } },
      );
    }
  }
  return json;
}

// ── outcomes ───────────────────────────────────────────────────────────────────────────────

function nodeOf(flow: Flow | undefined, env: Envelope): TaskNode | undefined {
  if (!flow || env.at === undefined) return undefined;
  const n = planNode(flow.plan, env.at);
  return n.t === 'task' ? n : undefined;
}

/** Ids a success will cause (Celery's children), known before the guard write. */
function staticChildren(flow: Flow | undefined, env: Envelope, node: TaskNode | undefined): string[] {
  const out: string[] = [];
  for (const l of node?.link ?? []) out.push(deriveId(env.id, `link:${l}`));
  const f = env.k?.[0];
  if (flow && f && isChainFrame(f)) {
    const chain = planNode(flow.plan, f.c);
    const step = chain.t === 'chain' ? chain.steps[f.i] : undefined;
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

async function succeed(
  rt: WorkerRuntime,
  env: Envelope,
  ctx: TaskContext,
  def: TaskDef,
  value: Json,
  raw: unknown,
  lease: { owner: string; until: number },
  duration: number,
): Promise<void> {
  const { app, backend } = rt;
  const pending = rt.flowOf(env);
  const flow = pending instanceof Promise ? await pending : pending;
  const node = nodeOf(flow, env);
  const hasCont = (env.k?.length ?? 0) > 0 || (node?.link?.length ?? 0) > 0;
  // A join-only continuation is replayable (see replay()); everything else is marked done once published.
  const joinCont = hasCont && (node?.link?.length ?? 0) === 0 && joinOnly(env.k);
  const events = eventsOn(rt, def);
  const mustFinish = hasCont ? !joinCont : events;
  const ignore = (env.headers.ignoreResult ?? def.options.ignoreResult ?? false) && !hasCont;
  const now = backend.clock.now();
  if (!ignore) {
    const children = staticChildren(flow, env, node);
    const w = await backend.store.writeIfNotReady({
      ...baseRecord(env, def, app.settings.resultExtended),
      state: States.SUCCESS,
      result: value,
      dateDone: now,
      durationMs: duration,
      ...(children.length > 0 ? { children } : {}),
      // `pending` while anything is left to publish, the lifecycle event included: a redelivery
      // after a crash publishes it again. The lease also identifies our own write (see ours()).
      cont: hasCont || events ? 'pending' : 'done',
      lease,
    });
    if (!ours(w, lease)) return; // a racing duplicate stored first and continues the workflow
  }
  rt.faults.afterStore?.(env);
  const event = () => emit(rt, env, def, DetailTypes.success, { state: 'SUCCESS', result: value, durationMs: duration });
  // A chord member publishes its event before it is counted: being counted then proves the event went out.
  if (joinCont && events) await event();
  if (hasCont && flow) {
    const out = new Outbox(lease);
    if (node) await fireCallbacks(rt.engine, flow, node, env.id, value, out);
    await continueSuccess(rt.engine, flow, env.k ?? [], value, env.id, out);
    if (out.dispatches.length > 0 || out.claims.length > 0) await publishOutbox(rt, out);
    rt.faults.afterPublish?.(env);
  }
  if (!joinCont && events) await event();
  if (mustFinish) await backend.store.finishContinuations(env.id);

  const { signals } = app;
  const hooks = def.options;
  if (hooks.onSuccess) await guardHook(rt, 'onSuccess', env, () => runWithContext(ctx, () => hooks.onSuccess?.(raw, ctx)));
  if (signals.taskSuccess.hasReceivers) await signals.taskSuccess.send({ sender: env.task, taskId: env.id, result: raw });
  if (hooks.afterReturn) await guardHook(rt, 'afterReturn', env, () => runWithContext(ctx, () => hooks.afterReturn?.('SUCCESS', raw, ctx)));
  await postrun(rt, env, ctx.args, raw, States.SUCCESS);
}

async function fail(
  rt: WorkerRuntime,
  env: Envelope,
  request: RequestInfo,
  ctx: TaskContext | undefined,
  error: unknown,
  lease: { owner: string; until: number },
  duration: number,
  opts: { hooks: boolean; def?: TaskDef },
): Promise<void> {
  const { app, backend } = rt;
  const flow = await rt.flowOf(env);
  const node = nodeOf(flow, env);
  const hasCont = (env.k?.length ?? 0) > 0 || (node?.err?.length ?? 0) > 0;
  const joinCont = hasCont && (node?.err?.length ?? 0) === 0 && joinOnly(env.k);
  const events = eventsOn(rt, opts.def);
  const mustFinish = hasCont ? !joinCont : events;
  const pending = hasCont || events;
  const serialized = serializeError(error);
  const traceback = error instanceof Error ? error.stack : undefined;
  const w = await backend.store.writeIfNotReady({
    ...baseRecord(env, opts.def, app.settings.resultExtended),
    state: States.FAILURE,
    error: serialized,
    ...(traceback ? { traceback } : {}),
    dateDone: backend.clock.now(),
    durationMs: duration,
    cont: pending ? 'pending' : 'done',
    lease,
  });
  if (!ours(w, lease)) return;
  rt.faults.afterStore?.(env);
  const event = () => emit(rt, env, opts.def, DetailTypes.failure, { state: 'FAILURE', error: serialized, durationMs: duration });
  if (joinCont && events) await event();
  if (hasCont && flow) {
    const out = new Outbox(lease);
    await continueFailure(rt.engine, flow, env.k ?? [], serialized, env.id, out);
    if (node) {
      await fireErrbacks(
        rt.engine,
        flow,
        node,
        { id: env.id, task: env.task, args: env.args, error: serialized, rootId: env.headers.rootId, traceback },
        out,
      );
    }
    await publishOutbox(rt, out);
    rt.faults.afterPublish?.(env);
  }
  if (!joinCont && events) await event();
  if (mustFinish) await backend.store.finishContinuations(env.id);

  if (!opts.hooks || !ctx) return;
  const { signals } = app;
  const hooks = opts.def?.options;
  if (hooks?.onFailure) await guardHook(rt, 'onFailure', env, () => runWithContext(ctx, () => hooks.onFailure?.(error, ctx)));
  if (signals.taskFailure.hasReceivers) {
    await signals.taskFailure.send({
      sender: env.task,
      taskId: env.id,
      exception: error,
      args: ctx.args,
      kwargs: request.kwargs,
      traceback,
    });
  }
  if (hooks?.afterReturn)
    await guardHook(rt, 'afterReturn', env, () => runWithContext(ctx, () => hooks.afterReturn?.('FAILURE', error, ctx)));
  await postrun(rt, env, ctx.args, error, States.FAILURE);
}

async function retry(
  rt: WorkerRuntime,
  env: Envelope,
  request: RequestInfo,
  ctx: TaskContext,
  def: TaskDef,
  req: RetryRequestOptions,
  raised: unknown,
  duration: number,
): Promise<void> {
  const { app, backend } = rt;
  const now = backend.clock.now();
  const h = env.headers;
  const countdown =
    req.countdown ?? (req.eta !== undefined ? Math.max(0, (req.eta.getTime() - now) / 1000) : retryCountdown(def.options.retry, h.retries));
  const etaMs = now + countdown * 1000;
  const next: Envelope = {
    ...env,
    args: req.args ? req.args.map((a, i) => toJson(a, `retry args[${i}]`)) : env.args,
    headers: { ...h, retries: h.retries + 1, ...(countdown > 0 ? { eta: new Date(etaMs).toISOString() } : { eta: undefined }) },
  };
  await publish(app, backend, [{ envelope: next, queue: h.queue ?? app.queueOf(env.task), delaySeconds: delayFor(etaMs, now) }]);
  const reason = req.error ?? raised;
  const serialized = serializeError(reason);
  await backend.store.writeProgress({
    ...baseRecord(env, def, app.settings.resultExtended),
    state: States.RETRY,
    error: serialized,
    retries: h.retries + 1,
    ...(reason instanceof Error && reason.stack ? { traceback: reason.stack } : {}),
  });
  const { signals } = app;
  if (def.options.onRetry) await guardHook(rt, 'onRetry', env, () => runWithContext(ctx, () => def.options.onRetry?.(reason, ctx)));
  if (signals.taskRetry.hasReceivers)
    await signals.taskRetry.send({ sender: env.task, request, reason: raised instanceof Retry ? raised : new Retry(req) });
  await emit(rt, env, def, DetailTypes.retry, { state: 'RETRY', error: serialized, durationMs: duration });
  await postrun(rt, env, ctx.args, raised, States.RETRY);
}

async function revokeExpired(
  rt: WorkerRuntime,
  env: Envelope,
  request: RequestInfo,
  lease: { owner: string; until: number },
): Promise<Disposition> {
  const { backend } = rt;
  const error = serializeError(
    new CeleriacError(ErrorCodes.TASK_REVOKED, `task ${env.task}[${env.id}] expired at ${env.headers.expires} before it ran`),
  );
  const hasCont = (env.k?.length ?? 0) > 0;
  const w = await backend.store.writeIfNotReady({
    ...baseRecord(env, rt.app.getTask(env.task), rt.app.settings.resultExtended),
    state: States.REVOKED,
    error: { ...error, type: 'TaskRevokedError' },
    revokedBy: 'expired',
    dateDone: backend.clock.now(),
    cont: hasCont ? 'pending' : 'done',
    ...(hasCont ? { lease } : {}),
  });
  if (!w.written) return 'ack';
  await finishRevoked(rt, env, request, true, { ...error, type: 'TaskRevokedError' }, hasCont, lease);
  return 'ack';
}

async function finishRevoked(
  rt: WorkerRuntime,
  env: Envelope,
  request: RequestInfo,
  expired: boolean,
  error: SerializedError,
  hasCont: boolean,
  lease: { owner: string; until: number },
): Promise<void> {
  const { app, backend } = rt;
  if (app.signals.taskRevoked.hasReceivers) await app.signals.taskRevoked.send({ sender: env.task, request, terminated: false, expired });
  if (hasCont) {
    const flow = await rt.flowOf(env);
    if (flow) {
      const out = new Outbox(lease);
      await continueRevoked(rt.engine, flow, env.k ?? [], env.id, out);
      await publishOutbox(rt, out);
    }
  }
  await emit(rt, env, app.getTask(env.task), DetailTypes.revoked, { state: 'REVOKED', error, durationMs: 0 });
  if (hasCont) await backend.store.finishContinuations(env.id);
}

/** Finishes the continuations of a ready record whose writer did not (crash, or `revoke()`). */
/**
 * A ready record whose only pending work is a join (a chord member): redoing it is idempotent —
 * the set add is a no-op, the firing is claim-guarded — so a duplicate need not wait for a lease.
 */
async function replayable(rt: WorkerRuntime, env: Envelope, rec: ResultRecord): Promise<boolean> {
  if (rec.state === States.REVOKED || !joinOnly(env.k)) return false;
  const node = nodeOf(await rt.flowOf(env), env);
  return rec.state === States.SUCCESS ? !node?.link?.length : !node?.err?.length;
}

/**
 * Redoes a chord member's pending join. Its event was published before it was counted, so it is
 * published again only if the member is not in the join's set yet (the first delivery crashed in
 * between); then the join runs again, firing the body if this member completes it.
 */
async function replay(rt: WorkerRuntime, env: Envelope, rec: ResultRecord, lease: { owner: string; until: number }): Promise<Disposition> {
  const flow = await rt.flowOf(env);
  const f = env.k?.[0];
  if (!flow || !f || isChainFrame(f)) return 'ack';
  const shard = Math.floor(f.x / shardSizeFor(f.n));
  const shards = await rt.backend.store.joinRead(f.j, shard + 1);
  if (!shards[shard]?.done.includes(f.x)) await emitStored(rt, env, rec);
  const out = new Outbox(lease);
  if (rec.state === States.SUCCESS) await continueSuccess(rt.engine, flow, env.k ?? [], rec.result ?? null, env.id, out);
  else await continueFailure(rt.engine, flow, env.k ?? [], rec.error ?? serializeError(new Error('failed')), env.id, out);
  await publishOutbox(rt, out);
  return 'ack';
}

/** The lifecycle event of a stored outcome, published again by a replay or a resume. */
async function emitStored(rt: WorkerRuntime, env: Envelope, rec: ResultRecord): Promise<void> {
  const def = rt.app.getTask(env.task);
  if (rec.state === States.SUCCESS) {
    await emit(rt, env, def, DetailTypes.success, { state: 'SUCCESS', result: rec.result ?? null, durationMs: rec.durationMs ?? 0 });
  } else {
    await emit(rt, env, def, DetailTypes.failure, {
      state: 'FAILURE',
      ...(rec.error ? { error: rec.error } : {}),
      durationMs: rec.durationMs ?? 0,
    });
  }
}

/** Whether lifecycle events are published for this task. */
function eventsOn(rt: WorkerRuntime, def: TaskDef | undefined): boolean {
  return def?.options.events ?? rt.app.settings.events;
}

/**
 * Did our conditional write land? Also true when the write reports "condition failed" against a
 * record carrying our own lease: a write that was applied but answered with an error, then
 * retried by the SDK, fails its condition on itself.
 */
function ours(w: WriteResult, lease: { owner: string }): boolean {
  return w.written || w.current?.lease?.owner === lease.owner;
}

async function resume(rt: WorkerRuntime, env: Envelope, rec: ResultRecord, lease: { owner: string; until: number }): Promise<Disposition> {
  const { backend } = rt;
  if (!(await backend.store.takeOver(env.id, rec.lease?.owner, lease))) return 'retry';
  const flow = await rt.flowOf(env);
  const node = nodeOf(flow, env);
  if (rec.state === States.REVOKED) {
    const error = rec.error ?? {
      ...serializeError(new CeleriacError(ErrorCodes.TASK_REVOKED, `task ${env.id} was revoked`)),
      type: 'TaskRevokedError',
    };
    await finishRevoked(rt, env, requestOf(env), rec.revokedBy === 'expired', error, true, lease);
    return 'ack';
  }
  const out = new Outbox(lease);
  if (flow) {
    if (rec.state === States.SUCCESS) {
      const value = rec.result ?? null;
      if (node) await fireCallbacks(rt.engine, flow, node, env.id, value, out);
      await continueSuccess(rt.engine, flow, env.k ?? [], value, env.id, out);
    } else {
      const error = rec.error ?? serializeError(new Error('failed'));
      await continueFailure(rt.engine, flow, env.k ?? [], error, env.id, out);
      if (node)
        await fireErrbacks(
          rt.engine,
          flow,
          node,
          { id: env.id, task: env.task, args: env.args, error, rootId: env.headers.rootId, traceback: rec.traceback },
          out,
        );
    }
    await publishOutbox(rt, out);
  }
  await emitStored(rt, env, rec);
  await backend.store.finishContinuations(env.id);
  return 'ack';
}

/** Publishes an outbox, then marks its create-once claims done (so a replay does not publish again). */
async function publishOutbox(rt: WorkerRuntime, out: Outbox): Promise<void> {
  // Most chord members only count themselves: nothing to publish, nothing to mark.
  if (out.dispatches.length === 0 && out.claims.length === 0) return;
  await publish(rt.app, rt.backend, out.dispatches);
  for (const key of out.claims) await rt.backend.store.finishContinuations(key);
}

async function joinFired(rt: WorkerRuntime, env: Envelope): Promise<boolean> {
  const f = env.k?.[0];
  if (!f || isChainFrame(f)) return false;
  return (await rt.backend.store.get(joinClaimKey(f.j))) !== undefined;
}

async function handleChordDeadline(rt: WorkerRuntime, env: Envelope, lease: { owner: string; until: number }): Promise<Disposition> {
  const flow = await rt.flowOf(env);
  if (!flow) throw new CeleriacError(ErrorCodes.BAD_ENVELOPE, 'chord deadline message without a workflow');
  const out = new Outbox(lease);
  const r = await chordDeadline(rt.engine, flow, env.k ?? [], out);
  if (r === 'fired') {
    await publishOutbox(rt, out);
    rt.app.logger.warn('chord deadline passed; chord failed with CHORD_TIMEOUT', { rootId: env.headers.rootId });
  }
  return 'ack';
}

/**
 * A message that is not a valid call (it cannot be decoded, or its workflow is a lie): stored as
 * FAILURE with a specific code under `id`, the transport's message id made safe — never under
 * the id it claims (see KEYS.md, "what a refused message may claim"). Its event names the task
 * `(refused)`, so no static link of the task it claims acts on it.
 */
async function rejectMessage(
  rt: WorkerRuntime,
  msg: IncomingMessage,
  id: string,
  task: string | undefined,
  error: CeleriacError,
): Promise<Disposition> {
  const { app, backend } = rt;
  app.logger.warn('rejected a message that is not a valid call', { messageId: msg.messageId, id, code: error.code, reason: error.message });
  if (app.signals.taskRejected.hasReceivers)
    await app.signals.taskRejected.send({ sender: task ?? '(unknown)', message: msg.body, exc: error });
  const w = await backend.store.writeIfNotReady({
    id,
    state: States.FAILURE,
    error: serializeError(error),
    ...(task ? { task } : {}),
    ...(msg.queue ? { queue: msg.queue } : {}),
    dateDone: backend.clock.now(),
    cont: 'done',
  });
  if (!w.written) return 'ack'; // a redelivery of a refusal already stored (and published)
  const now = backend.clock.now();
  if (app.settings.events && backend.events) {
    await backend.events.publish([
      {
        source: eventSource(app.name),
        detailType: DetailTypes.failure,
        time: now,
        detail: {
          v: 1,
          app: app.name,
          task: REFUSED_TASK,
          id,
          rootId: id,
          parentId: null,
          state: 'FAILURE',
          error: serializeError(error) as unknown as Json,
          durationMs: 0,
          attempt: 0,
          ...(msg.queue ? { queue: msg.queue } : {}),
          timestamp: new Date(now).toISOString(),
        },
      },
    ]);
  }
  return 'ack';
}

async function emit(
  rt: WorkerRuntime,
  env: Envelope,
  def: TaskDef | undefined,
  detailType: DetailType,
  part: Pick<TaskEventDetail, 'state' | 'durationMs'> & { result?: Json; error?: SerializedError; resultTruncated?: true },
): Promise<void> {
  const { app, backend } = rt;
  if (!(def?.options.events ?? app.settings.events)) return;
  const now = backend.clock.now();
  const h = env.headers;
  if (part.result !== undefined && part.result !== null && resultBytes(part.result) > EVENT_RESULT_BYTES) {
    // An EventBridge entry holds 256 KB; a larger result stays in the store, the event says so.
    part = { ...part, result: null, resultTruncated: true };
  }
  const detail: TaskEventDetail = {
    v: 1,
    app: app.name,
    task: env.task,
    id: env.id,
    rootId: h.rootId,
    parentId: h.parentId,
    ...(h.groupId !== undefined ? { groupId: h.groupId } : {}),
    attempt: h.retries,
    ...(h.queue !== undefined ? { queue: h.queue } : {}),
    timestamp: new Date(now).toISOString(),
    ...part,
  };
  await backend.events.publish([
    { source: eventSource(app.name), detailType, detail: detail as unknown as Record<string, Json>, time: now, resources: [] },
  ]);
}

/** `taskPostrun`, last of every outcome (also RETRY, IGNORED, REJECTED). */
async function postrun(
  rt: WorkerRuntime,
  env: Envelope,
  args: readonly unknown[],
  retval: unknown,
  state: PostrunPayload['state'],
): Promise<void> {
  const signal = rt.app.signals.taskPostrun;
  if (!signal.hasReceivers) return;
  await signal.send({ sender: env.task, taskId: env.id, task: env.task, args, kwargs: env.kwargs, retval, state });
}

async function guardHook(rt: WorkerRuntime, hook: string, env: Envelope, fn: () => unknown): Promise<void> {
  try {
    await fn();
  } catch (e) {
    // A hook runs after the outcome is stored: its error cannot change the outcome, so it is logged.
    rt.app.logger.error(`${hook} hook failed`, { task: env.task, id: env.id, error: serializeError(e) });
  }
}

/**
 * The workflow engine: starts plan nodes and runs continuations (next chain step, fan-in joins,
 * chain tails on failure) over the ports. Shared by the producer (starting a canvas) and the
 * worker (continuing one), so both follow one set of rules.
 */
import { CeleriacError, ChordError, ErrorCodes } from '../errors';
import type { Clock, Lease, ResultRecord, ResultStore } from '../ports';
import type { Envelope, EnvelopeHeaders } from '../protocol/envelope';
import { reprError, type SerializedError, serializeError } from '../protocol/failure';
import { CHORD_DEADLINE_TASK } from '../protocol/flow';
import { errbackClaimKey, joinClaimKey } from '../protocol/ids';
import type { Json, JsonObject } from '../protocol/json';
import {
  type ChainFrame,
  type ChainNode,
  type Frame,
  type GroupNode,
  isChainFrame,
  type JoinFrame,
  type NodeOptions,
  type Plan,
  type PlanNode,
  planNode,
  resultIdOf,
  type TaskNode,
  taskIdsUnder,
  type WorkflowRef,
} from '../protocol/plan';
import { States } from '../results/states';
import { deriveId } from './ids';

/** Longest delay SQS takes on a message; longer waits hop (the worker re-delays). */
export const MAX_DELAY_SECONDS = 900;
/** Members per join shard: one shard item takes at most this many writes. */
export const DEFAULT_JOIN_SHARD_SIZE = 100;
/** Most shards a join uses; larger joins grow their shards instead (see README, fan-in ceiling). */
export const MAX_JOIN_SHARDS = 100;
export { CHORD_DEADLINE_TASK } from '../protocol/flow';

export interface EngineEnv {
  readonly store: ResultStore;
  readonly clock: Clock;
  /** Logical queue for a task call. */
  readonly queueOf: (task: string, opts: NodeOptions | undefined) => string;
  /** Seconds a chord header may take; 0 disables the deadline. */
  readonly chordDeadlineSeconds: number;
  /** Whether an errback task is new-style (called inline in the failing worker) rather than published. */
  readonly isInlineErrback: (node: TaskNode) => boolean;
  /** Calls a new-style errback inline; its own errors are logged, not raised. */
  readonly runInlineErrback: (node: TaskNode, failed: FailedTask) => Promise<void>;
  /** The task's default fairness key for a call with `args` (kwargs last), if it has one (lib/runtime/fairness.ts). */
  readonly defaultFairnessKey: (task: string, args: readonly Json[]) => string | undefined;
  /** The task's own `expires` (seconds after a call is sent), for calls that set none (Celery's `Task.expires`). */
  readonly defaultExpires: (task: string) => number | undefined;
}

/** What errbacks learn about the failed task. */
export interface FailedTask {
  readonly id: string;
  readonly task: string;
  readonly args: readonly Json[];
  readonly kwargs: JsonObject | undefined;
  readonly retries: number;
  readonly parentId: string | null;
  readonly groupId: string | undefined;
  readonly error: SerializedError;
  readonly rootId: string;
  readonly traceback: string | undefined;
}

/** One message to publish. */
export interface Dispatch {
  readonly envelope: Envelope;
  readonly queue: string;
  readonly delaySeconds: number;
}

/** The workflow a continuation runs in. */
export interface Flow {
  readonly plan: Plan;
  readonly workflow: WorkflowRef;
  readonly rootId: string;
  /**
   * The fairness key the messages this flow sends inherit: the call's (`applyAsync({ fairnessKey })`)
   * at the producer, the message's own (`headers.fairnessKey`) in the worker.
   */
  readonly fairnessKey?: string | undefined;
}

/** Collects the messages a step produces, so they are published together after the guard write. */
const DONE: Promise<void> = Promise.resolve();

export class Outbox {
  readonly dispatches: Dispatch[] = [];
  /** Create-once claims to mark done once the dispatches are published. */
  readonly claims: string[] = [];
  /** The lease of the delivery doing this work (claims are taken under it). */
  readonly lease: Lease | undefined;
  constructor(lease?: Lease) {
    this.lease = lease;
  }
}

/**
 * Another delivery holds the lease on a record or claim this one needs, and is presumed alive
 * (its lease has not run out): the message is retried later, by when the holder has finished or
 * died. Recognised by class; `holder` is the lease as read.
 */
export class LeaseHeldError extends CeleriacError {
  readonly holder: Lease;
  constructor(key: string, holder: Lease) {
    super(ErrorCodes.LEASE_HELD, `${key} is held by another delivery until ${new Date(holder.until).toISOString()}`, {
      retryable: true,
      details: { key, until: holder.until },
    });
    this.name = 'LeaseHeldError';
    this.holder = holder;
  }
}

/** A plan or continuation frame that breaks the engine's structural rules (a forged or corrupted message). */
function invalidWorkflow(message: string): CeleriacError {
  return new CeleriacError(ErrorCodes.INVALID_CANVAS, message);
}

/**
 * True when a continuation stack's own work is idempotent on replay (it starts with a join, whose
 * set add is a no-op the second time and whose firing is claim-guarded): such a task needs no
 * "continuations done" write of its own, which keeps a join at one write per member.
 */
export function joinOnly(k: readonly Frame[] | undefined): boolean {
  const f = k?.[0];
  return f !== undefined && !isChainFrame(f);
}

interface Origin {
  readonly parentId: string | null;
  readonly groupId?: string;
  readonly groupIndex?: number;
}

// ── starting nodes ─────────────────────────────────────────────────────────────────────────

/** Starts node `index` with an optional input (the previous result) and continuation `k`. */
export async function startNode(
  env: EngineEnv,
  flow: Flow,
  index: number,
  input: { readonly value: Json } | undefined,
  k: readonly Frame[],
  origin: Origin,
  out: Outbox,
): Promise<void> {
  const node = planNode(flow.plan, index);
  switch (node.kind) {
    case 'task':
      out.dispatches.push(taskDispatch(env, flow, index, node, input, k, origin));
      return;
    case 'chain': {
      const first = node.steps[0];
      if (first === undefined) return continueSuccess(env, flow, k, input?.value ?? null, origin.parentId ?? flow.rootId, out);
      const next: readonly Frame[] = node.steps.length > 1 ? [{ chain: index, step: 1 }, ...k] : k;
      return startNode(env, flow, first, input, next, origin, out);
    }
    case 'group':
      return startGroup(env, flow, index, node, input, k, undefined, origin, out);
    case 'chord': {
      const header = planNode(flow.plan, node.header);
      if (header.kind !== 'group') throw invalidWorkflow('chord header must be a group node');
      if (header.members.length === 0) return startNode(env, flow, node.body, { value: [] }, k, origin, out);
      const deadlineS = node.deadline ?? env.chordDeadlineSeconds;
      const d = deadlineS > 0 ? env.clock.now() + deadlineS * 1000 : undefined;
      await startGroup(env, flow, node.header, header, input, k, { body: node.body }, origin, out);
      if (d !== undefined) out.dispatches.push(deadlineDispatch(env, flow, node.header, header, { body: node.body, deadline: d }, k));
      return;
    }
  }
}

async function startGroup(
  env: EngineEnv,
  flow: Flow,
  index: number,
  node: GroupNode,
  input: { readonly value: Json } | undefined,
  k: readonly Frame[],
  chord: { readonly body: number } | undefined,
  origin: Origin,
  out: Outbox,
): Promise<void> {
  const n = node.members.length;
  if (n === 0) {
    // An empty group resolves at once to [] (GROUP-03); followed by something, that gets [].
    if (chord) return startNode(env, flow, chord.body, { value: [] }, k, origin, out);
    return continueSuccess(env, flow, k, [], origin.parentId ?? flow.rootId, out);
  }
  const joins = chord !== undefined || k.length > 0;
  for (let x = 0; x < n; x++) {
    const member = node.members[x] as number;
    const frames: readonly Frame[] = joins
      ? // The deadline is not repeated here: only the deadline check's own frame carries `deadline`.
        [
          chord
            ? { joinId: node.id, group: index, member: x, size: n, body: chord.body }
            : { joinId: node.id, group: index, member: x, size: n },
          ...k,
        ]
      : [];
    await startNode(env, flow, member, input, frames, { parentId: origin.parentId, groupId: node.id, groupIndex: x }, out);
  }
}

function taskDispatch(
  env: EngineEnv,
  flow: Flow,
  index: number,
  node: TaskNode,
  input: { readonly value: Json } | undefined,
  k: readonly Frame[],
  origin: Origin,
  idOverride?: string,
): Dispatch {
  const now = env.clock.now();
  const o = node.opts;
  const args = input !== undefined && !node.immutable ? [input.value, ...node.args] : node.args;
  let etaMs: number | undefined;
  if (o?.countdown !== undefined) etaMs = now + Math.max(0, o.countdown) * 1000;
  else if (o?.eta !== undefined) etaMs = Date.parse(o.eta);
  const queue = env.queueOf(node.name, o);
  const expires = o?.expires ?? env.defaultExpires(node.name);
  const fairnessKey = o?.fairnessKey ?? flow.fairnessKey ?? env.defaultFairnessKey(node.name, node.kwargs ? [...args, node.kwargs] : args);
  const headers: EnvelopeHeaders = {
    rootId: flow.rootId,
    parentId: origin.parentId,
    retries: 0,
    queue,
    ...(origin.groupId !== undefined ? { groupId: origin.groupId, groupIndex: origin.groupIndex as number } : {}),
    ...(etaMs !== undefined && etaMs > now ? { eta: new Date(etaMs).toISOString() } : {}),
    ...(expires !== undefined ? { expires: expiresAt(expires, now) } : {}),
    ...(o?.timeLimit !== undefined || o?.softTimeLimit !== undefined
      ? { timeLimit: [o?.timeLimit ?? null, o?.softTimeLimit ?? null] as const }
      : {}),
    // Carried when the call says either way: its `false` wins over the task's own `ignoreResult: true`.
    ...(o?.ignoreResult !== undefined ? { ignoreResult: o.ignoreResult } : {}),
    ...(o?.headers ? { custom: o.headers } : {}),
    ...(node.replaced !== undefined ? { replaced: node.replaced } : {}),
    ...(fairnessKey !== undefined ? { fairnessKey } : {}),
  };
  const linked = node.link !== undefined || node.linkError !== undefined;
  const needsFlow = k.length > 0 || linked;
  const envelope: Envelope = {
    v: 1,
    id: idOverride ?? node.id,
    task: node.name,
    args: [...args],
    ...(node.kwargs ? { kwargs: node.kwargs } : {}),
    headers,
    // `node` finds the node's links and errbacks; a node without them needs only its frames.
    ...(needsFlow ? (linked ? { workflow: flow.workflow, node: index } : { workflow: flow.workflow }) : {}),
    ...(k.length > 0 ? { continuation: k } : {}),
  };
  return { envelope, queue, delaySeconds: delayFor(etaMs, now) };
}

function deadlineDispatch(
  env: EngineEnv,
  flow: Flow,
  g: number,
  group: GroupNode,
  chord: { body: number; deadline: number },
  k: readonly Frame[],
): Dispatch {
  const now = env.clock.now();
  const frame: JoinFrame = {
    joinId: group.id,
    group: g,
    member: 0,
    size: group.members.length,
    body: chord.body,
    deadline: chord.deadline,
  };
  // The check rides on the body's queue: it exists whatever queues the app declares.
  const body = firstTask(flow.plan, chord.body);
  const queue = body ? env.queueOf(body.name, body.opts) : env.queueOf(CHORD_DEADLINE_TASK, undefined);
  return {
    queue,
    delaySeconds: delayFor(chord.deadline, now),
    envelope: {
      v: 1,
      id: deriveId(group.id, 'deadline'),
      task: CHORD_DEADLINE_TASK,
      args: [],
      headers: {
        rootId: flow.rootId,
        parentId: null,
        retries: 0,
        queue,
        eta: new Date(chord.deadline).toISOString(),
        ...(flow.fairnessKey !== undefined ? { fairnessKey: flow.fairnessKey } : {}),
      },
      workflow: flow.workflow,
      continuation: [frame, ...k],
    },
  };
}

/** SQS DelaySeconds for an ETA: capped at 900; the worker re-delays the rest. */
export function delayFor(etaMs: number | undefined, now: number): number {
  if (etaMs === undefined || etaMs <= now) return 0;
  return Math.min(MAX_DELAY_SECONDS, Math.ceil((etaMs - now) / 1000));
}

function expiresAt(expires: number | string, now: number): string {
  if (typeof expires === 'number') return new Date(now + Math.max(0, expires) * 1000).toISOString();
  return new Date(expires).toISOString();
}

// ── continuations ──────────────────────────────────────────────────────────────────────────

function chainOf(flow: Flow, f: ChainFrame): ChainNode {
  const chain = planNode(flow.plan, f.chain);
  if (chain.kind !== 'chain') throw invalidWorkflow('chain frame points at a non-chain node');
  return chain;
}

/** After `finishedId` succeeded with `value`: the next chain step, or the join it belongs to. */
export function continueSuccess(
  env: EngineEnv,
  flow: Flow,
  k: readonly Frame[],
  value: Json,
  finishedId: string,
  out: Outbox,
): Promise<void> {
  // Not `async`: it only hands on the promise of the next step (an async wrapper would add two
  // microtask hops per member of every chord).
  const f = k[0];
  const rest = k.slice(1);
  if (f === undefined) return DONE;
  if (isChainFrame(f)) {
    const chain = chainOf(flow, f);
    const step = chain.steps[f.step];
    if (step === undefined) return continueSuccess(env, flow, rest, value, finishedId, out);
    const next: readonly Frame[] = f.step + 1 < chain.steps.length ? [{ chain: f.chain, step: f.step + 1 }, ...rest] : rest;
    return startNode(env, flow, step, { value }, next, { parentId: finishedId }, out);
  }
  return join(env, flow, f, rest, false, finishedId, out);
}

/**
 * After `failedId` failed for good: the rest of its chain is stored FAILURE with the same error
 * and never runs (CHAIN-05); a join counts the member as failed.
 */
export async function continueFailure(
  env: EngineEnv,
  flow: Flow,
  k: readonly Frame[],
  error: SerializedError,
  failedId: string,
  out: Outbox,
): Promise<void> {
  const f = k[0];
  const rest = k.slice(1);
  if (f === undefined) return;
  if (isChainFrame(f)) {
    const chain = chainOf(flow, f);
    const ids: string[] = [];
    for (const step of chain.steps.slice(f.step)) taskIdsUnder(flow.plan, step, ids);
    await markFailed(env, flow, ids, error, failedId);
    return continueFailure(env, flow, rest, error, failedId, out);
  }
  return join(env, flow, f, rest, true, failedId, out);
}

/**
 * After a revoked (or expired) task: its chain tail is never sent and stays PENDING (as Celery),
 * but a join counts it as failed, so a chord never waits for it.
 */
export async function continueRevoked(env: EngineEnv, flow: Flow, k: readonly Frame[], revokedId: string, out: Outbox): Promise<void> {
  const joinAt = k.findIndex((f) => !isChainFrame(f));
  if (joinAt === -1) return;
  return join(env, flow, k[joinAt] as JoinFrame, k.slice(joinAt + 1), true, revokedId, out);
}

/**
 * Stores FAILURE for steps that will never run (a failed chain's tail, a failed chord's body), each
 * under its task name so that `result`, `inspect` and the dashboard say which step it is.
 */
async function markFailed(env: EngineEnv, flow: Flow, ids: readonly string[], error: SerializedError, parentId: string): Promise<void> {
  const now = env.clock.now();
  const wanted = new Set(ids);
  const names = new Map<string, string>();
  for (const n of flow.plan.nodes) if (n.kind === 'task' && wanted.has(n.id)) names.set(n.id, n.name);
  await Promise.all(
    ids.map((id) => {
      const task = names.get(id);
      const rec: ResultRecord = {
        id,
        ...(task === undefined ? {} : { task }),
        state: States.FAILURE,
        error,
        rootId: flow.rootId,
        parentId,
        dateDone: now,
        cont: 'done',
      };
      return env.store.writeIfNotReady(rec);
    }),
  );
}

/** Shard size for a join of `n` members: 100, grown so that no join has more than 100 shards. */
export function shardSizeFor(n: number): number {
  return Math.max(DEFAULT_JOIN_SHARD_SIZE, Math.ceil(n / MAX_JOIN_SHARDS));
}

/**
 * Counts member `f.member` of join `f.joinId` (idempotently: the shard is a set) and, if it completed the
 * join, fires what follows exactly once. One write per member; reads only by shard completers.
 */
async function join(
  env: EngineEnv,
  flow: Flow,
  f: JoinFrame,
  rest: readonly Frame[],
  failed: boolean,
  finishedId: string,
  out: Outbox,
): Promise<void> {
  const size = shardSizeFor(f.size);
  const shard = Math.floor(f.member / size);
  const shards = Math.ceil(f.size / size);
  const mine = await env.store.joinAdd(f.joinId, shard, f.member, failed);
  const shardMembers = Math.min(size, f.size - shard * size);
  if (mine.count < shardMembers) return;
  let failedIdx: number[] = [...mine.failed];
  if (shards > 1) {
    const all = await env.store.joinRead(f.joinId, shards);
    for (let s = 0; s < shards; s++) {
      const members = Math.min(size, f.size - s * size);
      const sh = all[s];
      if (!sh || sh.done.length < members) return; // another shard is still running; its completer fires
    }
    failedIdx = all.flatMap((s) => s.failed);
  }
  const key = joinClaimKey(f.joinId);
  if (!(await claimOnce(env, key, finishedId, out))) return;
  await fireJoin(env, flow, f, rest, failedIdx, finishedId, out);
  out.claims.push(key);
}

export { ignoredResultKey, joinClaimKey } from '../protocol/ids';

/**
 * Create-once with an owner: true for the first claimant; for the same owner again (a redelivered
 * completer) true only when the earlier holder's lease ran out before it marked the claim done;
 * false for anyone else. A holder whose lease is still running makes the caller retry later.
 */
export async function claimOnce(env: EngineEnv, key: string, owner: string, out: Outbox): Promise<boolean> {
  const lease = out.lease ?? { owner: `${owner}:producer`, until: env.clock.now() + 60_000 };
  const r = await env.store.writeIfNotReady({
    id: key,
    state: States.SUCCESS,
    result: owner,
    dateDone: env.clock.now(),
    cont: 'pending',
    lease,
  });
  if (r.written) return true;
  const cur = r.current;
  if (cur?.result !== owner || cur.cont === 'done') return false;
  if (cur.lease && cur.lease.until > env.clock.now() && cur.lease.owner !== lease.owner)
    throw new LeaseHeldError(`claim ${key}`, cur.lease);
  return env.store.takeOver(key, cur.lease?.owner, lease);
}

async function fireJoin(
  env: EngineEnv,
  flow: Flow,
  f: JoinFrame,
  rest: readonly Frame[],
  failedIdx: readonly number[],
  finishedId: string,
  out: Outbox,
): Promise<void> {
  const group = planNode(flow.plan, f.group);
  if (group.kind !== 'group') throw invalidWorkflow('join frame points at a non-group node');
  const memberIds = group.members.map((m) => resultIdOf(flow.plan, m));
  let firstFailed = failedIdx.length > 0 ? Math.min(...failedIdx) : -1;
  let records: (ResultRecord | undefined)[] = [];
  if (firstFailed === -1) {
    records = await env.store.getMany(memberIds);
    // A member counted as done but not stored SUCCESS cannot give a value: treat as failed.
    firstFailed = records.findIndex((r) => r?.state !== States.SUCCESS);
  }
  if (firstFailed === -1) {
    const values = records.map((r) => (r?.result === undefined ? null : r.result));
    if (f.body !== undefined) return startNode(env, flow, f.body, { value: values }, rest, { parentId: finishedId }, out);
    return continueSuccess(env, flow, rest, values, finishedId, out);
  }
  const depId = memberIds[firstFailed] as string;
  const dep = await env.store.get(depId);
  const why = dep?.error
    ? reprError(dep.error)
    : dep?.state === States.REVOKED
      ? 'TaskRevokedError("revoked")'
      : `state ${dep?.state ?? 'PENDING'}`;
  const error = serializeError(new ChordError(`Dependency ${depId} raised ${why}`, { details: { dependency: depId } }));
  await failJoin(env, flow, f, rest, error, finishedId, out);
}

/** A join that cannot complete: the chord body is stored FAILURE, its errbacks fire once, and what follows fails too. */
async function failJoin(
  env: EngineEnv,
  flow: Flow,
  f: JoinFrame,
  rest: readonly Frame[],
  error: SerializedError,
  failedId: string,
  out: Outbox,
): Promise<void> {
  if (f.body !== undefined) {
    const ids = taskIdsUnder(flow.plan, f.body);
    await markFailed(env, flow, ids, error, failedId);
    const first = firstTask(flow.plan, f.body);
    if (first) {
      await fireErrbacks(
        env,
        flow,
        first,
        {
          id: first.id,
          task: first.name,
          args: first.args,
          kwargs: first.kwargs,
          // The body never ran: its request is the one it would have had (no retries; the header is its parent).
          retries: 0,
          parentId: null,
          groupId: undefined,
          error,
          rootId: flow.rootId,
          traceback: undefined,
        },
        out,
      );
    }
    // The body's own continuation: if the body is a chain, its tail was marked above; go on outward.
    return continueFailure(env, flow, rest, error, resultIdOf(flow.plan, f.body), out);
  }
  return continueFailure(env, flow, rest, error, failedId, out);
}

/** Fails a chord whose header missed its deadline (exactly once, with CHORD_TIMEOUT). */
export async function chordDeadline(env: EngineEnv, flow: Flow, k: readonly Frame[], out: Outbox): Promise<'fired' | 'complete' | 'lost'> {
  const f = k[0];
  const rest = k.slice(1);
  if (f === undefined || isChainFrame(f)) throw invalidWorkflow('a chord deadline message carries its join frame first');
  const size = shardSizeFor(f.size);
  const shards = Math.ceil(f.size / size);
  const all = await env.store.joinRead(f.joinId, shards);
  const missing: number[] = [];
  for (let s = 0; s < shards; s++) {
    const done = new Set(all[s]?.done ?? []);
    for (let x = s * size; x < Math.min(f.size, (s + 1) * size); x++) if (!done.has(x)) missing.push(x);
  }
  if (missing.length === 0) return 'complete';
  if (!(await claimOnce(env, joinClaimKey(f.joinId), 'deadline', out))) return 'lost';
  out.claims.push(joinClaimKey(f.joinId));
  const group = planNode(flow.plan, f.group);
  const ids = group.kind === 'group' ? missing.slice(0, 5).map((x) => resultIdOf(flow.plan, group.members[x] as number)) : [];
  const err = new ChordError(
    `chord ${f.joinId} timed out: ${missing.length} of ${f.size} header members had not finished by the deadline (${new Date(f.deadline ?? 0).toISOString()}); first missing: ${ids.join(', ')}`,
    { details: { missing: missing.length, of: f.size } },
  );
  const error = { ...serializeError(err), code: ErrorCodes.CHORD_TIMEOUT };
  await failJoin(env, flow, f, rest, error, f.joinId, out);
  return 'fired';
}

function firstTask(plan: Plan, index: number): TaskNode | undefined {
  const n: PlanNode = planNode(plan, index);
  switch (n.kind) {
    case 'task':
      return n;
    case 'chain':
      return n.steps[0] === undefined ? undefined : firstTask(plan, n.steps[0]);
    case 'group':
      return n.members[0] === undefined ? undefined : firstTask(plan, n.members[0]);
    case 'chord':
      return firstTask(plan, n.header) ?? firstTask(plan, n.body);
  }
}

// ── links and errbacks ─────────────────────────────────────────────────────────────────────

/** Callbacks of a task that succeeded: each gets the result prepended (immutable ones do not). */
export async function fireCallbacks(env: EngineEnv, flow: Flow, node: TaskNode, taskId: string, value: Json, out: Outbox): Promise<void> {
  for (const l of node.link ?? []) {
    const cb = planNode(flow.plan, l);
    if (cb.kind === 'task') {
      // Derived from the task it follows (each redelivery sends it under the same id), unless the
      // caller named it (`taskId`), which Celery keeps as given.
      const id = cb.named ? cb.id : deriveId(taskId, `link:${l}`);
      out.dispatches.push(taskDispatch(env, flow, l, cb, { value }, [], { parentId: taskId }, id));
    } else {
      await startNode(env, flow, l, { value }, [], { parentId: taskId }, out);
    }
  }
}

/**
 * Errbacks of a task that failed for good. New-style ones run inline (the errback task decides);
 * old-style ones are published with the failed task's id as first argument (celery-semantics §6).
 */
export async function fireErrbacks(env: EngineEnv, flow: Flow, node: TaskNode, failed: FailedTask, out: Outbox): Promise<void> {
  for (const e of node.linkError ?? []) {
    const eb = planNode(flow.plan, e);
    if (eb.kind === 'task') {
      if (env.isInlineErrback(eb)) {
        // An inline errback has no message to deduplicate: a create-once claim keeps a redelivery
        // of the failed task from calling it again (it is marked done as soon as it returned).
        const key = errbackClaimKey(failed.id, e);
        if (await claimOnce(env, key, failed.id, out)) {
          await env.runInlineErrback(eb, failed);
          await env.store.finishContinuations(key);
        }
        continue;
      }
      const id = eb.named ? eb.id : deriveId(failed.id, `errback:${e}`);
      out.dispatches.push(taskDispatch(env, flow, e, eb, { value: failed.id }, [], { parentId: failed.id }, id));
    } else {
      await startNode(env, flow, e, { value: failed.id }, [], { parentId: failed.id }, out);
    }
  }
}

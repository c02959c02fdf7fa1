import { type CompileEnv, compile, DEFAULT_MAX_NODES, type HandleSpec } from '../canvas/compile';
import { type AnySignature, type CallOnlyOption, Signature } from '../canvas/signature';
import { CeleriacError, ErrorCodes } from '../errors';
import type { Backend, CallClaim } from '../ports';
import { encodePlan } from '../protocol/envelope';
import { checkFairnessKey } from '../protocol/fairness';
import { entryTasks, type Plan, type TaskNode, type WorkflowRef } from '../protocol/plan';
import { checkArity } from '../task/arity';
import { addCalledChild, maybeCurrentTask } from '../task/context';
import type { CallOptions } from '../task/types';
import type { RuntimeApp } from './app-port';
import { type EngineEnv, type Flow, Outbox, startNode } from './engine';
import { taskFairnessKey } from './fairness';
import { type CallScope, callKeyOf, checkIdempotencyKey, claimCallKey, idempotencyTtlMs } from './idempotency';
import { deriveId } from './ids';
import { offloadPlan, PutKeys } from './payloads';
import { publish } from './publish';

/**
 * Applies a canvas: freezes it into a plan, stores the plan if it is too big to travel inline,
 * validates what can be validated before anything is sent, and publishes the first messages.
 */
export async function applyCanvas(
  app: RuntimeApp,
  canvas: AnySignature,
  args: readonly unknown[],
  options: CallOptions,
): Promise<HandleSpec> {
  const backend = await app.backend();
  const { idempotencyKey, idempotencyTtl, fairnessKey: callKey, ...callOptions } = options;
  if (callKey !== undefined) checkFairnessKey(callKey, 'fairnessKey');
  const parent = maybeCurrentTask();
  // The call's key, else the calling task's: a call made inside a task belongs to its tenant.
  const fairnessKey = callKey ?? parent?.fairnessKey;
  let handle: HandleSpec;
  if (idempotencyKey !== undefined) {
    handle = await applyOnce(app, backend, canvas, args, callOptions, { parent, fairnessKey }, idempotencyKey, idempotencyTtl);
  } else {
    const compiled = compile(
      canvas,
      args,
      callOptions,
      compileEnv(app, () => backend.ids.uuid()),
    );
    await validateEntries(app, compiled.plan);
    await start(app, backend, compiled.plan, { parent, fairnessKey });
    handle = compiled.handle;
  }
  if (parent !== undefined && !parent.calledDirectly && options.addToParent !== false) addCalledChild(parent, handle.id);
  return handle;
}

/**
 * A keyed call (README, "Call once: idempotency keys"). Its ids are derived from a fresh seed, so
 * the claim can name the handle before anything is sent, and a later caller, given the seed by
 * the claim, rebuilds the very same handle. The claim is ONE conditional write, made after the
 * call is validated and BEFORE publishing: of racing producers exactly one publishes.
 *
 * A publish that fails with nothing sent frees the key again (the caller's retry may take it);
 * one that got part of the call out keeps it (see {@link sentPartly}). A producer that
 * dies between its claim and its publish leaves a key whose task never runs: later callers get
 * its handle (PENDING) until the key expires. Publishing again from a later caller would close
 * that gap, but it cannot tell a dead first producer from one still publishing, so every keyed
 * call would publish: a duplicate delivery of the same id is settled once, but its body may run
 * twice when both arrive together.
 */
async function applyOnce(
  app: RuntimeApp,
  backend: Backend,
  canvas: AnySignature,
  args: readonly unknown[],
  options: Omit<CallOptions, CallOnlyOption>,
  caller: Caller,
  idempotencyKey: string,
  idempotencyTtl: number | undefined,
): Promise<HandleSpec> {
  checkIdempotencyKey(idempotencyKey);
  const ttlMs = idempotencyTtlMs(idempotencyTtl);
  const seed = backend.ids.uuid();
  const { plan, handle } = compile(canvas, args, options, seededEnv(app, seed));
  await validateEntries(app, plan);
  const scope: CallScope =
    canvas.kind === 'task' ? { kind: 'task', task: (canvas as Signature<unknown[], unknown>).task } : { kind: canvas.kind };
  const key = callKeyOf(app.name, scope, idempotencyKey);
  const held = await claimCallKey(backend.store, key, { id: handle.id, seed }, backend.clock.now(), ttlMs);
  const result = held === undefined ? handle : handleOf(app, canvas, args, options, held, idempotencyKey);
  if (held === undefined) {
    let dispatched = 0;
    try {
      await start(app, backend, plan, caller, (n) => {
        dispatched = n;
      });
    } catch (e) {
      if (!sentPartly(e, dispatched)) await backend.store.releaseCall(key, handle.id);
      throw e;
    }
  }
  return result;
}

/** The handle of the call that holds the key: rebuilt from its seed, or (a queue message's claim) its id. */
function handleOf(
  app: RuntimeApp,
  canvas: AnySignature,
  args: readonly unknown[],
  options: Omit<CallOptions, CallOnlyOption>,
  held: CallClaim,
  idempotencyKey: string,
): HandleSpec {
  const rebuilt =
    held.seed !== undefined
      ? compile(canvas, args, options, seededEnv(app, held.seed)).handle
      : ({ t: 'task', id: held.id, task: canvas instanceof Signature ? canvas.task : '' } as const);
  if (rebuilt.id !== held.id || (held.seed === undefined && canvas.kind !== 'task')) {
    throw new CeleriacError(
      ErrorCodes.IDEMPOTENCY_CONFLICT,
      `idempotency key ${JSON.stringify(idempotencyKey)} is held by ${held.id}, a call of another shape (other options or canvas); use another key`,
      { details: { idempotencyKey, heldBy: held.id } },
    );
  }
  return rebuilt;
}

function compileEnv(app: RuntimeApp, uuid: () => string): CompileEnv {
  return { uuid, maxGroupSize: app.settings.maxGroupSize, maxNodes: DEFAULT_MAX_NODES };
}

/** Ids derived from `seed` in compile order: the same canvas and seed give the same plan and handle. */
function seededEnv(app: RuntimeApp, seed: string): CompileEnv {
  let n = 0;
  return compileEnv(app, () => deriveId(seed, n++));
}

/** Who makes a call: the task it is made in (if any) and the fairness key the call's messages inherit. */
interface Caller {
  readonly parent: ReturnType<typeof maybeCurrentTask>;
  readonly fairnessKey: string | undefined;
}

/**
 * Stores the large arguments of the plan (README, "Large payloads") and the plan if it does not
 * travel inline, and publishes its first messages. If that fails with nothing sent, the
 * arguments it stored are deleted again.
 */
async function start(
  app: RuntimeApp,
  backend: Backend,
  compiled: Plan,
  caller: Caller,
  publishing?: (messages: number) => void,
): Promise<void> {
  const { parent, fairnessKey } = caller;
  const puts = new PutKeys();
  let dispatched = 0;
  try {
    const plan = await offloadPlan(backend, app.settings, compiled, puts);
    const wf = await workflowRef(app, backend, plan);
    const flow: Flow = { plan, workflow: wf, rootId: parent?.rootId ?? plan.id, fairnessKey };
    const out = new Outbox();
    await startNode(engineFor(app, backend), flow, plan.root, undefined, [], { parentId: parent?.id ?? null }, out);
    dispatched = out.dispatches.length;
    publishing?.(dispatched);
    await publish(app, backend, out.dispatches);
  } catch (e) {
    if (!sentPartly(e, dispatched)) {
      await puts.discard(backend.payloads).catch((err: unknown) =>
        app.logger.warn('could not delete the payloads of an unsent call; they expire with the bucket lifecycle rule', {
          error: String(err),
        }),
      );
    }
    throw e;
  }
}

/**
 * Whether a failed publish of `dispatched` messages got some of them out: the broker's
 * PUBLISH_FAILED names the ones it did not accept. Then the key is kept — freeing it would let a
 * retry publish the whole call again under new ids, running what was sent twice.
 */
function sentPartly(e: unknown, dispatched: number): boolean {
  if (!(e instanceof CeleriacError) || e.code !== ErrorCodes.PUBLISH_FAILED) return false;
  const failed = e.details?.failed;
  return Array.isArray(failed) && failed.length < dispatched;
}

function engineFor(app: RuntimeApp, backend: Backend): EngineEnv {
  return {
    store: backend.store,
    clock: backend.clock,
    queueOf: (task, opts) => app.queueOf(task, opts),
    chordDeadlineSeconds: app.settings.chordDeadlineSeconds,
    isInlineErrback: () => false,
    runInlineErrback: async () => {},
    defaultFairnessKey: (task, args) => taskFairnessKey(app, task, args),
    defaultExpires: (task) => app.getTask(task)?.options.expires,
  };
}

/**
 * Small plain chains travel inline (saves a write and a read); anything with a group or chord is
 * stored once and referenced, so the first message never grows with the workflow's depth.
 */
async function workflowRef(app: RuntimeApp, backend: Backend, plan: Plan): Promise<WorkflowRef> {
  if (plan.nodes.length === 1) return { plan };
  let groups = 0;
  let linked = false;
  let other = false;
  for (const n of plan.nodes) {
    if (n.kind === 'group') groups++;
    else if (n.kind === 'task') linked ||= n.link !== undefined || n.linkError !== undefined;
    else if (n.kind === 'chord') other = true;
  }
  // A flat group of link-free tasks: no message refers back to the plan, so nothing is stored.
  if (groups === 1 && !linked && !other && !plan.nodes.some((n) => n.kind === 'chain')) return { plan };
  const plain = groups === 0 && !other;
  // Measured in its wire form, which is what a message carries (encoded once per plan).
  const stored = encodePlan(plan);
  if (plain && JSON.stringify(stored).length <= app.settings.inlinePlanBytes) return { plan };
  await backend.store.putPlan(stored);
  return { ref: plan.id };
}

/**
 * Checks entry calls against their tasks (arity, schema) and chord headers, before anything is
 * sent. `from` is the node that starts (the root; for a replacement, the replacement's node).
 */
export async function validateEntries(app: RuntimeApp, plan: Plan, from: number = plan.root): Promise<void> {
  for (const node of entryTasks(plan, from)) {
    const def = app.getTask(node.name);
    if (!def) continue; // sendTask to a task this process does not know: the worker decides
    const args = callArgs(node);
    if (def.options.schema) {
      const r = await def.options.schema['~standard'].validate(args);
      if (r.issues) {
        throw new CeleriacError(
          ErrorCodes.INVALID_ARGS,
          `arguments of ${node.name} are invalid: ${r.issues.map((i) => i.message).join('; ')}`,
        );
      }
    } else {
      checkArity(node.name, def.fn, args.length);
    }
  }
  for (const n of plan.nodes) {
    if (n.kind !== 'chord') continue;
    // The header's entry tasks are its members' first tasks, in one pass.
    for (const t of entryTasks(plan, n.header)) {
      if (t.opts?.ignoreResult ?? app.getTask(t.name)?.options.ignoreResult) {
        throw new CeleriacError(
          ErrorCodes.INVALID_CANVAS,
          `chord header member ${t.name} ignores its result; a chord needs every header result`,
        );
      }
    }
  }
}

function callArgs(node: TaskNode): readonly unknown[] {
  return node.kwargs && Object.keys(node.kwargs).length > 0 ? [...node.args, node.kwargs] : node.args;
}

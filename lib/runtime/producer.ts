import { type CompileEnv, compile, DEFAULT_MAX_NODES, type HandleSpec } from '../canvas/compile';
import type { AnySignature } from '../canvas/signature';
import { CeleriacError, ErrorCodes } from '../errors';
import type { Backend } from '../ports';
import { encodePlan } from '../protocol/envelope';
import { entryTasks, type Plan, type TaskNode, type WorkflowRef } from '../protocol/plan';
import { checkArity } from '../task/arity';
import { addCalledChild, maybeCurrentTask } from '../task/context';
import type { CallOptions } from '../task/types';
import type { RuntimeApp } from './app-port';
import { type EngineEnv, type Flow, Outbox, startNode } from './engine';
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
  const env: CompileEnv = { uuid: () => backend.ids.uuid(), maxGroupSize: app.settings.maxGroupSize, maxNodes: DEFAULT_MAX_NODES };
  const { plan, handle } = compile(canvas, args, options, env);
  await validateEntries(app, plan);
  const parent = maybeCurrentTask();
  const wf = await workflowRef(app, backend, plan);
  const flow: Flow = { plan, workflow: wf, rootId: parent?.rootId ?? plan.id };
  const out = new Outbox();
  await startNode(engineFor(app, backend), flow, plan.root, undefined, [], { parentId: parent?.id ?? null }, out);
  await publish(app, backend, out.dispatches);
  if (parent !== undefined && !parent.calledDirectly && options.addToParent !== false) addCalledChild(parent, handle.id);
  return handle;
}

function engineFor(app: RuntimeApp, backend: Backend): EngineEnv {
  return {
    store: backend.store,
    clock: backend.clock,
    queueOf: (task, opts) => app.queueOf(task, opts),
    chordDeadlineSeconds: app.settings.chordDeadlineSeconds,
    isInlineErrback: () => false,
    runInlineErrback: async () => {},
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
      if (t.opts?.ignoreResult || app.getTask(t.name)?.options.ignoreResult) {
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

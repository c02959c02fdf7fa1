/**
 * What `ctx.replace(sig)` turns into (Celery's `Task.replace`, celery-semantics §4.1 CHAIN-19): the
 * replacement, frozen with the replaced task's id, put in the replaced task's place in its
 * workflow. The worker settles it as the `replaced` outcome (lib/runtime/worker.ts) and starts it
 * as a continuation, so it is published exactly once like any other.
 */
import { compile } from '../canvas/compile';
import { type AnySignature, type CanvasHost, Chain, Chord, Group, Signature } from '../canvas/signature';
import { CeleriacError, ErrorCodes } from '../errors';
import type { Envelope } from '../protocol/envelope';
import { checkPlan } from '../protocol/flow';
import type { Frame, Plan, PlanNode, TaskNode } from '../protocol/plan';
import { planNode } from '../protocol/plan';
import { movedFrames, spliceTask } from '../protocol/splice';
import { ACCUMULATE_TASK } from '../task/replace';
import type { Flow } from './engine';
import { deriveId } from './ids';

/** A compiled replacement: the workflow to continue, where to start it, and with which frames. */
export interface Replacement {
  /** The replaced task's workflow with the replacement in its place (or the replacement alone). */
  readonly plan: Plan;
  /** The replacement's root node in {@link plan}. */
  readonly start: number;
  /** The replaced task's continuation, renumbered for {@link plan}: what runs after the replacement. */
  readonly k: readonly Frame[];
}

/** Limits a replacement is compiled under (the producer's, so one canvas has one set of limits). */
export interface ReplaceLimits {
  readonly maxGroupSize: number;
  readonly maxNodes: number;
}

/** The replacement nesting of the call in `env` (Celery's `replaced_task_nesting`). */
export function nestingOf(env: Envelope): number {
  return env.headers.replaced ?? 0;
}

/**
 * Compiles `canvas` to replace the call in `env`, following Celery's `Task.replace`:
 * - a group (or a chain ending in one) gets a `celeriac.accumulate` body, so the id stores one
 *   value, the list of the members' results;
 * - the replaced task's callbacks and errbacks are linked to the replacement with the usual rules
 *   (a chain's callbacks on its last step, its errbacks on every step; a chord's on its body);
 * - the replacement is frozen with the replaced task's id (the last step of a chain, the body of
 *   a chord), which carries the nesting so that its message is told from the replaced one's;
 * - in a workflow, the replaced node is substituted by the replacement (its place in a chain,
 *   group or chord header is kept), and the replaced call's frames follow the replacement.
 * Task ids are derived from the replaced id, so compiling the same replacement again gives the
 * same ids; the plan's id also names the delivery (`delivery`, its lease owner).
 */
export function compileReplacement(
  canvas: AnySignature,
  env: Envelope,
  flow: Flow | undefined,
  limits: ReplaceLimits,
  delivery: string,
): Replacement {
  const nesting = nestingOf(env) + 1;
  const host = canvas.host;
  const member = flow ? ownIndex(flow.plan, env) : undefined;
  const linked = flow ? linkSource(flow.plan, env, member) : undefined;
  const links = (linked?.link ?? []).map((i) => canvasOf(flow?.plan as Plan, i, host));
  const errbacks = (linked?.err ?? []).map((i) => canvasOf(flow?.plan as Plan, i, host));
  let n = 0;
  const { plan: compiled } = compile(
    withId(withAccumulate(canvas, host), env.id, host),
    [],
    { ...(links.length > 0 ? { link: links } : {}), ...(errbacks.length > 0 ? { linkError: errbacks } : {}) },
    { uuid: () => deriveId(env.id, `replace:${nesting}:${n++}`), maxGroupSize: limits.maxGroupSize, maxNodes: limits.maxNodes },
  );
  let frozen = false;
  const nodes: PlanNode[] = compiled.nodes.map((node) => {
    if (node.t !== 'task' || node.id !== env.id) return node;
    frozen = true;
    return { ...node, rep: nesting };
  });
  if (!frozen) {
    throw new CeleriacError(
      ErrorCodes.INVALID_CANVAS,
      `the replacement of ${env.task}[${env.id}] cannot take its id: no single task stands for its result`,
    );
  }
  const sub: Plan = { ...compiled, nodes };
  // The plan id is this delivery's own: a racing copy whose body built another replacement stores
  // its plan beside this one, never over it (the guard record names the winner's).
  const id = deriveId(env.id, `replace:${nesting}:${delivery}`);
  if (flow === undefined || member === undefined) return { plan: { ...sub, id }, start: sub.root, k: [] };
  const spliced = spliceTask(flow.plan, member, sub, id, limits.maxNodes);
  return { plan: spliced.plan, start: spliced.start, k: movedFrames(env.k ?? [], spliced.moved) };
}

/** The node of the call in its plan, when it is a member of it (not a link or errback call). */
function ownIndex(plan: Plan, env: Envelope): number | undefined {
  const i = checkPlan(plan).byId.get(env.id);
  const n = i === undefined ? undefined : planNode(plan, i);
  return n?.t === 'task' && n.name === env.task ? i : undefined;
}

/** The task node whose links and errbacks the call has: its own, or the link target it was called as. */
function linkSource(plan: Plan, env: Envelope, member: number | undefined): TaskNode | undefined {
  const i = env.at ?? member;
  const n = i === undefined ? undefined : planNode(plan, i);
  return n?.t === 'task' ? n : undefined;
}

/** A group, or a chain ending in one, with Celery's accumulate step after it. */
function withAccumulate(c: AnySignature, host: CanvasHost): AnySignature {
  if (c instanceof Group) return new Chord(host, c, new Signature(host, ACCUMULATE_TASK, []));
  if (c instanceof Chain && c.steps.length > 0) {
    const last = c.steps[c.steps.length - 1] as AnySignature;
    const up = withAccumulate(last, host);
    if (up !== last) return new Chain(host, [...c.steps.slice(0, -1), up], c.options);
  }
  return c;
}

/**
 * The canvas with `id` on the task whose result stands for it (Celery's `freeze(id)`): a chain's
 * last step, a chord's body, all the way down (a chord whose body is a chain: that chain's last step).
 */
function withId(c: AnySignature, id: string, host: CanvasHost): AnySignature {
  if (c instanceof Signature) return c.clone().set({ taskId: id });
  if (c instanceof Chain && c.steps.length > 0) {
    return new Chain(host, [...c.steps.slice(0, -1), withId(c.steps[c.steps.length - 1] as AnySignature, id, host)], c.options);
  }
  if (c instanceof Chord) return new Chord(host, c.header, withId(c.body, id, host), c.options);
  return c; // an empty chain: compile refuses it
}

/** The canvas a plan node was compiled from (for a link or errback the replacement inherits). */
function canvasOf(plan: Plan, i: number, host: CanvasHost): AnySignature {
  const n = planNode(plan, i);
  switch (n.t) {
    case 'task':
      return new Signature(host, n.name, n.args, {
        ...(n.kwargs ? { kwargs: n.kwargs } : {}),
        immutable: n.imm === true,
        options: {
          ...(n.opts ?? {}),
          ...(n.link ? { link: n.link.map((x) => canvasOf(plan, x, host)) } : {}),
          ...(n.err ? { linkError: n.err.map((x) => canvasOf(plan, x, host)) } : {}),
        },
      });
    case 'chain':
      return new Chain(
        host,
        n.steps.map((x) => canvasOf(plan, x, host)),
      );
    case 'group':
      return new Group(
        host,
        n.members.map((x) => canvasOf(plan, x, host)),
      );
    case 'chord':
      return new Chord(
        host,
        canvasOf(plan, n.header, host) as Group<readonly unknown[], readonly unknown[]>,
        canvasOf(plan, n.body, host),
        {
          ...(n.deadline !== undefined ? { chordDeadline: n.deadline } : {}),
        },
      );
  }
}

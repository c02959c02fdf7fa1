/**
 * Plan surgery for `Task.replace`: a replaced task's node is substituted by the plan of its
 * replacement, and everything else of the workflow is kept (its ids included), so the
 * replacement's last task continues the workflow exactly where the replaced task would have.
 */
import { CeleriacError, ErrorCodes } from '../errors';
import { type Frame, isChainFrame, type Plan, type PlanNode, planNode } from './plan';

/** A plan with one task node substituted, and where things went. */
export interface Spliced {
  readonly plan: Plan;
  /** The index of the substituted sub-plan's root in the new plan. */
  readonly start: number;
  /** New index of an old node; throws for a node that was dropped (the replaced task's links). */
  readonly moved: (old: number) => number;
}

/**
 * A copy of `plan` (under id `id`) in which task node `at` is replaced by the whole of `sub`. The
 * replaced node's own links and errbacks are dropped: the caller compiled them into `sub`, where
 * Celery's rules put them. Nodes are renumbered (every kept node is still reachable from the
 * root, so the result passes the plan's tree check).
 */
export function spliceTask(plan: Plan, at: number, sub: Plan, id: string, maxNodes: number): Spliced {
  const out: PlanNode[] = [];
  const map = new Int32Array(plan.nodes.length).fill(-1);
  let start = -1;
  const copy = (src: Plan, i: number, inSub: boolean): number => {
    if (!inSub && i === at) {
      start = copy(sub, sub.root, true);
      return start;
    }
    const n = planNode(src, i);
    if (out.length >= maxNodes) throw new CeleriacError(ErrorCodes.WORKFLOW_TOO_LARGE, `workflow has more than ${maxNodes} nodes`);
    const slot = out.length;
    out.push(n);
    if (!inSub) map[i] = slot;
    const kids = (xs: readonly number[]) => xs.map((x) => copy(src, x, inSub));
    switch (n.t) {
      case 'task':
        out[slot] = { ...n, ...(n.link ? { link: kids(n.link) } : {}), ...(n.err ? { err: kids(n.err) } : {}) };
        break;
      case 'chain':
        out[slot] = { ...n, steps: kids(n.steps) };
        break;
      case 'group':
        out[slot] = { ...n, members: kids(n.members) };
        break;
      case 'chord': {
        const header = copy(src, n.header, inSub);
        out[slot] = { ...n, header, body: copy(src, n.body, inSub) };
        break;
      }
    }
    return slot;
  };
  const root = copy(plan, plan.root, false);
  if (start === -1) throw new RangeError(`plan ${plan.id} does not reach node ${at}`);
  const moved = (old: number): number => {
    const m = map[old];
    if (m === undefined || m === -1) throw new RangeError(`node ${old} of plan ${plan.id} was not kept`);
    return m;
  };
  return { plan: { v: 1, id, root, nodes: out }, start, moved };
}

/** A continuation stack renumbered by {@link spliceTask}'s `moved` (frames point at kept ancestors). */
export function movedFrames(k: readonly Frame[], moved: (old: number) => number): Frame[] {
  return k.map((f) => {
    if (isChainFrame(f)) return { c: moved(f.c), i: f.i };
    return { ...f, g: moved(f.g), ...(f.b !== undefined ? { b: moved(f.b) } : {}) };
  });
}

import type { Domain } from './codec';
import type { JsonObject } from './json';
import type { CHAIN_FRAME, CHAIN_NODE, CHORD_NODE, GROUP_NODE, JOIN_FRAME, NODE_OPTIONS, PLAN, TASK_NODE, WORKFLOW_REF } from './wire';

// The domain types are read off the wire tables (lib/protocol/wire.ts), where each field's
// readable name, wire key and rule are written once.

/**
 * The frozen workflow graph. A canvas is compiled into a flat node table once, at dispatch; every
 * id in it is assigned then (as Celery freezes a canvas), so every result handle exists before
 * anything runs. Composite nodes point at their children by index, so the graph is stored once
 * and never copied into messages: a message carries either this plan (when small) or a reference
 * to it, plus a short continuation stack of {@link Frame}s.
 */
export type Plan = Domain<typeof PLAN>;

/** Per-call options that travel with a task node. Times are seconds, as in Celery. */
export type NodeOptions = Domain<typeof NODE_OPTIONS>;

/** A task call: `immutable` (`si`) calls get no parent result; `link` / `linkError` are node indexes. */
export type TaskNode = Domain<typeof TASK_NODE>;
export type ChainNode = Domain<typeof CHAIN_NODE>;
export type GroupNode = Domain<typeof GROUP_NODE>;
/** `header` is a group node; the chord's own id is the header group's id. */
export type ChordNode = Domain<typeof CHORD_NODE>;

export type PlanNode = TaskNode | ChainNode | GroupNode | ChordNode;

/**
 * One level of "what happens after this finishes". The message carries a stack of these,
 * innermost first; its length is the nesting depth of the canvas, not its size.
 */
export type Frame = ChainFrame | JoinFrame;

/** Continue chain node `chain` at step `step`. */
export type ChainFrame = Domain<typeof CHAIN_FRAME>;

/**
 * Member `member` of `size` of the fan-in `joinId` (a group followed by something). When the
 * last member is counted, `body` (a chord body node) is started with the ordered results; without
 * `body` the list is handed to the next frame. `group` is the group node (to list member result
 * ids at the join). `deadline` is the chord's deadline (epoch ms), on the deadline check's frame only.
 */
export type JoinFrame = Domain<typeof JOIN_FRAME>;

export const isChainFrame = (f: Frame): f is ChainFrame => 'chain' in f;
export const isJoinFrame = (f: Frame): f is JoinFrame => 'joinId' in f;

/**
 * A plan in its stored form (compact wire keys), as the result store keeps it: written by
 * `encodePlan` and read back, as untrusted input, by `decodePlan` (lib/protocol/envelope.ts).
 */
export interface PlanRecord {
  readonly v: 1;
  readonly id: string;
  readonly root: number;
  readonly nodes: readonly JsonObject[];
}

/** Where a message finds its workflow: inline when small, else a stored plan id. */
export type WorkflowRef = Domain<typeof WORKFLOW_REF>;

export function planNode(plan: Plan, index: number): PlanNode {
  const n = plan.nodes[index];
  if (n === undefined) throw new RangeError(`plan ${plan.id} has no node ${index}`);
  return n;
}

/** The id whose result stands for a node: a chain's last step, a chord's body, a group's id. */
export function resultIdOf(plan: Plan, index: number): string {
  const n = planNode(plan, index);
  switch (n.kind) {
    case 'task':
      return n.id;
    case 'group':
      return n.id;
    case 'chain': {
      const last = n.steps[n.steps.length - 1];
      if (last === undefined) throw new RangeError('empty chain has no result id');
      return resultIdOf(plan, last);
    }
    case 'chord':
      return resultIdOf(plan, n.body);
  }
}

/** Every task id under a node, depth first (links and errbacks excluded). */
export function taskIdsUnder(plan: Plan, index: number, out: string[] = []): string[] {
  const n = planNode(plan, index);
  switch (n.kind) {
    case 'task':
      out.push(n.id);
      break;
    case 'chain':
      for (const s of n.steps) taskIdsUnder(plan, s, out);
      break;
    case 'group':
      for (const m of n.members) taskIdsUnder(plan, m, out);
      break;
    case 'chord':
      taskIdsUnder(plan, n.header, out);
      taskIdsUnder(plan, n.body, out);
      break;
  }
  return out;
}

/** The task nodes that run first when a node starts (a chain's first step, every group member…). */
export function entryTasks(plan: Plan, index: number, out: TaskNode[] = []): TaskNode[] {
  const n = planNode(plan, index);
  switch (n.kind) {
    case 'task':
      out.push(n);
      break;
    case 'chain': {
      const first = n.steps[0];
      if (first !== undefined) entryTasks(plan, first, out);
      break;
    }
    case 'group':
      for (const m of n.members) entryTasks(plan, m, out);
      break;
    case 'chord':
      entryTasks(plan, n.header, out);
      break;
  }
  return out;
}

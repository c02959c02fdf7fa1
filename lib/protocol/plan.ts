import type { Json, JsonObject } from './json';

/**
 * The frozen workflow graph. A canvas is compiled into a flat node table once, at dispatch; every
 * id in it is assigned then (as Celery freezes a canvas), so every result handle exists before
 * anything runs. Composite nodes point at their children by index, so the graph is stored once
 * and never copied into messages: a message carries either this plan (when small) or a reference
 * to it, plus a short continuation stack of {@link Frame}s.
 */
export interface Plan {
  readonly v: 1;
  /** Id of the stored plan document (the root task id of the workflow). */
  readonly id: string;
  readonly root: number;
  readonly nodes: readonly PlanNode[];
}

/** Per-call options that travel with a task node. Times are seconds, as in Celery. */
export interface NodeOptions {
  readonly queue?: string;
  readonly countdown?: number;
  /** ISO-8601. */
  readonly eta?: string;
  /** Seconds from dispatch, or ISO-8601 absolute. */
  readonly expires?: number | string;
  readonly timeLimit?: number;
  readonly softTimeLimit?: number;
  readonly ignoreResult?: boolean;
  readonly headers?: JsonObject;
}

export interface TaskNode {
  readonly t: 'task';
  readonly id: string;
  readonly name: string;
  readonly args: readonly Json[];
  readonly kwargs?: JsonObject;
  /** Immutable (`si`): parent results are not prepended. */
  readonly imm?: true;
  readonly opts?: NodeOptions;
  /** Callbacks (`link`), node indexes. */
  readonly link?: readonly number[];
  /** Errbacks (`linkError`), node indexes. */
  readonly err?: readonly number[];
  /**
   * Set on the task that took over a replaced task's id (`ctx.replace`): how many replacements
   * deep it is (Celery's `replaced_task_nesting`). Its message carries it as `headers.replaced`.
   */
  readonly rep?: number;
}

export interface ChainNode {
  readonly t: 'chain';
  readonly steps: readonly number[];
}

export interface GroupNode {
  readonly t: 'group';
  readonly id: string;
  readonly members: readonly number[];
}

/** `header` is a group node; the chord's own id is the header group's id. */
export interface ChordNode {
  readonly t: 'chord';
  readonly header: number;
  readonly body: number;
  /** Seconds after the header starts before the chord fails with CHORD_TIMEOUT. */
  readonly deadline?: number;
}

export type PlanNode = TaskNode | ChainNode | GroupNode | ChordNode;

/**
 * One level of "what happens after this finishes". The message carries a stack of these,
 * innermost first; its length is the nesting depth of the canvas, not its size.
 */
export type Frame = ChainFrame | JoinFrame;

/** Continue chain node `c` at step `i`. */
export interface ChainFrame {
  readonly c: number;
  readonly i: number;
}

/**
 * Member `x` of `n` of the fan-in `j` (a group followed by something). When the last member is
 * counted, `b` (a chord body node) is started with the ordered results; without `b` the list is
 * handed to the next frame. `g` is the group node (to list member result ids at the join).
 * `d` is the chord's deadline (epoch ms), on the deadline check's frame only.
 */
export interface JoinFrame {
  readonly j: string;
  readonly g: number;
  readonly x: number;
  readonly n: number;
  readonly b?: number;
  readonly d?: number;
}

export const isChainFrame = (f: Frame): f is ChainFrame => 'c' in f;
export const isJoinFrame = (f: Frame): f is JoinFrame => 'j' in f;

/** Where a message finds its workflow: inline when small, else a stored plan id. */
export type WorkflowRef = { readonly plan: Plan } | { readonly ref: string };

export function planNode(plan: Plan, index: number): PlanNode {
  const n = plan.nodes[index];
  if (n === undefined) throw new RangeError(`plan ${plan.id} has no node ${index}`);
  return n;
}

/** The id whose result stands for a node: a chain's last step, a chord's body, a group's id. */
export function resultIdOf(plan: Plan, index: number): string {
  const n = planNode(plan, index);
  switch (n.t) {
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
  switch (n.t) {
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
  switch (n.t) {
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

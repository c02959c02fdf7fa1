/**
 * Structural validation of a message's workflow part: the plan (inline or loaded), the message's
 * continuation frames and its group headers, checked against each other BEFORE anything runs.
 * Every message is untrusted: a forged or corrupted frame must be refused here, with
 * BAD_WORKFLOW, instead of running a task body and then failing in the continuation (on every
 * delivery until the DLQ), or counting itself into a chord it is not a member of.
 *
 * What holds after {@link validateFlow} returned:
 * - the plan is a tree: every child index is in range, every node but the root is referenced
 *   exactly once and reachable from the root (so no cycle, no shared node), a chord's header is
 *   a group, task and group ids are unique;
 * - `node` names a task node of the message's own task, under its own id (or, for a link or
 *   errback call, a node that is a link or errback target, with no frames);
 * - each frame belongs to the node the previous one ended in, innermost first: a chain frame
 *   `{chain, step}` names a chain whose step `step - 1` contains the message's task (or the
 *   previous frame's node); a join frame `{joinId, group, member, size, body?}` names a group
 *   node `group` whose id is `joinId`, whose size is `size` and whose member `member` contains
 *   it, with `body` exactly when the group is a chord header (and then equal to that chord's
 *   body); only a chord deadline check carries `deadline`;
 * - `groupId` and `groupIndex` come together, and name the first join frame when there is one.
 *
 * So every loop a continuation runs (join shards, deadline scans, chain tails) is sized by the
 * stored plan, never by a number the message chose. The plan's index is computed once per plan
 * object (a warm worker caches loaded plans, so a chord's members share it).
 */
import { CeleriacError, ErrorCodes } from '../errors';
import type { Frame, JoinFrame, Plan, PlanNode } from './plan';

/** Control task that fails a chord whose header did not finish by its deadline. */
export const CHORD_DEADLINE_TASK = 'celeriac.chord_deadline';

/** The parts of a message the validator reads (an Envelope is one). */
export interface FlowMessage {
  readonly id: string;
  readonly task: string;
  readonly headers: { readonly groupId?: string; readonly groupIndex?: number };
  readonly node?: number;
  readonly continuation?: readonly Frame[];
}

/** How a node is referenced by its parent. */
const ROOT = 0;
const CHILD = 1;
const LINKED = 2;
const UNREACHED = 3;

interface PlanIndex {
  /** Structural parent (chain, group, chord) of each node; -1 for the root and link targets. */
  readonly parent: Int32Array;
  readonly via: Uint8Array;
  /** Node index of each task or group id. */
  readonly byId: ReadonlyMap<string, number>;
}

const indexes = new WeakMap<Plan, PlanIndex>();

function bad(message: string): CeleriacError {
  return new CeleriacError(ErrorCodes.BAD_WORKFLOW, message);
}

function childrenOf(n: PlanNode): { readonly structural: readonly number[]; readonly linked: readonly number[] } {
  switch (n.kind) {
    case 'task':
      return { structural: [], linked: [...(n.link ?? []), ...(n.linkError ?? [])] };
    case 'chain':
      return { structural: n.steps, linked: [] };
    case 'group':
      return { structural: n.members, linked: [] };
    case 'chord':
      return { structural: [n.header, n.body], linked: [] };
  }
}

/**
 * Checks that a plan is a well-formed tree (see the module comment) and returns its index.
 * Throws BAD_WORKFLOW naming the first lie. Cached per plan object.
 */
export function checkPlan(plan: Plan): PlanIndex {
  const cached = indexes.get(plan);
  if (cached) return cached;
  const nodes = plan.nodes;
  const size = nodes.length;
  if (plan.root >= size) throw bad(`plan ${plan.id}: root ${plan.root} is not one of its ${size} nodes`);
  const parent = new Int32Array(size).fill(-1);
  const via = new Uint8Array(size).fill(UNREACHED);
  const byId = new Map<string, number>();
  via[plan.root] = ROOT;
  // Iterative depth-first walk: a stored plan may be deep, and a forged one must not overflow the stack.
  const stack = [plan.root];
  let reached = 1;
  while (stack.length > 0) {
    const i = stack.pop() as number;
    const n = nodes[i] as PlanNode;
    if (n.kind === 'task' || n.kind === 'group') {
      if (byId.has(n.id)) throw bad(`plan ${plan.id}: id ${JSON.stringify(n.id)} is used by nodes ${byId.get(n.id)} and ${i}`);
      byId.set(n.id, i);
    }
    if (n.kind === 'chord' && nodes[n.header]?.kind !== 'group')
      throw bad(`plan ${plan.id}: chord node ${i} has a header that is not a group`);
    const { structural, linked } = childrenOf(n);
    for (const kind of [CHILD, LINKED]) {
      for (const c of kind === CHILD ? structural : linked) {
        if (c >= size) throw bad(`plan ${plan.id}: node ${i} names node ${c}, but the plan has ${size} nodes`);
        if (via[c] !== UNREACHED) throw bad(`plan ${plan.id}: node ${c} is referenced twice (a cycle or a shared node)`);
        via[c] = kind;
        if (kind === CHILD) parent[c] = i;
        reached++;
        stack.push(c);
      }
    }
  }
  if (reached < size) throw bad(`plan ${plan.id}: ${size - reached} of its ${size} nodes are not reachable from the root`);
  const index: PlanIndex = { parent, via, byId };
  indexes.set(plan, index);
  return index;
}

/** True when node `a` is `x` or a structural ancestor of it (the walk is bounded by the tree). */
function contains(ix: PlanIndex, a: number, x: number): boolean {
  for (let cur = x; cur !== -1; cur = ix.parent[cur] as number) if (cur === a) return true;
  return false;
}

/**
 * Validates a message's frames, `node` and group headers against its plan (see the module
 * comment). Throws BAD_WORKFLOW naming the first lie.
 */
export function validateFlow(plan: Plan, msg: FlowMessage): void {
  const ix = checkPlan(plan);
  const nodes = plan.nodes;
  const k = msg.continuation ?? [];
  const h = msg.headers;
  if ((h.groupId === undefined) !== (h.groupIndex === undefined)) throw bad('groupId and groupIndex come together or not at all');
  let self: number | undefined;
  if (msg.node !== undefined) {
    const n = nodes[msg.node];
    if (n?.kind !== 'task' || n.name !== msg.task) throw bad(`at ${msg.node} is not a "${msg.task}" task node of plan ${plan.id}`);
    // A link or errback call has a derived id and no frames; any other call is its node's own id.
    if (n.id !== msg.id && !(ix.via[msg.node] === LINKED && k.length === 0)) {
      throw bad(`message ${msg.id} is not the call of node ${msg.node} of plan ${plan.id}`);
    }
    self = msg.node;
  }
  if (k.length === 0) return;
  let first = 0;
  let ctx: number;
  if (msg.task === CHORD_DEADLINE_TASK) {
    const f = k[0] as Frame;
    if ('chain' in f || f.body === undefined || f.deadline === undefined || f.member !== 0)
      throw bad('a chord deadline check starts with its chord join frame {j, g, x: 0, n, b, d}');
    ctx = checkJoin(plan, ix, f, undefined);
    first = 1;
  } else {
    const i = ix.byId.get(msg.id);
    if (
      i === undefined ||
      nodes[i]?.kind !== 'task' ||
      (nodes[i] as { name: string }).name !== msg.task ||
      (self !== undefined && self !== i)
    ) {
      throw bad(`message ${msg.id} ("${msg.task}") is not a task of plan ${plan.id}, so it cannot continue it`);
    }
    ctx = i;
  }
  let sawJoin = false;
  for (let at = first; at < k.length; at++) {
    const f = k[at] as Frame;
    if ('chain' in f) {
      const chain = nodes[f.chain];
      if (chain?.kind !== 'chain' || f.step < 1 || f.step >= chain.steps.length)
        throw bad(`frame ${at} {c: ${f.chain}, i: ${f.step}} is not a step of a chain node`);
      if (!contains(ix, chain.steps[f.step - 1] as number, ctx))
        throw bad(`frame ${at}: the message is not in step ${f.step - 1} of chain node ${f.chain}`);
      ctx = f.chain;
      continue;
    }
    if (f.deadline !== undefined) throw bad(`frame ${at}: only a chord deadline check carries a deadline`);
    ctx = checkJoin(plan, ix, f, ctx);
    if (!sawJoin && h.groupId !== undefined && (f.joinId !== h.groupId || f.member !== h.groupIndex)) {
      throw bad(`headers say member ${h.groupIndex} of ${h.groupId}, the join frame says member ${f.member} of ${f.joinId}`);
    }
    sawJoin = true;
  }
}

/** Checks a join frame against the plan; `ctx` (when given) must be in member `member`. Returns the node the join ends in. */
function checkJoin(plan: Plan, ix: PlanIndex, f: JoinFrame, ctx: number | undefined): number {
  const group = plan.nodes[f.group];
  if (group?.kind !== 'group' || group.id !== f.joinId)
    throw bad(`join frame names ${f.joinId} at node ${f.group}, which is not that group`);
  if (f.size !== group.members.length) throw bad(`join frame of ${f.joinId} says ${f.size} members; the plan has ${group.members.length}`);
  if (f.member >= f.size) throw bad(`join frame of ${f.joinId} names member ${f.member} of ${f.size}`);
  if (ctx !== undefined && !contains(ix, group.members[f.member] as number, ctx))
    throw bad(`the message is not member ${f.member} of ${f.joinId}`);
  const p = ix.parent[f.group] as number;
  const chord = p === -1 ? undefined : plan.nodes[p];
  const isHeader = chord?.kind === 'chord' && chord.header === f.group;
  if (isHeader !== (f.body !== undefined) || (isHeader && chord.body !== f.body)) {
    throw bad(
      isHeader
        ? `join frame of chord ${f.joinId} does not name its body`
        : `join frame of group ${f.joinId} names a chord body it does not have`,
    );
  }
  return isHeader ? p : f.group;
}

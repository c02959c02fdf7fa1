import { CeleriacError, ErrorCodes } from '../errors';
import { checkFairnessKey } from '../protocol/fairness';
import { ID_RULE, isId } from '../protocol/ids';
import { type Json, type JsonObject, toJson } from '../protocol/json';
import type { NodeOptions, Plan, PlanNode } from '../protocol/plan';
import { checkTimeLimits } from '../protocol/time-limits';
import type { CallOnlyOption, CallOptions } from './signature';
import { type AnySignature, Chain, Chord, Group, Signature } from './signature';

/** The shape of the handle `applyAsync()` returns, built by the app from real result classes. */
export type HandleSpec =
  | {
      readonly t: 'task';
      readonly id: string;
      /** The task's name: its own `ignoreResult` default applies where the call sets none. */
      readonly task: string;
      /**
       * Whether the worker drops this task's record: the call's `ignoreResult`; false when a link
       * continues from it (the record is then kept); undefined when the call says nothing.
       */
      readonly ignoreResult?: boolean;
      readonly parent?: HandleSpec;
    }
  | { readonly t: 'group'; readonly id: string; readonly children: readonly HandleSpec[]; readonly parent?: HandleSpec };

export interface CompileEnv {
  readonly uuid: () => string;
  /** Largest number of members a group or chord header may have. */
  readonly maxGroupSize: number;
  /** Nodes a single plan may hold. */
  readonly maxNodes: number;
}

export const DEFAULT_MAX_GROUP_SIZE = 100_000;
export const DEFAULT_MAX_NODES = 250_000;

/**
 * Freezes a canvas: assigns every id, applies Celery's composition rules, and returns the plan
 * (a flat node table) and the handle to give back to the caller.
 *
 * Rules applied (celery-semantics §4): nested chains flatten; in a chain, an empty group is
 * skipped (but one that opens the chain is an empty chord header: the next step gets []), a
 * single-member group unrolls, and a group followed by a step becomes a chord with
 * that step as body (so a group followed by a group is a chord whose body is a group); nested
 * groups flatten; `chain.link` goes to the last step, `chain.linkError` to every step;
 * `group.link` goes, immutable, to the first member only; `group.linkError` to every member;
 * `chord.link`/`linkError` to the body.
 */
export function compile(
  canvas: AnySignature,
  callArgs: readonly unknown[],
  callOptions: Omit<CallOptions, CallOnlyOption>,
  env: CompileEnv,
): { plan: Plan; handle: HandleSpec } {
  const nodes: PlanNode[] = [];
  const top = applyCallOptions(canvas, callOptions);
  const prepend = callArgs.map((a, i) => toJson(a, `args[${i}]`));
  const { index, handle } = compileNode(top, prepend, nodes, env);
  const rootTask = firstTaskId(nodes, index);
  return { plan: { v: 1, id: rootTask, root: index, nodes }, handle };
}

/** Merges call options into the top canvas, as Celery's apply_async does for each primitive. */
function applyCallOptions(canvas: AnySignature, options: Omit<CallOptions, CallOnlyOption>): AnySignature {
  const { link, linkError, taskId, ...rest } = options;
  let c = canvas.clone();
  const links = toList(link, 'link');
  const errbacks = toList(linkError, 'linkError');
  if (c instanceof Group && links.length > 0) {
    throw new CeleriacError(
      ErrorCodes.INVALID_CANVAS,
      'group.applyAsync({ link }) is not supported (as in Celery): use a chord to run something after all members',
    );
  }
  for (const l of links) c.link(l);
  for (const e of errbacks) c.linkError(e);
  if (c instanceof Chain) {
    // Options go to the first step; taskId names the last (celery-semantics §2, CHAIN-18).
    const steps = [...c.steps];
    if (Object.keys(rest).length > 0 && steps[0]) steps[0] = steps[0].clone().set(rest);
    if (taskId !== undefined && steps.length > 0) {
      const last = steps.length - 1;
      steps[last] = (steps[last] as AnySignature).clone().set({ taskId });
    }
    c = new Chain(c.host, steps, c.options);
  } else if (c instanceof Chord) {
    const header = Object.keys(rest).length > 0 ? new Group(c.header.host, c.header.members, { ...c.header.options, ...rest }) : c.header;
    const body = taskId !== undefined ? c.body.clone().set({ taskId }) : c.body;
    c = new Chord(c.host, header, body, {
      ...c.options,
      ...(rest.chordDeadline !== undefined ? { chordDeadline: rest.chordDeadline } : {}),
    });
  } else {
    c.set({ ...rest, ...(taskId !== undefined ? { taskId } : {}) });
  }
  return c;
}

function toList(x: AnySignature | readonly AnySignature[] | undefined, what: string): AnySignature[] {
  if (x === undefined) return [];
  const list = Array.isArray(x) ? [...(x as readonly AnySignature[])] : [x as AnySignature];
  for (const s of list) {
    if (!(s instanceof Signature || s instanceof Chain || s instanceof Group || s instanceof Chord)) {
      throw new CeleriacError(ErrorCodes.INVALID_CANVAS, `${what} expects signatures (task.s()), got ${typeof s}`);
    }
  }
  return list;
}

function push(nodes: PlanNode[], node: PlanNode, env: CompileEnv): number {
  if (nodes.length >= env.maxNodes) {
    throw new CeleriacError(ErrorCodes.WORKFLOW_TOO_LARGE, `workflow has more than ${env.maxNodes} nodes`);
  }
  nodes.push(node);
  return nodes.length - 1;
}

function compileNode(c: AnySignature, prepend: readonly Json[], nodes: PlanNode[], env: CompileEnv): { index: number; handle: HandleSpec } {
  if (c instanceof Signature) return compileTask(c, prepend, nodes, env);
  if (c instanceof Chain) return compileChain(c, prepend, nodes, env);
  if (c instanceof Group) return compileGroup(c, prepend, nodes, env);
  if (c instanceof Chord) return compileChord(c, prepend, nodes, env);
  throw new CeleriacError(ErrorCodes.INVALID_CANVAS, 'unknown canvas kind');
}

function compileTask(
  s: Signature<readonly unknown[], unknown>,
  prepend: readonly Json[],
  nodes: PlanNode[],
  env: CompileEnv,
): { index: number; handle: HandleSpec } {
  const o = s.options;
  const id = checkId(o.taskId) ?? env.uuid();
  const link = (o.link ?? []).map((l) => compileNode(l, [], nodes, env).index);
  const err = (o.linkError ?? []).map((l) => compileNode(l, [], nodes, env).index);
  const opts = nodeOptions(o);
  const args = s.immutable ? s.args : prepend.length > 0 ? [...prepend, ...s.args] : s.args;
  const node: PlanNode = {
    kind: 'task',
    id,
    name: s.task,
    args: [...args],
    ...(s.kwargs ? { kwargs: s.kwargs } : {}),
    ...(s.immutable ? { immutable: true as const } : {}),
    ...(o.taskId !== undefined ? { named: true as const } : {}),
    ...(opts ? { opts } : {}),
    ...(link.length > 0 ? { link } : {}),
    ...(err.length > 0 ? { linkError: err } : {}),
  };
  const ignoreResult = link.length > 0 ? false : o.ignoreResult;
  return {
    index: push(nodes, node, env),
    handle: { t: 'task', id, task: s.task, ...(ignoreResult !== undefined ? { ignoreResult } : {}) },
  };
}

function nodeOptions(o: CallOptions | Omit<CallOptions, 'link' | 'linkError'>): NodeOptions | undefined {
  const out: { -readonly [K in keyof NodeOptions]?: NodeOptions[K] } = {};
  if (o.queue !== undefined) out.queue = o.queue;
  if (o.countdown !== undefined) out.countdown = o.countdown;
  if (o.eta !== undefined) out.eta = o.eta instanceof Date ? o.eta.toISOString() : new Date(o.eta).toISOString();
  if (o.expires !== undefined) out.expires = o.expires instanceof Date ? o.expires.toISOString() : o.expires;
  if (o.timeLimit !== undefined) out.timeLimit = o.timeLimit;
  if (o.softTimeLimit !== undefined) out.softTimeLimit = o.softTimeLimit;
  checkTimeLimits(o.timeLimit, o.softTimeLimit, 'call options');
  if (o.ignoreResult !== undefined) out.ignoreResult = o.ignoreResult;
  if (o.headers !== undefined) out.headers = toJson(o.headers, 'headers') as JsonObject;
  if (o.fairnessKey !== undefined) {
    checkFairnessKey(o.fairnessKey, 'fairnessKey');
    out.fairnessKey = o.fairnessKey;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Flattens nested chains (that carry no links of their own) and applies the chain upgrade rules. */
function normaliseSteps(steps: readonly AnySignature[]): AnySignature[] {
  const flat: AnySignature[] = [];
  for (const s of steps) {
    if (s instanceof Chain && !s.options.link?.length && !s.options.linkError?.length && !s.options.taskId)
      flat.push(...normaliseSteps(s.steps));
    else flat.push(s);
  }
  const out: AnySignature[] = [];
  for (let i = 0; i < flat.length; i++) {
    let s = flat[i] as AnySignature;
    if (s instanceof Group) {
      const members = flattenGroup(s);
      // An empty group inside a chain is skipped (main); one that opens the chain is a chord with an
      // empty header (`group() | body`), so the next step runs at once with [] (GROUP-03).
      if (members.length === 0 && i < flat.length - 1 && out.length > 0) continue;
      if (members.length === 1 && !s.options.link?.length) {
        // A single-member group unrolls into its member (CHAIN-12), keeping the group's errbacks.
        let m = (members[0] as AnySignature).clone();
        for (const e of s.options.linkError ?? []) m = m.linkError(e);
        s = m;
      } else if (i < flat.length - 1) {
        // group followed by a step → chord(group, step) (CHAIN-10/11/14/20)
        const next = flat[i + 1] as AnySignature;
        out.push(new Chord(s.host, s, next));
        i++;
        continue;
      }
    }
    out.push(s);
  }
  return out;
}

function compileChain(
  c: Chain<readonly unknown[], unknown, unknown>,
  prepend: readonly Json[],
  nodes: PlanNode[],
  env: CompileEnv,
): { index: number; handle: HandleSpec } {
  let steps = normaliseSteps(c.steps);
  if (steps.length === 0) {
    throw new CeleriacError(ErrorCodes.INVALID_CANVAS, 'chain has no steps after removing empty groups');
  }
  // A chain's taskId names its last step, whose result is the chain's (CHAIN-18), at any depth.
  if (c.options.taskId !== undefined) {
    steps = [...steps.slice(0, -1), (steps[steps.length - 1] as AnySignature).clone().set({ taskId: c.options.taskId })];
  }
  const links = c.options.link ?? [];
  const errbacks = c.options.linkError ?? [];
  if (links.length > 0 || errbacks.length > 0) {
    steps = steps.map((s, i) => {
      let x = s.clone();
      for (const e of errbacks) x = x.linkError(e);
      if (i === steps.length - 1) for (const l of links) x = x.link(l);
      return x;
    });
  }
  const indexes: number[] = [];
  let handle: HandleSpec | undefined;
  steps.forEach((s, i) => {
    const r = compileNode(s, i === 0 ? prepend : [], nodes, env);
    indexes.push(r.index);
    handle = handle === undefined ? r.handle : withAncestor(r.handle, handle);
  });
  if (indexes.length === 1) return { index: indexes[0] as number, handle: handle as HandleSpec };
  return { index: push(nodes, { kind: 'chain', steps: indexes }, env), handle: handle as HandleSpec };
}

/**
 * Puts `ancestor` behind the oldest parent of a step's handle, as Celery's `prepare_steps` does: a
 * chord step's handle already has its header's GroupResult as parent, which stays; the step before
 * the chord becomes the header's parent.
 */
function withAncestor(handle: HandleSpec, ancestor: HandleSpec): HandleSpec {
  return { ...handle, parent: handle.parent === undefined ? ancestor : withAncestor(handle.parent, ancestor) };
}

/**
 * Nested groups flatten into one member list, depth first (GROUP-04); a nested group's own links
 * go where a group's links go: errbacks to each of its members, callbacks (immutable) to its first.
 */
function flattenGroup(g: Group<readonly unknown[], readonly unknown[]>): AnySignature[] {
  const out: AnySignature[] = [];
  for (const m of g.members) {
    if (!(m instanceof Group)) {
      out.push(m);
      continue;
    }
    const inner = flattenGroup(m);
    inner.forEach((x, i) => {
      let c = x;
      if (m.options.linkError?.length || (i === 0 && m.options.link?.length)) c = x.clone();
      for (const e of m.options.linkError ?? []) c = c.linkError(e);
      if (i === 0) for (const l of m.options.link ?? []) c = c.link(l instanceof Signature ? l.asImmutable() : l);
      out.push(c);
    });
  }
  return out;
}

function compileGroup(
  g: Group<readonly unknown[], readonly unknown[]>,
  prepend: readonly Json[],
  nodes: PlanNode[],
  env: CompileEnv,
): { index: number; handle: HandleSpec } {
  let members = flattenGroup(g);
  if (members.length > env.maxGroupSize) {
    throw new CeleriacError(ErrorCodes.INVALID_CANVAS, `group has ${members.length} members; the maximum is ${env.maxGroupSize}`);
  }
  const { link, linkError, taskId, ...rest } = g.options;
  const restOpts = Object.keys(rest).length > 0 ? rest : undefined;
  members = members.map((m, i) => {
    let x = m.clone();
    if (restOpts) x = x.set(restOpts);
    for (const e of linkError ?? []) x = x.linkError(e);
    // group.link → immutable, first member only (GROUP-08)
    if (i === 0) for (const l of link ?? []) x = x.link(l instanceof Signature ? l.asImmutable() : l);
    return x;
  });
  const id = checkId(taskId) ?? env.uuid();
  const compiled = members.map((m) => compileNode(m, prepend, nodes, env));
  const index = push(nodes, { kind: 'group', id, members: compiled.map((c) => c.index) }, env);
  return { index, handle: { t: 'group', id, children: compiled.map((c) => c.handle) } };
}

function compileChord(
  c: Chord<readonly unknown[], unknown, unknown>,
  prepend: readonly Json[],
  nodes: PlanNode[],
  env: CompileEnv,
): { index: number; handle: HandleSpec } {
  // A chord's taskId names its body (the task, or the body's own last step, standing for the result).
  let body = c.options.taskId !== undefined ? c.body.clone().set({ taskId: c.options.taskId }) : c.body.clone();
  for (const l of c.options.link ?? []) body = body.link(l);
  for (const e of c.options.linkError ?? []) body = body.linkError(e);
  const header = compileGroup(c.header, prepend, nodes, env);
  const b = compileNode(body, [], nodes, env);
  const deadline = c.options.chordDeadline;
  const index = push(nodes, { kind: 'chord', header: header.index, body: b.index, ...(deadline !== undefined ? { deadline } : {}) }, env);
  return { index, handle: { ...b.handle, parent: header.handle } };
}

function firstTaskId(nodes: readonly PlanNode[], index: number): string {
  const n = nodes[index];
  if (!n) throw new RangeError(`no node ${index}`);
  switch (n.kind) {
    case 'task':
      return n.id;
    case 'chain':
      return firstTaskId(nodes, n.steps[0] as number);
    case 'group':
      return n.members.length > 0 ? firstTaskId(nodes, n.members[0] as number) : n.id;
    case 'chord': {
      const h = nodes[n.header];
      return h && h.kind === 'group' && h.members.length > 0 ? firstTaskId(nodes, n.header) : firstTaskId(nodes, n.body);
    }
  }
}

function checkId(id: string | undefined): string | undefined {
  if (id !== undefined && !isId(id)) {
    throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `taskId ${JSON.stringify(id)} is not allowed: ${ID_RULE}`);
  }
  return id;
}

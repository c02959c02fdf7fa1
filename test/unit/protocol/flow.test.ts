/**
 * The workflow validator (lib/protocol/flow.ts): every plan the compiler freezes passes, with the
 * frames the engine gives its messages; each structural lie is refused with BAD_WORKFLOW.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compile } from '../../../lib/canvas/compile';
import { ErrorCodes, isCeleriacError } from '../../../lib/errors';
import { chain, chord, createApp, group } from '../../../lib/index';
import { decodePlan, encodePlan } from '../../../lib/protocol/envelope';
import { checkPlan, type FlowMessage, validateFlow } from '../../../lib/protocol/flow';
import type { JoinFrame, Plan } from '../../../lib/protocol/plan';

const app = createApp({ name: 'flow', logger: { debug() {}, info() {}, warn() {}, error() {} } });
const add = app.task('add', (x: number, y: number) => x + y);
const sum = app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
const env = { uuid: randomUUID, maxGroupSize: 100_000, maxNodes: 250_000 };
const frozen = (canvas: Parameters<typeof compile>[0]): Plan => compile(canvas, [], {}, env).plan;

/** The message's top join frame with `patch` applied (a key set to undefined is dropped). */
function withTop(m: FlowMessage, patch: Partial<Record<keyof JoinFrame, number | string | undefined>>): readonly JoinFrame[] {
  const f: Record<string, unknown> = { ...(m.continuation?.[0] as JoinFrame), ...patch };
  for (const key of Object.keys(f)) if (f[key] === undefined) delete f[key];
  return [f as unknown as JoinFrame];
}

function refusal(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return isCeleriacError(e) ? e.code : `not a CeleriacError: ${String(e)}`;
  }
}

/** A chord of two members, nested in a chain after `add`: nodes as the compiler lays them out. */
function chainedChord() {
  const plan = frozen(chain(add.s(1, 1), chord(group(add.s(2), add.s(3)), sum.s())));
  const groupIndex = plan.nodes.findIndex((n) => n.kind === 'group');
  const g = plan.nodes[groupIndex] as unknown as { id: string; members: number[] };
  const chordIndex = plan.nodes.findIndex((n) => n.kind === 'chord');
  const chainIndex = plan.nodes.findIndex((n) => n.kind === 'chain');
  const member = plan.nodes[g.members[1] as number] as { id: string };
  const msg: FlowMessage = {
    id: member.id,
    task: 'add',
    headers: { groupId: g.id, groupIndex: 1 },
    continuation: [{ joinId: g.id, group: groupIndex, member: 1, size: 2, body: (plan.nodes[chordIndex] as { body: number }).body }],
  };
  return { plan, msg, groupIndex, chordIndex, chainIndex, g };
}

describe('plans the compiler freezes', () => {
  it.each([
    ['a chain', () => chain(add.s(1, 2), add.s(3), add.s(4))],
    ['a chord', () => chord(group(add.s(1, 1), add.s(2, 2)), sum.s())],
    ['a chain of chords', () => chain(chord(group(add.s(1, 1)), sum.s()), chord(group(add.s(2), add.s(3)), sum.s()))],
    ['a group of chains', () => group(chain(add.s(1, 1), add.s(2)), chain(add.s(3, 3), add.s(4)))],
    ['links and errbacks', () => add.s(1, 1).link(add.s(2)).linkError(sum.s())],
    [
      'one signature used twice',
      () => {
        const s = add.s(1, 1);
        return group(s, s);
      },
    ],
    ['a long countdown (a due time, not a timer)', () => add.s(1, 1).set({ countdown: 60 * 86_400 })],
  ])('%s is a valid tree, also after a store round trip', (_name, canvas) => {
    const plan = frozen(canvas());
    expect(() => checkPlan(plan)).not.toThrow();
    expect(decodePlan(JSON.parse(JSON.stringify(encodePlan(plan))))).toEqual(plan);
  });

  it("a chord member's message, as the engine frames it, passes", () => {
    const { plan, msg } = chainedChord();
    expect(refusal(() => validateFlow(plan, msg))).toBeUndefined();
  });
});

describe('structural lies are refused with BAD_WORKFLOW', () => {
  const base = (): Plan => ({
    v: 1,
    id: 'p',
    root: 0,
    nodes: [
      { kind: 'chain', steps: [1, 2] },
      { kind: 'task', id: 'a', name: 'add', args: [] },
      { kind: 'task', id: 'b', name: 'add', args: [] },
    ],
  });
  const chainMsg: FlowMessage = { id: 'a', task: 'add', headers: {}, continuation: [{ chain: 0, step: 1 }] };

  it.each<[string, (p: Plan) => Plan]>([
    ['a root out of range', (p) => ({ ...p, root: 9 })],
    ['a child index out of range', (p) => ({ ...p, nodes: [{ kind: 'chain', steps: [1, 7] }, ...p.nodes.slice(1)] })],
    ['a cycle', (p) => ({ ...p, nodes: [{ kind: 'chain', steps: [1, 0] }, ...p.nodes.slice(1)] })],
    ['a shared node', (p) => ({ ...p, nodes: [{ kind: 'chain', steps: [1, 1] }, ...p.nodes.slice(1)] })],
    ['an unreachable node', (p) => ({ ...p, nodes: [...p.nodes, { kind: 'task', id: 'c', name: 'add', args: [] }] })],
    [
      'a duplicate id',
      (p) => ({ ...p, nodes: [p.nodes[0], p.nodes[1], { kind: 'task', id: 'a', name: 'add', args: [] }] as Plan['nodes'] }),
    ],
    ['a chord whose header is a task', (p) => ({ ...p, nodes: [{ kind: 'chord', header: 1, body: 2 }, ...p.nodes.slice(1)] })],
  ])('a plan with %s', (_name, lie) => {
    expect(refusal(() => checkPlan(lie(base())))).toBe(ErrorCodes.BAD_WORKFLOW);
  });

  it.each<[string, FlowMessage]>([
    ['a chain frame naming a task node', { ...chainMsg, continuation: [{ chain: 1, step: 1 }] }],
    ['a chain frame past the chain', { ...chainMsg, continuation: [{ chain: 0, step: 2 }] }],
    ['a chain frame at step 0', { ...chainMsg, continuation: [{ chain: 0, step: 0 }] }],
    ['a message that is not the step before the frame', { ...chainMsg, id: 'b', continuation: [{ chain: 0, step: 1 }] }],
    ['an id that is not in the plan', { ...chainMsg, id: 'zzz' }],
    ['a task name that is not its node', { ...chainMsg, task: 'sum' }],
    ['a `node` of another task', { ...chainMsg, node: 2 }],
    ['a groupId without a groupIndex', { ...chainMsg, headers: { groupId: 'g' } }],
  ])('a message with %s', (_name, msg) => {
    expect(refusal(() => validateFlow(base(), msg))).toBe(ErrorCodes.BAD_WORKFLOW);
  });

  it.each<[string, (m: FlowMessage, c: ReturnType<typeof chainedChord>) => FlowMessage]>([
    ['an index at the join size', (m) => ({ ...m, headers: { ...m.headers, groupIndex: 2 }, continuation: withTop(m, { member: 2 }) })],
    ['a size that disagrees with the plan', (m) => ({ ...m, continuation: withTop(m, { size: 3 }) })],
    ["another member's index", (m) => ({ ...m, headers: { ...m.headers, groupIndex: 0 }, continuation: withTop(m, { member: 0 }) })],
    ['headers naming another member', (m) => ({ ...m, headers: { ...m.headers, groupIndex: 0 } })],
    ['a chord frame without its body', (m) => ({ ...m, continuation: withTop(m, { body: undefined }) })],
    ['the wrong body', (m, c) => ({ ...m, continuation: withTop(m, { body: c.chainIndex }) })],
    ['a deadline on a member', (m) => ({ ...m, continuation: withTop(m, { deadline: 1 }) })],
    ['a join id that is not the group', (m) => ({ ...m, continuation: withTop(m, { joinId: 'other' }) })],
    [
      'a chord deadline check for a huge member count',
      (m) => ({
        id: 'd',
        task: 'celeriac.chord_deadline',
        headers: {},
        continuation: withTop(m, { member: 0, size: 2e9, deadline: 1 }),
      }),
    ],
  ])('a chord member frame with %s', (_name, lie) => {
    const c = chainedChord();
    expect(refusal(() => validateFlow(c.plan, lie(c.msg, c)))).toBe(ErrorCodes.BAD_WORKFLOW);
  });

  it('a chord deadline check of the right size passes', () => {
    const c = chainedChord();
    const k = withTop(c.msg, { member: 0, deadline: 1 });
    expect(refusal(() => validateFlow(c.plan, { id: 'd', task: 'celeriac.chord_deadline', headers: {}, continuation: k }))).toBeUndefined();
  });
});

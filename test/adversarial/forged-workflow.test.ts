/**
 * Forged and poison workflow messages, on every target: a message whose workflow part (plan,
 * frames, headers) is a lie is refused BEFORE its task body runs, with a specific code, stored
 * once under its transport message id, never redelivered to the DLQ — and a forged frame never
 * changes a live chord.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../lib/errors';
import { createApp } from '../../lib/index';
import { safeId } from '../../lib/protocol/ids';
import type { PlanRecord } from '../../lib/protocol/plan';
import { chordTasks, forgedTargets, type LiveChord, liveChord, SIZE, until, useTarget, type WireMember } from './forged-support';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe.each(forgedTargets())('forged workflow messages on %s', (target) => {
  const app = createApp({ name: `forged-wf-${target}`, logger: quiet });
  const t = chordTasks(app);
  const { runs, gates } = t;
  const run = useTarget(target, app, gates);
  let tags = 0;

  /** Sends `body`, lets it be handled, and checks it was refused once with `code`, its body never run. */
  async function expectRefusedOnce(body: string, code: string, marker: string): Promise<void> {
    const before = run().refused().length;
    await run().send([body]);
    await run().local.drain();
    const mine = run().deliveries.filter((d) => d.body === body);
    expect(mine.map((d) => d.failed)).toEqual(run().duplicate ? [false, false] : [false]);
    const refused = run().refused().slice(before);
    expect(refused.map((e) => (e.detail.error as { code: string }).code)).toEqual([code]);
    expect(refused[0]?.detail.id).toBe(safeId(mine[0]?.messageId ?? ''));
    const rec = await run().local.backend.store.get(String(refused[0]?.detail.id));
    expect(rec?.state).toBe('FAILURE');
    expect(rec?.error?.code).toBe(code);
    expect(runs).not.toContain(marker);
    expect(await run().local.deadLetters('default')).toEqual([]);
  }

  /** A hand-built inline-plan message for `add(tag, 1)` continuing at chain step 1. */
  function chainMessage(tag: number, plan: (taskId: string, planId: string) => PlanRecord['nodes'], k: WireMember['k']): string {
    const taskId = `t-${target}-${tag}`;
    const planId = `p-${target}-${tag}`;
    const env = {
      v: 1,
      id: taskId,
      task: 'add',
      args: [tag, 1],
      headers: { rootId: planId, parentId: null, retries: 0 },
      wf: { plan: { v: 1, id: planId, root: 0, nodes: plan(taskId, planId) } },
      k,
    };
    return JSON.stringify(env);
  }

  const task = (id: string, name = 'add') => ({ t: 'task' as const, id, name, args: [] });

  it('a chain frame naming a node index out of range is refused before the body runs', async () => {
    const tag = 1000 + ++tags;
    const body = chainMessage(tag, (t) => [{ t: 'chain', steps: [1, 7] }, task(t)], [{ c: 0, i: 1 }]);
    await expectRefusedOnce(body, ErrorCodes.BAD_WORKFLOW, `add(${tag},1)`);
  });

  it('a plan with a cycle is refused before the body runs', async () => {
    const tag = 1000 + ++tags;
    const body = chainMessage(tag, (t) => [{ t: 'chain', steps: [1, 0] }, task(t)], [{ c: 0, i: 1 }]);
    await expectRefusedOnce(body, ErrorCodes.BAD_WORKFLOW, `add(${tag},1)`);
  });

  it('a chain frame pointing at a node that is not a chain is refused before the body runs', async () => {
    const tag = 1000 + ++tags;
    const body = chainMessage(tag, (t, p) => [{ t: 'chain', steps: [1, 2] }, task(t), task(`${p}-2`)], [{ c: 2, i: 1 }]);
    await expectRefusedOnce(body, ErrorCodes.BAD_WORKFLOW, `add(${tag},1)`);
  });

  it('a join frame naming a node that is not a group is refused before the body runs', async () => {
    const tag = 1000 + ++tags;
    const body = chainMessage(tag, (t, p) => [{ t: 'chain', steps: [1, 2] }, task(t), task(`${p}-2`)], [
      { j: `p-${target}-${tag}-2`, g: 2, x: 0, n: 1 },
    ]);
    await expectRefusedOnce(body, ErrorCodes.BAD_WORKFLOW, `add(${tag},1)`);
  });

  it('a chord whose header is not a group is refused before the body runs', async () => {
    const tag = 1000 + ++tags;
    const body = chainMessage(tag, (t, p) => [{ t: 'chord', header: 1, body: 2 }, task(t), task(`${p}-2`, 'collect')], [
      { j: 'x', g: 1, x: 0, n: 1, b: 2 },
    ]);
    await expectRefusedOnce(body, ErrorCodes.BAD_WORKFLOW, `add(${tag},1)`);
  });

  it('a message naming a stored plan that does not exist is refused before the body runs', async () => {
    const tag = 1000 + ++tags;
    const body = JSON.stringify({
      v: 1,
      id: `t-${target}-${tag}`,
      task: 'add',
      args: [tag, 1],
      headers: { rootId: `no-such-plan-${tag}`, parentId: null, retries: 0 },
      wf: { ref: `no-such-plan-${tag}` },
      k: [{ c: 0, i: 1 }],
    });
    await expectRefusedOnce(body, ErrorCodes.WORKFLOW_NOT_FOUND, `add(${tag},1)`);
  });

  it('a refused message delivered twice is stored once and published once', async () => {
    const tag = 1000 + ++tags;
    const body = chainMessage(tag, (t) => [{ t: 'chain', steps: [1, 9] }, task(t)], [{ c: 0, i: 1 }]);
    run().duplicate = true;
    try {
      await expectRefusedOnce(body, ErrorCodes.BAD_WORKFLOW, `add(${tag},1)`);
    } finally {
      run().duplicate = false;
    }
  });

  // ── a live chord, attacked with frames copied from its own members ─────────────────────────

  const live = () => liveChord(run(), t, ++tags);

  /** Sends a forged message at a live chord and waits for its refusal. */
  async function refuse(forged: object): Promise<string> {
    const before = run().refused().length;
    await run().send([JSON.stringify(forged)]);
    await until(() => run().refused().length > before, 30_000, 'the refusal');
    return String((run().refused()[before]?.detail.error as { code?: string } | undefined)?.code);
  }

  /** After the held member is released: the chord's body ran once, with every real member's value. */
  async function expectChordIntact(c: LiveChord, marker: string): Promise<void> {
    c.g.open();
    expect(await c.r.get({ timeoutMs: 30_000 })).toBe(c.expected);
    await run().local.drain();
    expect(runs.filter((x) => x === `collect(${SIZE})`).length).toBeGreaterThan(0);
    expect(runs).not.toContain(marker);
    expect(await run().local.deadLetters('default')).toEqual([]);
  }

  it('a join frame whose index is at or beyond the join size does not change a live chord', async () => {
    const c = await live();
    const top = c.member.k?.[0] as { j: string; n: number };
    const forged = {
      ...c.member,
      id: `forged-${c.tag}-x`,
      args: [c.tag, 999],
      headers: { ...c.member.headers, groupIndex: top.n },
      k: [{ ...top, x: top.n }],
    };
    expect(await refuse(forged)).toBe(ErrorCodes.BAD_WORKFLOW);
    await expectChordIntact(c, `add(${c.tag},999)`);
  });

  it('a join frame whose size disagrees with the plan does not change a live chord', async () => {
    const c = await live();
    const top = c.member.k?.[0] as { j: string; n: number };
    const forged = {
      ...c.member,
      id: `forged-${c.tag}-n`,
      args: [c.tag, 998],
      headers: { ...c.member.headers, groupIndex: top.n },
      k: [{ ...top, x: top.n, n: top.n + 1 }],
    };
    expect(await refuse(forged)).toBe(ErrorCodes.BAD_WORKFLOW);
    await expectChordIntact(c, `add(${c.tag},998)`);
  });

  it('a message that is not a member of a chord cannot count itself into it', async () => {
    const c = await live();
    // Exactly a member's frames and headers, under an id that is no member of this chord.
    const forged = { ...c.member, id: `forged-${c.tag}-m`, args: [c.tag, 997] };
    expect(await refuse(forged)).toBe(ErrorCodes.BAD_WORKFLOW);
    await expectChordIntact(c, `add(${c.tag},997)`);
  });

  it('a chord deadline check claiming a huge member count is refused at once and does not fail a live chord', async () => {
    const c = await live();
    const top = c.member.k?.[0] as { j: string; g: number; b: number };
    const forged = {
      v: 1,
      id: `forged-${c.tag}-deadline`,
      task: 'celeriac.chord_deadline',
      args: [],
      headers: { rootId: c.member.headers.rootId, parentId: null, retries: 0 },
      wf: c.member.wf,
      k: [{ j: top.j, g: top.g, x: 0, n: 2_000_000_000, b: top.b, d: Date.now() - 1_000 }],
    };
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const code = await refuse(forged);
    delay.disable();
    expect(code).toBe(ErrorCodes.BAD_WORKFLOW);
    // Nothing in the invocation waited on it: the event loop never stalled for half a second.
    expect(delay.max / 1e6).toBeLessThan(500);
    await expectChordIntact(c, 'none');
  });
});

/**
 * Ids chosen by a sender, on every target: a refused message is stored under its transport
 * message id, never under the id it claims, so it can neither fail a task that succeeded (nor
 * fire that task's static error link), nor take a neighbour's outcome, nor stand on a chord's
 * join claim; and what it carries is checked as strictly as values (lone surrogates in keys,
 * header numbers that are not safe integers).
 */
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../lib/errors';
import { createApp } from '../../lib/index';
import { isId } from '../../lib/protocol/ids';
import { chordTasks, forgedTargets, liveChord, until, useTarget } from './forged-support';

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe.each(forgedTargets())('sender-chosen ids on %s', (target) => {
  const app = createApp({ name: `forged-ids-${target}`, logger: quiet });
  const t = chordTasks(app);
  const { runs, gates } = t;
  const charge = app.task('charge', (n: number) => {
    runs.push(`charge(${n})`);
    return n;
  });
  const refund = app.task('refund', (id: string) => {
    runs.push(`refund(${id})`);
    return 'refunded';
  });
  app.linkError(charge, refund);
  const run = useTarget(target, app, gates);
  let tags = 0;

  const envelope = (id: string, task: string, args: unknown[], headers: Record<string, unknown> = {}) =>
    JSON.stringify({ v: 1, id, task, args, headers: { rootId: id, parentId: null, retries: 0, ...headers } });

  /** Codes of the refusals published since `before`. */
  const refusedCodes = (before: number) =>
    run()
      .refused()
      .slice(before)
      .map((e) => (e.detail.error as { code: string }).code);

  it('a malformed message carrying the id of a task that succeeded neither fails it nor runs its error link', async () => {
    const r = await charge.delay(++tags);
    expect(await r.get({ timeoutMs: 30_000 })).toBe(tags);
    await run().local.drain();
    const before = run().refused().length;
    const failedBefore = run().local.events.filter((e) => e['detail-type'] === 'task-failed' && e.detail.id === r.id).length;

    await run().send([
      JSON.stringify({ v: 1, id: r.id, task: 'charge', args: 'not-a-list', headers: { rootId: r.id, parentId: null, retries: 0 } }),
    ]);
    await run().local.drain();

    expect(refusedCodes(before)).toEqual([ErrorCodes.BAD_ENVELOPE]);
    expect(await r.state()).toBe('SUCCESS');
    expect(await r.get()).toBe(tags);
    expect(run().local.events.filter((e) => e['detail-type'] === 'task-failed' && e.detail.id === r.id).length).toBe(failedBefore);
    expect(runs.filter((x) => x.startsWith('refund('))).toEqual([]);
  });

  it("in one batch, a malformed message carrying a good neighbour's id does not take the neighbour's outcome", async () => {
    const tag = 100 + ++tags;
    const id = `neighbour-${target}-${tag}`;
    const before = run().refused().length;
    // The forged one first, in the same send: the event source mapping hands them over together.
    await run().send([envelope(id, 'add', [tag], { retries: -1 }), envelope(id, 'add', [tag, 1])]);
    await run().local.drain();

    expect(refusedCodes(before)).toEqual([ErrorCodes.BAD_ENVELOPE]);
    expect(await app.asyncResult(id).get({ timeoutMs: 30_000 })).toBe(tag + 1);
    expect(runs).toContain(`add(${tag},1)`);
  });

  it("a call whose id lands in a chord's join-claim namespace does not break the live chord", async () => {
    const c = await liveChord(run(), t, ++tags);
    const groupId = c.member.headers.groupId as string;
    const before = run().refused().length;

    // A foreign minimal call and an envelope, both claiming the chord's fire-claim record id.
    await run().send([JSON.stringify({ task: 'add', args: [1, 1], id: `join:${groupId}` }), envelope(`join:${groupId}`, 'add', [2, 2])]);
    await until(() => run().refused().length >= before + 2, 30_000, 'both refusals');
    c.g.open();

    expect(refusedCodes(before)).toEqual([ErrorCodes.BAD_ENVELOPE, ErrorCodes.BAD_ENVELOPE]);
    expect(await c.r.get({ timeoutMs: 30_000 })).toBe(c.expected);
    expect(runs).not.toContain('add(1,1)');
    expect(runs).not.toContain('add(2,2)');
  });

  it('a refused message whose claimed id holds quotes publishes a safe id and runs no error link', async () => {
    const before = run().refused().length;
    await run().send([envelope('x","args":[666,0],"y":"', 'charge', ['not', 'a', 'number', 'either'], { retries: 0.5 })]);
    await run().local.drain();

    const refused = run().refused().slice(before);
    expect(refused.map((e) => (e.detail.error as { code: string }).code)).toEqual([ErrorCodes.BAD_ENVELOPE]);
    expect(isId(refused[0]?.detail.id)).toBe(true);
    expect(isId(refused[0]?.detail.rootId)).toBe(true);
    expect(runs.filter((x) => x.startsWith('refund('))).toEqual([]);
  });

  it('a lone surrogate in an object key is refused like one in a value', async () => {
    const tag = 100 + ++tags;
    const before = run().refused().length;
    await run().send([`{"task":"add","args":[${tag},{"\\ud800":1}]}`]);
    await run().local.drain();

    expect(refusedCodes(before)).toEqual([ErrorCodes.INVALID_UNICODE]);
    expect(runs.filter((x) => x.startsWith(`add(${tag},`))).toEqual([]);
  });

  it('a retries header of 1e300 is refused before the body runs, not run until the DLQ', async () => {
    const tag = 100 + ++tags;
    const before = run().refused().length;
    await run().send([envelope(`big-retries-${target}-${tag}`, 'add', [tag, 1], { retries: 1e300 })]);
    await run().local.drain();

    expect(refusedCodes(before)).toEqual([ErrorCodes.BAD_ENVELOPE]);
    expect(runs).not.toContain(`add(${tag},1)`);
    expect(await run().local.deadLetters('default')).toEqual([]);
  });

  it.each([
    ['groupIndex', { groupId: 'g', groupIndex: 2 ** 60 }],
    ['a fractional retries', { retries: 1.5 }],
    ['a hard time limit past what a timer can hold', { timeLimit: [1e12, null] }],
  ])('a header with %s is refused before the body runs', async (_what, headers) => {
    const tag = 100 + ++tags;
    const before = run().refused().length;
    await run().send([envelope(`bad-header-${target}-${tag}`, 'add', [tag, 1], headers)]);
    await run().local.drain();

    expect(refusedCodes(before)).toEqual([ErrorCodes.BAD_ENVELOPE]);
    expect(runs).not.toContain(`add(${tag},1)`);
  });
});

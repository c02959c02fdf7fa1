/**
 * `Task.replace` — celery-semantics §4.1 (CHAIN-19): a task replaces itself with a signature, a
 * chain, a group or a chord. The replacement keeps the replaced task's id, inherits its callbacks,
 * errbacks and its place in a chain, group or chord header, and the rest of the original chain
 * runs after it. Every spec runs with messages delivered once and with every batch delivered twice.
 */
import { describe, expect, it } from 'vitest';
import { type AnySignature, Chain, chain, chord, currentTask, group } from '../../../lib/index';
import { type CanvasFixture, canvasFixture, MODES, rejection } from './fixtures';

/** The fixture plus a task that replaces itself with what `make(x)` builds. */
function replacing(f: CanvasFixture, name: string, make: (x: number) => AnySignature) {
  return f.app.task(name, (x: number): number => {
    f.log.push({ task: name, args: [x], id: currentTask().id, parentId: null, rootId: undefined, groupIndex: currentTask().groupIndex });
    throw currentTask().replace(make(x));
  });
}

describe.each(MODES)('Task.replace ($mode)', ({ duplicate }) => {
  it('[CHAIN-19] replaced by a signature: the replacement runs once under the replaced id, and get() on that id yields its value', async () => {
    const f = canvasFixture({ duplicate });
    const viaAdd = replacing(f, 'viaAdd', (x) => f.add.s(x, 100));
    const r = await viaAdd.delay(1);
    await f.drain();
    expect(await r.get()).toBe(101);
    expect(f.count('viaAdd')).toBe(1);
    expect(f.calls('add').map((c) => [c.id, c.args])).toEqual([[r.id, [1, 100]]]);
    // It stands in the replaced task's place: same parent (here none), same root.
    expect(f.calls('add').map((c) => [c.parentId, c.rootId])).toEqual([[null, r.id]]);
    expect(await f.app.asyncResult(r.id).state()).toBe('SUCCESS');
  });

  it('[CHAIN-19] replaced by a chain: the last step takes the id and its value is the result', async () => {
    const f = canvasFixture({ duplicate });
    const viaChain = replacing(f, 'viaChain', (x) => chain(f.add.s(x, 1), f.double.s()));
    const r = await viaChain.delay(4);
    await f.drain();
    expect(await r.get()).toBe(10);
    expect(f.calls('double').map((c) => c.id)).toEqual([r.id]);
    expect(f.count('add')).toBe(1);
    expect(f.count('viaChain')).toBe(1);
  });

  it('[CHAIN-19] replaced by a group: it becomes a chord with an accumulate body, so the id stores the ordered list', async () => {
    const f = canvasFixture({ duplicate });
    const viaGroup = replacing(f, 'viaGroup', (x) => group(f.add.s(x, 1), f.add.s(x, 2), f.mul.s(x, 10)));
    const r = await viaGroup.delay(3);
    await f.drain();
    expect(await r.get()).toEqual([4, 5, 30]);
    expect(f.count('add')).toBe(2);
    expect(f.count('mul')).toBe(1);
    expect(f.count('viaGroup')).toBe(1);
  });

  it('[CHAIN-19] replaced by a one-member group: the id still stores a list, as Celery uplifts every group', async () => {
    const f = canvasFixture({ duplicate });
    const viaOne = replacing(f, 'viaOne', (x) => group(f.add.s(x, 1)));
    const r = await viaOne.delay(3);
    await f.drain();
    expect(await r.get()).toEqual([4]);
  });

  it('[CHAIN-19] replaced by a chord: the body takes the id and gets the header results in order', async () => {
    const f = canvasFixture({ duplicate });
    const viaChord = replacing(f, 'viaChord', (x) => chord([f.add.s(x, 1), f.add.s(x, 2)], f.collect.s()));
    const r = await viaChord.delay(10);
    await f.drain();
    expect(await r.get()).toEqual([[11, 12]]);
    expect(f.calls('collect').map((c) => c.id)).toEqual([r.id]);
    expect(f.count('add')).toBe(2);
  });

  it('[CHAIN-19] replaced by a chord whose body is a chain: the last step of the body takes the id', async () => {
    const f = canvasFixture({ duplicate });
    const viaChord = replacing(f, 'viaChord', (x) => chord([f.add.s(x, 1), f.add.s(x, 2)], chain(f.sum.s(), f.double.s())));
    const r = await viaChord.delay(10);
    await f.drain();
    expect(await r.get()).toBe(46);
    expect(f.calls('double').map((c) => c.id)).toEqual([r.id]);
  });

  it('[CHAIN-19] in the middle of a chain: the rest of the chain runs after the replacement and receives its value', async () => {
    const f = canvasFixture({ duplicate });
    const viaChain = replacing(f, 'viaChain', (x) => chain(f.add.s(x, 1), f.mul.s(3)));
    const r = await chain(f.add.s(1, 1), viaChain.s(), f.double.s(), f.collect.s()).applyAsync();
    await f.drain();
    expect(await r.get()).toEqual([18]); // ((1 + 1) + 1) * 3 = 9, doubled
    expect(f.calls('double').map((c) => c.args)).toEqual([[9]]);
    // The chain's handle still names the replaced task's id as the step before `double`.
    const replacedId = r.parent?.parent?.id as string;
    expect(f.calls('viaChain').map((c) => c.id)).toEqual([replacedId]);
    expect(await f.app.asyncResult(replacedId).get()).toBe(9);
    expect(f.calls('double')[0]?.parentId).toBe(replacedId);
  });

  it('[CHAIN-19] as a chord header member: the member is counted once, when the replacement finishes, and its value fills its slot', async () => {
    const f = canvasFixture({ duplicate });
    const viaChain = replacing(f, 'viaChain', (x) => chain(f.add.s(x, 1), f.double.s()));
    const viaGroup = replacing(f, 'viaGroup', (x) => group(f.add.s(x, 0), f.mul.s(x, 2)));
    const r = await chord([f.add.s(1, 1), viaChain.s(5), f.add.s(2, 2), viaGroup.s(7)], f.collect.s()).applyAsync();
    await f.drain();
    expect(await r.get()).toEqual([[2, 12, 4, [7, 14]]]);
    expect(f.count('collect')).toBe(1);
    // The replacement ran in the member's place: it was told its group index.
    expect(f.calls('viaChain').map((c) => c.groupIndex)).toEqual([1]);
  });

  it('[CHAIN-19] in a group: GroupResult.get() gives the replacement value in the member slot', async () => {
    const f = canvasFixture({ duplicate });
    const viaAdd = replacing(f, 'viaAdd', (x) => f.add.s(x, 100));
    const g = await group(f.add.s(1, 1), viaAdd.s(2)).applyAsync();
    await f.drain();
    expect(await g.get()).toEqual([2, 102]);
  });

  it('[CHAIN-19] inherits link: the callback runs once, after the replacement, with its value', async () => {
    const f = canvasFixture({ duplicate });
    const viaChain = replacing(f, 'viaChain', (x) => chain(f.add.s(x, 1), f.double.s()));
    const r = await viaChain.applyAsync([1], { link: f.collect.s('cb') });
    await f.drain();
    expect(await r.get()).toBe(4);
    expect(f.calls('collect').map((c) => c.args)).toEqual([[4, 'cb']]);
  });

  it('[CHAIN-19] inherits link_error: a replacement that fails fires the errback once, and get() raises its error', async () => {
    const f = canvasFixture({ duplicate });
    const viaFail = replacing(f, 'viaFail', () => chain(f.add.s(1, 1), f.fail.si('replacement broke'), f.double.s()));
    const r = await viaFail.applyAsync([0], { linkError: f.onError.s(), link: f.collect.s() });
    await f.drain();
    const e = await rejection(r.get());
    expect(e.message).toContain('replacement broke');
    expect(f.calls('onError').map((c) => c.args)).toEqual([[f.calls('fail')[0]?.id]]);
    expect(f.count('double')).toBe(0);
    expect(f.count('collect')).toBe(0);
  });

  it('[CHAIN-19] a failing replacement in a chord header fails the chord once (ChordError), its errback once', async () => {
    const f = canvasFixture({ duplicate });
    const viaFail = replacing(f, 'viaFail', () => f.fail.si('member replacement broke'));
    const r = await chord([f.add.s(1, 1), viaFail.s(0)], f.sum.s()).applyAsync([], { linkError: f.onError.s() });
    await f.drain();
    const e = await rejection(f.app.asyncResult(r.id).get());
    expect(e.name).toBe('ChordError');
    expect(f.count('sum')).toBe(0);
    expect(f.calls('onError').map((c) => c.args)).toEqual([[r.id]]);
  });

  it('[CHAIN-19] a replacement may replace itself again: the id ends with the innermost replacement value', async () => {
    const f = canvasFixture({ duplicate });
    const countdown = f.app.task('countdown', (n: number): number => {
      f.log.push({ task: 'countdown', args: [n], id: currentTask().id, parentId: null, rootId: undefined, groupIndex: undefined });
      if (n === 0) return 42;
      throw currentTask().replace(countdown.s(n - 1));
    });
    const r = await chain(countdown.s(3), f.double.s()).applyAsync();
    await f.drain();
    expect(await r.get()).toBe(84);
    expect(f.calls('countdown').map((c) => c.args[0])).toEqual([3, 2, 1, 0]);
    expect(new Set(f.calls('countdown').map((c) => c.id)).size).toBe(1);
  });

  it('[CHAIN-19] replacing with an empty chain fails the task, as Celery refuses it', async () => {
    const f = canvasFixture({ duplicate });
    const viaNothing = replacing(f, 'viaNothing', () => new Chain(f.app, []));
    const r = await viaNothing.delay(1);
    await f.drain();
    const e = await rejection(r.get());
    expect(e.code).toBe('INVALID_CANVAS');
  });
});

describe('Task.replace: the replaced task meanwhile', () => {
  it('its id reads REPLACED until the replacement stores its outcome; no event and no success hook is its own; postrun says IGNORED', async () => {
    const f = canvasFixture();
    const succeeded: string[] = [];
    const postrun: string[] = [];
    const viaAdd = f.app.task(
      'viaAdd',
      (x: number): number => {
        throw currentTask().replace(f.add.s(x, 1).set({ queue: 'later' }));
      },
      { onSuccess: () => void succeeded.push('onSuccess') },
    );
    f.app.signals.taskSuccess.connect(({ sender }) => void succeeded.push(sender));
    f.app.signals.taskPostrun.connect(({ task, state }) => void postrun.push(`${task} ${state}`));
    const r = await viaAdd.delay(1);
    await f.drainOnly('default');
    expect(await f.app.asyncResult(r.id).state()).toBe('REPLACED');
    expect(f.h.backend.events.events.filter((e) => e.detail.id === r.id)).toEqual([]);
    await f.drain();
    expect(await r.get()).toBe(2);
    expect(succeeded).toEqual(['add']);
    expect(postrun).toEqual(['viaAdd IGNORED', 'add SUCCESS']);
    const events = f.h.backend.events.events.filter((e) => e.detail.id === r.id);
    expect(events.map((e) => [e.detailType, e.detail.task])).toEqual([['task-succeeded', 'add']]);
  });

  it('a task revoked while it ran is not replaced: the revocation wins, the replacement never runs', async () => {
    const f = canvasFixture();
    const revoked: string[] = [];
    const viaAdd = f.app.task('viaAdd', async (x: number): Promise<number> => {
      revoked.push(currentTask().id);
      await f.app.asyncResult(currentTask().id).revoke();
      throw currentTask().replace(chain(f.add.s(x, 1), f.double.s()));
    });
    const r = await chord([viaAdd.s(1), f.add.s(2, 2)], f.sum.s()).applyAsync();
    await f.drain();
    expect(f.calls('add').map((c) => c.args)).toEqual([[2, 2]]);
    expect(f.count('double')).toBe(0);
    expect(revoked).toHaveLength(1);
    expect(await f.app.asyncResult(revoked[0] as string).state()).toBe('REVOKED');
    expect((await rejection(f.app.asyncResult(r.id).get())).name).toBe('ChordError');
  });

  it('outside a worker (task.run()) replace() throws TASK_ERROR', async () => {
    const f = canvasFixture();
    const viaAdd = replacing(f, 'viaAdd', (x) => f.add.s(x, 1));
    const e = await rejection(viaAdd.run(1));
    expect(e.code).toBe('TASK_ERROR');
  });
});

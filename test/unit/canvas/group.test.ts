/**
 * group — celery-semantics §4.2. Every spec runs twice: messages delivered once, and every
 * batch delivered twice (at-least-once delivery must not change any result or count).
 */
import { describe, expect, it } from 'vitest';
import { chain, ErrorCodes, Group, GroupResult, group } from '../../../lib/index';
import { canvasFixture, MODES, rejection } from './fixtures';

describe.each(MODES)('group ($mode)', ({ duplicate }) => {
  it('[GROUP-01] returns results in member order, not completion order', async () => {
    const f = canvasFixture({ duplicate });
    const g = await group(f.add.s(1, 1).set({ queue: 'late' }), f.add.s(2, 2), f.add.s(3, 3)).applyAsync();
    expect(g).toBeInstanceOf(GroupResult);
    expect(g.results).toHaveLength(3);
    await f.drainOnly('default'); // members 2 and 3 finish first
    expect(await g.completedCount()).toBe(2);
    expect(await g.ready()).toBe(false);
    expect(await g.waiting()).toBe(true);
    await f.drain();
    expect(f.calls('add').map((c) => c.args)).toEqual([
      [2, 2],
      [3, 3],
      [1, 1],
    ]);
    expect(await g.get()).toEqual([2, 4, 6]);
    expect(await g.join()).toEqual([2, 4, 6]);
    expect(f.count('add')).toBe(3);
  });

  it('[GROUP-01] every member carries the group id and its index', async () => {
    const f = canvasFixture({ duplicate });
    const g = await group(f.add.s(1, 1), f.add.s(2, 2), f.add.s(3, 3)).applyAsync();
    await f.drain();
    expect(f.calls('add').map((c) => c.groupIndex)).toEqual([0, 1, 2]);
    for (const r of g.results) expect((await r.record())?.groupId).toBe(g.id);
  });

  it('[GROUP-06] call args are prepended to every member; immutable members get nothing', async () => {
    const f = canvasFixture({ duplicate });
    const g = await group(f.add.s(1), f.mul.s(3), f.add.si(5, 5)).applyAsync([10]);
    await f.drain();
    expect(await g.get()).toEqual([11, 30, 10]);
    expect(f.calls('add').map((c) => c.args)).toEqual([
      [10, 1],
      [5, 5],
    ]);
    expect(f.calls('mul').map((c) => c.args)).toEqual([[10, 3]]);
  });

  it('[GROUP-04] nested groups are flattened depth-first into one result list', async () => {
    const f = canvasFixture({ duplicate });
    const g = await group(f.add.s(1, 10), group(f.add.s(1, 100), group(f.add.s(1, 1000), f.add.s(1, 2000))), f.add.s(1, 3000)).applyAsync();
    expect(g.results).toHaveLength(5);
    await f.drain();
    expect(await g.get()).toEqual([11, 101, 1001, 2001, 3001]);
  });

  it('[GROUP-05] members may be chains; each contributes its last result', async () => {
    const f = canvasFixture({ duplicate });
    const g = await group(chain(f.add.s(1, 1), f.add.s(10)), chain(f.add.s(2, 2), f.mul.s(10), f.add.s(1)), f.add.s(3, 3)).applyAsync();
    await f.drain();
    expect(await g.get()).toEqual([12, 41, 6]);
    expect(f.count('add')).toBe(5);
    expect(f.count('mul')).toBe(1);
  });

  it('[GROUP-02] partial failure: get() raises the first failed member in member order; the others still run', async () => {
    const f = canvasFixture({ duplicate });
    // The later failure ('second') finishes first in time; get() still names 'first'.
    const g = await group(f.add.s(1, 1), f.fail.s('first').set({ queue: 'late' }), f.add.s(2, 2), f.fail.s('second')).applyAsync();
    await f.drainOnly('default');
    expect(await g.failed()).toBe(true);
    await f.drain();
    const e = await rejection(g.get());
    expect(e.message).toBe('first');
    expect(e.name).toBe('Error');
    expect(f.count('add')).toBe(2);
    expect(f.count('fail')).toBe(2);
  });

  it('[GROUP-02] get({ propagate: false }) gives errors in place; ready/successful/failed/completedCount', async () => {
    const f = canvasFixture({ duplicate });
    const g = await group(f.add.s(1, 1), f.fail.s('first'), f.add.s(2, 2), f.fail.s('second')).applyAsync();
    expect(await g.ready()).toBe(false);
    expect(await g.completedCount()).toBe(0);
    await f.drain();
    const values: readonly unknown[] = await g.get({ propagate: false });
    expect(values).toHaveLength(4);
    expect(values[0]).toBe(2);
    expect(values[1]).toBeInstanceOf(Error);
    expect((values[1] as Error).message).toBe('first');
    expect(values[2]).toBe(4);
    expect((values[3] as Error).message).toBe('second');
    expect(await g.ready()).toBe(true);
    expect(await g.waiting()).toBe(false);
    expect(await g.successful()).toBe(false);
    expect(await g.failed()).toBe(true);
    expect(await g.completedCount()).toBe(2);
    expect(await g.states()).toEqual(['SUCCESS', 'FAILURE', 'SUCCESS', 'FAILURE']);
  });

  it('[GROUP-02] an all-successful group is successful and not failed', async () => {
    const f = canvasFixture({ duplicate });
    const g = await group(f.add.s(1, 1), f.add.s(2, 2)).applyAsync();
    await f.drain();
    expect(await g.successful()).toBe(true);
    expect(await g.failed()).toBe(false);
    expect(await g.completedCount()).toBe(2);
  });

  it('[GROUP-07] group.linkError is copied to every member: fires once per failing member', async () => {
    const f = canvasFixture({ duplicate });
    const g = await group(f.fail.s('a'), f.add.s(1, 1), f.fail.s('b')).linkError(f.onError.s()).applyAsync();
    await f.drain();
    const failedIds = [g.results[0]?.id, g.results[2]?.id];
    expect(
      f
        .calls('onError')
        .map((c) => c.args[0])
        .sort(),
    ).toEqual([...failedIds].sort());
    // old-style errbacks are published with the failed task as parent
    expect(
      f
        .calls('onError')
        .map((c) => c.parentId)
        .sort(),
    ).toEqual([...failedIds].sort());
  });

  it('[GROUP-07] a new-style (inline) errback on a group fires once per failing member with the failed request', async () => {
    const f = canvasFixture({ duplicate });
    const g = await group(f.fail.s('a'), f.add.s(1, 1), f.fail.s('b')).linkError(f.onErrorInline.s()).applyAsync();
    await f.drain();
    const seen = f.calls('onErrorInline').map((c) => c.args);
    expect(seen).toHaveLength(2);
    expect(seen.map((a) => a[0]).sort()).toEqual([g.results[0]?.id, g.results[2]?.id].sort());
    expect(seen.map((a) => a[3]).sort()).toEqual(['a', 'b']);
    expect(seen.every((a) => a[1] === 'fail')).toBe(true);
  });

  it('[GROUP-08] group.link is made immutable and attached to the first member only: fires once, without args', async () => {
    const f = canvasFixture({ duplicate });
    const g = await group(f.add.s(1, 1), f.add.s(2, 2), f.add.s(3, 3)).link(f.collect.s('linked')).applyAsync();
    await f.drain();
    expect(await g.get()).toEqual([2, 4, 6]);
    const cb = f.calls('collect');
    expect(cb).toHaveLength(1);
    expect(cb[0]?.args).toEqual(['linked']);
    expect(cb[0]?.parentId).toBe(g.results[0]?.id);
  });

  it('[GROUP-03] an empty group (built with group()) resolves to [] at once and is ready', async () => {
    const f = canvasFixture({ duplicate });
    const items: number[] = [];
    const g = await group(items.map((i) => f.add.s(i, i))).applyAsync();
    expect(g.results).toHaveLength(0);
    expect(await g.get({ timeoutMs: 50 })).toEqual([]);
    expect(await g.ready()).toBe(true);
    expect(await g.completedCount()).toBe(0);
    expect(await f.drain()).toBe(0);
  });

  it('[GROUP-03] an empty group bound to an app resolves to [] at once and is ready', async () => {
    const f = canvasFixture({ duplicate });
    const g = await new Group<[], []>(f.app, []).applyAsync();
    expect(g.results).toHaveLength(0);
    expect(await g.get({ timeoutMs: 50 })).toEqual([]);
    expect(await g.ready()).toBe(true);
    expect(await f.drain()).toBe(0);
  });
});

describe('group: refused calls', () => {
  it('[GROUP-08] group.applyAsync({ link }) is refused (use a chord) and publishes nothing', async () => {
    const f = canvasFixture();
    const e = await rejection(group(f.add.s(1, 1), f.add.s(2, 2)).applyAsync([], { link: f.sum.s() }));
    expect(e.code).toBe(ErrorCodes.INVALID_CANVAS);
    expect(await f.drain()).toBe(0);
  });
});

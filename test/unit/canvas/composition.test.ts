/**
 * Composition and upgrade rules — celery-semantics §4.1 (chain upgrades), §4.3 (nesting) and the
 * design's "a message stays small whatever the workflow's depth" (CHAIN-15). Every spec runs with
 * messages delivered once and with every batch delivered twice.
 */
import { describe, expect, it } from 'vitest';
import { type AnySignature, AsyncResult, Chain, chain, chord, GroupResult, group } from '../../../lib/index';
import type { OutgoingMessage } from '../../../lib/ports';
import { canvasFixture, MODES } from './fixtures';

describe.each(MODES)('composition ($mode)', ({ duplicate }) => {
  it('[CHAIN-10/11] chain(group, task) is upgraded to a chord: the task runs once with the ordered list', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chain(group(f.add.s(1, 1).set({ queue: 'late' }), f.add.s(2, 2), f.add.s(3, 3)), f.sum.s()).applyAsync();
    expect(r).toBeInstanceOf(AsyncResult);
    expect(r.parent).toBeInstanceOf(GroupResult);
    await f.drainOnly('default');
    expect(f.count('sum')).toBe(0);
    await f.drain();
    expect(await r.get()).toBe(12);
    expect(f.calls('sum').map((c) => c.args)).toEqual([[[2, 4, 6]]]);
  });

  it('[CHAIN-14] a group in the middle of a chain becomes a chord with the next step as body', async () => {
    const f = canvasFixture({ duplicate });
    // Celery integration test_chord.test_group_chain: add(2,2) | group(add(i) for i in 0..3) | add_to_all(8)
    // `addToAll.s(8)` is the Celery form (8 is the trailing arg); its typing is checked in
    // test/types/canvas.test-d.ts [SIG-01]. Here the by-name signature keeps this spec about runtime.
    const addToAll8 = f.app.signature<number[]>('addToAll', [8]);
    const r = await chain(f.add.s(2, 2), group(f.add.s(0), f.add.s(1), f.add.s(2), f.add.s(3)), addToAll8).applyAsync();
    await f.drain();
    expect(await r.get()).toEqual([12, 13, 14, 15]);
    expect(f.count('addToAll')).toBe(1);
  });

  it('[CHAIN-20] chain(group, group): a chord whose body is a group; each body member gets the whole list', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chain(group(f.add.s(1, 0), f.add.s(2, 0)), group(f.identity.s(), f.identity.s())).applyAsync();
    expect(r).toBeInstanceOf(GroupResult);
    await f.drain();
    expect(await r.get()).toEqual([
      [1, 2],
      [1, 2],
    ]);
    expect(f.calls('identity').map((c) => c.args)).toEqual([[[1, 2]], [[1, 2]]]);
  });

  it('[CHAIN-09] a chain ending in a group returns a GroupResult; each member gets the previous result', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chain(f.add.s(1, 1), f.add.s(10), group(f.add.s(100), f.mul.s(10), f.identity.s())).applyAsync();
    expect(r).toBeInstanceOf(GroupResult);
    expect(r.results).toHaveLength(3);
    await f.drain();
    expect(await r.get()).toEqual([112, 120, 12]);
    // every member's parent is the step before the group
    const before = r.parent;
    expect(before).toBeInstanceOf(AsyncResult);
    for (const c of [...f.calls('mul'), ...f.calls('identity')]) expect(c.parentId).toBe(before?.id);
  });

  it('[CHAIN-12] a single-member group in a chain is unrolled: the next step gets a scalar', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chain(f.add.s(1, 1), group(f.add.s(10)), f.collect.s()).applyAsync();
    await f.drain();
    expect(await r.get()).toEqual([12]); // not [[12]]: no chord was made
    expect(f.calls('collect').map((c) => c.args)).toEqual([[12]]);
  });

  it('[§4.1] an empty group inside a chain is skipped', async () => {
    const f = canvasFixture({ duplicate });
    // Built dynamically (as `group(items.map(...))` with no items); types cannot follow a skipped group.
    const steps: AnySignature[] = [f.add.s(1, 1), group([] as AnySignature[]), f.add.s(10)];
    const r = (await new Chain(f.app, steps).applyAsync()) as AsyncResult<number>;
    await f.drain();
    expect(await r.get()).toBe(12);
    expect(f.calls('add').map((c) => c.args)).toEqual([
      [1, 1],
      [2, 10],
    ]);
  });

  it('[GROUP-03/CHAIN-10] an empty group opening a chain is an empty chord header: the next step runs at once with []', async () => {
    const f = canvasFixture({ duplicate });
    const steps: AnySignature[] = [group([] as AnySignature[]), f.sum.s(), f.add.s(5)];
    const r = (await new Chain(f.app, steps).applyAsync()) as AsyncResult<number>;
    await f.drain();
    expect(await r.get()).toBe(5);
    expect(f.calls('sum').map((c) => c.args)).toEqual([[[]]]);
    expect(f.calls('add').map((c) => c.args)).toEqual([[0, 5]]);
  });

  it('[CHAIN-10] the handle of a chain holding a chord: parent is the header GroupResult, whose parent is the step before', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chain(f.add.s(1, 1), chord([f.add.s(10), f.mul.s(10)], f.sum.s()), f.add.s(1000)).applyAsync();
    await f.drain();
    const body = r.parent;
    expect(body).toBeInstanceOf(AsyncResult);
    const header = body?.parent;
    expect(header).toBeInstanceOf(GroupResult);
    expect(await (header as GroupResult<number[]>).get()).toEqual([12, 20]);
    const first = header?.parent;
    expect(first).toBeInstanceOf(AsyncResult);
    expect(await (first as AsyncResult<number>).get()).toBe(2);
    expect(first?.parent).toBeUndefined();
  });

  it('[CHAIN-13] chain(group, task, group) runs strictly in phases', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chain(group(f.add.s(1, 1), f.add.s(2, 2)), f.sum.s(), group(f.add.s(1), f.add.s(2))).applyAsync();
    await f.drain();
    expect(await r.get()).toEqual([7, 8]);
    const order = f.log.map((c) => c.task);
    expect(order.indexOf('sum')).toBeGreaterThan(1);
    expect(order.slice(0, 2)).toEqual(['add', 'add']);
    expect(order.slice(3)).toEqual(['add', 'add']);
  });

  it('[§4.1/§4.3] chords inside chains: the previous result is prepended to every header part', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chain(f.add.s(1, 1), chord([f.add.s(10), f.mul.s(10)], f.sum.s()), f.add.s(1000)).applyAsync();
    await f.drain();
    // 2 → [12, 20] → 32 → 1032
    expect(await r.get()).toBe(1032);
    expect(f.count('sum')).toBe(1);
  });

  it('[CHORD-10/CHORD-14] nested three levels deep: chain → chord → chain in header → chord → chain in header', async () => {
    const f = canvasFixture({ duplicate });
    const inner = chord([chain(f.add.s(10), f.mul.s(2)), f.add.s(20)], f.sum.s()); // x → [(x+10)*2, x+20] → sum
    const middle = chord([chain(f.add.s(1), inner), f.add.s(100)], f.sum.s()); // x → [inner(x+1), x+100] → sum
    const r = await chain(f.add.s(1, 1), middle, chain(f.mul.s(3), f.add.s(1))).applyAsync();
    await f.drain();
    // x = 2; inner(3) = (13*2) + 23 = 49; middle = 49 + 102 = 151; then *3 + 1 = 454
    expect(await r.get()).toBe(454);
    expect(f.calls('sum').map((c) => c.args)).toEqual([[[26, 23]], [[49, 102]]]);
  });

  it('[CHORD-09] a chord whose header holds chords whose headers hold chains', async () => {
    const f = canvasFixture({ duplicate });
    const leaf = (n: number) => chord([chain(f.add.s(n, n), f.mul.s(10)), f.add.s(n, 0)], f.sum.s()); // 20n + n
    const r = await chord([leaf(1), leaf(2), group(leaf(3), f.add.s(4, 4))], f.collect.s()).applyAsync();
    await f.drain();
    expect(await r.get()).toEqual([[21, 42, 63, 8]]);
    expect(f.count('collect')).toBe(1);
    expect(f.count('sum')).toBe(3);
  });

  it('[CHAIN-15] a chain of nine chords runs', async () => {
    const f = canvasFixture({ duplicate });
    const chords = Array.from({ length: 9 }, (_, i) =>
      i === 0 ? chord([f.add.s(1, 1), f.add.s(1, 1)], f.sum.s()) : chord([f.add.s(1), f.add.s(2)], f.sum.s()),
    );
    const r = (await new Chain(f.app, chords).applyAsync()) as AsyncResult<number>;
    await f.drain();
    // s1 = 4; s(k+1) = (sk + 1) + (sk + 2) = 2 sk + 3
    let expected = 4;
    for (let i = 1; i < 9; i++) expected = 2 * expected + 3;
    expect(await r.get()).toBe(expected);
    expect(f.count('sum')).toBe(9);
  });
});

describe('message size (CHAIN-15: Celery grows ×5 per chord; celeriac must not)', () => {
  /** Applies a chain of `n` chords and returns the bodies of the messages the producer sent. */
  async function firstMessages(n: number, members = 3): Promise<string[]> {
    const f = canvasFixture();
    const sent: OutgoingMessage[] = [];
    const broker = f.h.backend.broker;
    const send = broker.send.bind(broker);
    broker.send = async (messages) => {
      sent.push(...messages);
      return send(messages);
    };
    const chords: AnySignature[] = Array.from({ length: n }, (_, i) =>
      chord(
        Array.from({ length: members }, (_, j) => (i === 0 ? f.add.s(j, j) : f.add.s(j))),
        f.sum.s(),
      ),
    );
    await new Chain(f.app, chords).applyAsync();
    return sent.map((m) => m.body);
  }

  it('[CHAIN-15] the first message of a nine-chord chain is as small as that of a single chord', async () => {
    const one = await firstMessages(1);
    const nine = await firstMessages(9);
    expect(one).toHaveLength(3 + 1); // three header parts (+ the chord deadline message)
    expect(nine).toHaveLength(3 + 1);
    const size = (bodies: string[]) => Math.max(...bodies.map((b) => Buffer.byteLength(b)));
    // Celery 5.2 sends ~227 MB here. celeriac keeps the graph by reference: depth must not show.
    expect(size(nine)).toBeLessThan(1_536);
    expect(Math.abs(size(nine) - size(one))).toBeLessThan(500);
  });

  it('[CHAIN-15] first-message size does not grow with depth (5, 9, 20 chords)', async () => {
    const sizes: number[] = [];
    for (const n of [5, 9, 20]) {
      const bodies = await firstMessages(n);
      sizes.push(Math.max(...bodies.map((b) => Buffer.byteLength(b))));
    }
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThan(500);
  });
});

/**
 * map / starmap / chunks — celery-semantics §4.4 [P-MAP-01/02]. Every spec runs with messages
 * delivered once and with every batch delivered twice.
 */
import { describe, expect, it } from 'vitest';
import { AsyncResult, chain, chord, ErrorCodes, GroupResult, MAP_TASK, STARMAP_TASK } from '../../../lib/index';
import { canvasFixture, MODES, rejection } from './fixtures';

describe.each(MODES)('map / starmap / chunks ($mode)', ({ duplicate }) => {
  it('[P-MAP-01] task.map(items) is ONE task that calls the task in-process for each item and returns the list', async () => {
    const f = canvasFixture({ duplicate });
    const r = await f.double.map([1, 2, 3]).applyAsync();
    expect(r).toBeInstanceOf(AsyncResult);
    expect(await f.h.backend.broker.depth('default')).toMatchObject({ visible: 1 });
    await f.drain();
    expect(await r.get()).toEqual([2, 4, 6]);
    expect((await r.record())?.task).toBe(MAP_TASK);
    const calls = f.calls('double');
    expect(calls.map((c) => c.args)).toEqual([[1], [2], [3]]);
    // in-process: no message and no result of their own; they run inside the map task
    expect(calls.every((c) => c.id === r.id)).toBe(true);
  });

  it('[P-MAP-01] task.starmap(items) spreads each item as the argument list', async () => {
    const f = canvasFixture({ duplicate });
    const r = await f.add
      .starmap([
        [1, 2],
        [3, 4],
        [5, 6],
      ])
      .applyAsync();
    expect(await f.h.backend.broker.depth('default')).toMatchObject({ visible: 1 });
    await f.drain();
    expect(await r.get()).toEqual([3, 7, 11]);
    expect((await r.record())?.task).toBe(STARMAP_TASK);
    expect(f.count('add')).toBe(3);
  });

  it('[P-MAP-01] map of no items returns []', async () => {
    const f = canvasFixture({ duplicate });
    const r = await f.double.map([]).applyAsync();
    await f.drain();
    expect(await r.get()).toEqual([]);
  });

  it('[P-MAP-01] an item that throws fails the whole map task with that error', async () => {
    const f = canvasFixture({ duplicate });
    const r = await f.fail.map(['bad item']).applyAsync();
    await f.drain();
    expect(await r.state()).toBe('FAILURE');
    expect((await rejection(r.get())).message).toBe('bad item');
  });

  it('[P-MAP-02] task.chunks(items, n) is a group of ceil(len/n) starmap tasks; the result is a list of lists', async () => {
    const f = canvasFixture({ duplicate });
    const items = Array.from({ length: 10 }, (_, i): [number, number] => [i, i]);
    const g = await f.add.chunks(items, 3).applyAsync();
    expect(g).toBeInstanceOf(GroupResult);
    expect(g.results).toHaveLength(4);
    await f.drain();
    expect(await g.get()).toEqual([[0, 2, 4], [6, 8, 10], [12, 14, 16], [18]]);
    for (const r of g.results) expect((await r.record())?.task).toBe(STARMAP_TASK);
    expect(f.count('add')).toBe(10);
  });

  it('[P-MAP-02] chunks as a chord header: the body gets the list of chunk results', async () => {
    const f = canvasFixture({ duplicate });
    const items = Array.from({ length: 5 }, (_, i): [number, number] => [i, 1]);
    const r = await chord(f.add.chunks(items, 2), f.collect.s()).applyAsync();
    await f.drain();
    expect(await r.get()).toEqual([[[1, 2], [3, 4], [5]]]);
    expect(f.count('collect')).toBe(1);
  });

  it('[P-MAP-01] a map task can start a chain: the next step gets the list', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chain(f.double.map([1, 2, 3]), f.sum.s()).applyAsync();
    await f.drain();
    expect(await r.get()).toBe(12);
  });
});

describe('chunks: refused calls', () => {
  it('[P-MAP-02] chunks() with a size that is not a positive integer is refused', () => {
    const f = canvasFixture();
    for (const n of [0, -1, 1.5]) {
      let err: unknown;
      try {
        f.add.chunks([[1, 1]], n);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: ErrorCodes.INVALID_CANVAS });
    }
  });
});

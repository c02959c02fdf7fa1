/**
 * `get()` and the failed-ancestor check (Celery's follow_parents): which failure it raises, and
 * what it reads from the store while it waits.
 */
import { describe, expect, it } from 'vitest';
import { chain, chord, GroupResult, group, TimeoutError } from '../../lib/index';
import type { ResultStore } from '../../lib/ports';
import { harness } from '../helpers/harness';

/** Counts, per id, how often the store was asked for it (get and getMany), until `stop()`. */
function countReads(store: ResultStore): Map<string, number> & { stop(): void } {
  let on = true;
  const reads = Object.assign(new Map<string, number>(), {
    stop() {
      on = false;
    },
  });
  const bump = (id: string) => on && reads.set(id, (reads.get(id) ?? 0) + 1);
  const get = store.get.bind(store);
  const getMany = store.getMany.bind(store);
  store.get = async (id) => {
    bump(id);
    return get(id);
  };
  store.getMany = async (ids) => {
    for (const id of ids) bump(id);
    return getMany(ids);
  };
  return reads;
}

function fixture() {
  const h = harness();
  const add = h.app.task('add', (x: number, y: number) => x + y);
  const sum = h.app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
  const fail = h.app.task('fail', (why: string): number => {
    throw new RangeError(why);
  });
  return { h, add, sum, fail };
}

describe('get() and the ancestors of a result', () => {
  it("raises a chain parent's error while the last step is still pending", async () => {
    const { h, add, fail } = fixture();
    const r = await chain(fail.s('first step broke'), add.s(1)).applyAsync();
    await h.drain();

    await expect(r.get({ timeoutMs: 1_000 })).rejects.toMatchObject({ name: 'RangeError', message: 'first step broke' });
  });

  it('raises the first failed chord header member in header order, before the body is stored', async () => {
    const { h, add, sum, fail } = fixture();
    const r = await chord([add.s(1, 1), fail.s('second'), fail.s('third'), add.s(2, 2)], sum.s()).applyAsync();
    // Deliver the first three members only: the fourth keeps the chord (and its body) waiting.
    await h.deliver('default', { max: 3 });
    expect(await h.app.asyncResult(r.id).state()).toBe('PENDING');

    await expect(r.get({ timeoutMs: 1_000, intervalMs: 1 })).rejects.toMatchObject({ message: 'second' });
  });

  it('while waiting on a chord body, reads each finished header record once and only the unfinished ones again', async () => {
    const { h, add, sum } = fixture();
    const r = await chord([add.s(1, 1), add.s(2, 2), add.s(3, 3)], sum.s()).applyAsync();
    await h.deliver('default', { max: 2 });
    const header = r.parent as GroupResult;
    expect(header).toBeInstanceOf(GroupResult);
    const states = await header.states();
    const done = header.results.filter((_, i) => states[i] === 'SUCCESS').map((m) => m.id);
    const running = header.results.filter((_, i) => states[i] !== 'SUCCESS').map((m) => m.id);
    expect(done).toHaveLength(2);
    const reads = countReads(h.backend.store);
    // After get() has polled five times, the rest of the chord runs (no timing involved); the
    // worker's own reads are not counted.
    let finishing: Promise<number> | undefined;
    const get = h.backend.store.get.bind(h.backend.store);
    h.backend.store.get = async (id) => {
      if (id === r.id && reads.get(id) === 5 && !finishing) {
        reads.stop();
        finishing = h.drain();
      }
      return get(id);
    };

    expect(await r.get({ timeoutMs: 5_000, intervalMs: 1 })).toBe(12);
    await finishing;

    expect(reads.get(r.id)).toBe(5); // five polls counted
    for (const id of done) expect(reads.get(id)).toBe(1);
    for (const id of running) expect(reads.get(id)).toBe(5);
  });

  it('a successful result is returned without reading its ancestors (its success proves theirs)', async () => {
    const { h, add, sum } = fixture();
    const r = await chord([add.s(1, 1), add.s(2, 2)], sum.s()).applyAsync();
    await h.drain();
    const reads = countReads(h.backend.store);

    expect(await r.get({ timeoutMs: 1_000 })).toBe(6);
    expect([...reads.keys()]).toEqual([r.id]);
  });

  it('followParents: false waits on the task itself and ignores a revoked parent', async () => {
    const { h, add } = fixture();
    const r = await chain(add.s(1, 2), add.s(1)).applyAsync();
    await (r.parent as { revoke(): Promise<void> }).revoke();
    await h.drain();

    // A revoked step leaves the tail unsent (PENDING): only the parent check can tell.
    await expect(r.get({ timeoutMs: 1_000, intervalMs: 1 })).rejects.toMatchObject({ name: 'TaskRevokedError' });
    await expect(r.get({ timeoutMs: 20, intervalMs: 1, followParents: false })).rejects.toBeInstanceOf(TimeoutError);
  });

  it('a group at the end of a chain raises the failed step before it, while its members never run', async () => {
    const { h, add, fail } = fixture();
    const g = await chain(fail.s('upstream'), group(add.s(1), add.s(2))).applyAsync();
    await h.drain();

    expect(g).toBeInstanceOf(GroupResult);
    await expect(g.get({ timeoutMs: 1_000, intervalMs: 1 })).rejects.toMatchObject({ name: 'RangeError', message: 'upstream' });
  });
});

/**
 * The ResultStore contract: conditional writes that make effects exactly-once over at-least-once
 * delivery, held by the memory adapter and by the DynamoDB adapter against dynalite.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ResultRecord, ResultStore } from '../../lib/ports';
import type { PlanRecord } from '../../lib/protocol/plan';

const id = (): string => randomUUID();

const success = (taskId: string, result: unknown = 5, extra: Partial<ResultRecord> = {}): ResultRecord =>
  ({
    id: taskId,
    state: 'SUCCESS',
    result,
    task: 'add',
    rootId: taskId,
    parentId: null,
    dateDone: 1_700_000_000_000,
    ...extra,
  }) as ResultRecord;
const started = (taskId: string, retries = 0): ResultRecord => ({
  id: taskId,
  state: 'STARTED',
  task: 'add',
  retries,
  startedAt: 1_700_000_000_000,
});

function plan(planId: string, nodes = 3, argBytes = 8): PlanRecord {
  return {
    v: 1,
    id: planId,
    root: 0,
    nodes: [
      { t: 'chain', steps: Array.from({ length: nodes }, (_, i) => i + 1) },
      ...Array.from({ length: nodes }, (_, i) => ({
        t: 'task' as const,
        id: `${planId}-${i}`,
        name: 'add',
        // Random base64 defeats compression, so large plans really are large when stored.
        args: [i, randomBytes(argBytes).toString('base64')],
      })),
    ],
  };
}

export function resultStoreContract(name: string, setup: () => ResultStore | Promise<ResultStore>): void {
  describe(`ResultStore contract: ${name}`, () => {
    let store: ResultStore;
    beforeAll(async () => {
      store = await setup();
    });

    describe('reads', () => {
      it('returns undefined for a task that has no record (PENDING)', async () => {
        expect(await store.get(id())).toBeUndefined();
      });

      it('getMany answers in the order asked, with undefined for missing ids and repeated ids answered twice', async () => {
        const [a, b] = [id(), id()];
        await store.writeIfNotReady(success(a, 'A'));
        await store.writeIfNotReady(success(b, 'B'));
        const got = await store.getMany([b, id(), a, b]);
        expect(got.map((r) => r?.result)).toEqual(['B', undefined, 'A', 'B']);
      });

      it('an eventually consistent read (consistent: false) answers what is stored (the emulators and DynamoDB Local are consistent at once)', async () => {
        const [a, b] = [id(), id()];
        await store.writeIfNotReady(success(a, 'A'));
        expect((await store.get(a, { consistent: false }))?.result).toBe('A');
        expect(await store.get(b, { consistent: false })).toBeUndefined();
        expect((await store.getMany([b, a], { consistent: false })).map((r) => r?.result)).toEqual([undefined, 'A']);
      });

      it('getMany reads more than 100 ids (more than one batch request)', async () => {
        const ids = Array.from({ length: 130 }, id);
        await Promise.all(ids.filter((_, i) => i % 2 === 0).map((x, i) => store.writeIfNotReady(success(x, i))));
        const got = await store.getMany(ids);
        expect(got).toHaveLength(130);
        expect(got.filter((r) => r !== undefined)).toHaveLength(65);
        expect(got.every((r, i) => (i % 2 === 0 ? r?.id === ids[i] : r === undefined))).toBe(true);
      });
    });

    describe('writeIfNotReady (the exactly-once guard)', () => {
      it('writes a record that reads back equal, every field included', async () => {
        const taskId = id();
        const record: ResultRecord = {
          id: taskId,
          state: 'FAILURE',
          error: {
            type: 'TypeError',
            message: 'boom',
            code: 'TASK_ERROR',
            retryable: false,
            stack: 'TypeError: boom\n  at x',
            details: { n: 1 },
          },
          traceback: 'TypeError: boom\n  at x',
          meta: { progress: [1, 2, { deep: true }] },
          task: 'report',
          rootId: 'root-1',
          parentId: 'parent-1',
          groupId: 'group-1',
          children: ['c1', 'c2'],
          retries: 2,
          queue: 'default',
          args: [1, 'two', null, { three: [3] }],
          kwargs: { k: 'v' },
          dateDone: 1_700_000_000_123,
          startedAt: 1_700_000_000_000,
          durationMs: 123,
          cont: 'pending',
          lease: { owner: 'worker-1', until: 1_700_000_030_000 },
          revokedBy: 'client',
        };
        expect(await store.writeIfNotReady(record)).toEqual({ written: true });
        expect(await store.get(taskId)).toEqual(record);
      });

      it('keeps unicode, empty strings and nested JSON intact', async () => {
        const taskId = id();
        const result = { s: '', emoji: '🥕 céleri 芹菜', nested: { a: [[], {}, [null]] }, n: -0.5 };
        await store.writeIfNotReady(success(taskId, result));
        expect((await store.get(taskId))?.result).toEqual(result);
      });

      it('stores a copy: mutating the written or the read object changes nothing stored', async () => {
        const taskId = id();
        const record = { ...success(taskId, { list: [1, 2] }) } as { result: { list: number[] } } & ResultRecord;
        await store.writeIfNotReady(record);
        record.result.list.push(3);
        const read = (await store.get(taskId)) as { result: { list: number[] } } & ResultRecord;
        read.result.list.push(4);
        expect((await store.get(taskId))?.result).toEqual({ list: [1, 2] });
      });

      it('overwrites a non-ready record (STARTED → SUCCESS)', async () => {
        const taskId = id();
        await store.writeIfNotReady(started(taskId));
        expect(await store.writeIfNotReady(success(taskId, 9))).toEqual({ written: true });
        expect((await store.get(taskId))?.state).toBe('SUCCESS');
      });

      it.each(['SUCCESS', 'FAILURE', 'REVOKED'])('never overwrites a %s record, and returns it', async (state) => {
        const taskId = id();
        await store.writeIfNotReady({ id: taskId, state, result: 'first' });
        const second = await store.writeIfNotReady(success(taskId, 'second'));
        expect(second).toEqual({ written: false, current: { id: taskId, state, result: 'first' } });
        expect((await store.get(taskId))?.result).toBe('first');
      });

      it('of 20 concurrent writers for one id, exactly one wins and the record is the winner’s', async () => {
        const taskId = id();
        const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => store.writeIfNotReady(success(taskId, i))));
        const winners = outcomes.flatMap((o, i) => (o.written ? [i] : []));
        expect(winners).toHaveLength(1);
        expect((await store.get(taskId))?.result).toBe(winners[0]);
        for (const o of outcomes) if (!o.written) expect(o.current?.state).toBe('SUCCESS');
      });
    });

    describe('writeProgress', () => {
      it('writes a progress state over nothing, and over an older attempt', async () => {
        const taskId = id();
        expect(await store.writeProgress(started(taskId, 0))).toEqual({ written: true });
        expect(await store.writeProgress({ id: taskId, state: 'PROGRESS', meta: { done: 50 }, retries: 0 })).toEqual({ written: true });
        expect(await store.writeProgress({ id: taskId, state: 'RETRY', retries: 1 })).toEqual({ written: true });
        expect(await store.get(taskId)).toEqual({ id: taskId, state: 'RETRY', retries: 1 });
      });

      it('refuses to go back to an older attempt, returning the newer record', async () => {
        const taskId = id();
        await store.writeProgress(started(taskId, 2));
        const stale = await store.writeProgress(started(taskId, 1));
        expect(stale).toEqual({ written: false, current: started(taskId, 2) });
      });

      it('treats a record without an attempt number as attempt 0', async () => {
        const taskId = id();
        await store.writeProgress({ id: taskId, state: 'STARTED', retries: 1 });
        expect((await store.writeProgress({ id: taskId, state: 'RECEIVED' })).written).toBe(false);
      });

      it('never overwrites a ready record', async () => {
        const taskId = id();
        await store.writeIfNotReady(success(taskId));
        const out = await store.writeProgress(started(taskId, 99));
        expect(out.written).toBe(false);
        expect(out.written === false && out.current?.state).toBe('SUCCESS');
      });

      it('rejects a ready state (those go through writeIfNotReady)', async () => {
        await expect(store.writeProgress(success(id()))).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
      });
    });

    describe('size limit', () => {
      it('refuses a result over 400 KB with RESULT_TOO_LARGE, naming the size and the limit', async () => {
        const taskId = id();
        const err = await store.writeIfNotReady(success(taskId, 'x'.repeat(500_000))).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'RESULT_TOO_LARGE', retryable: false });
        expect((err as Error).message).toMatch(/\d{6} bytes.*409600 bytes/);
        expect(await store.get(taskId)).toBeUndefined();
      });

      it('counts bytes, not characters (multi-byte text)', async () => {
        await expect(store.writeIfNotReady(success(id(), '芹'.repeat(140_000)))).rejects.toMatchObject({ code: 'RESULT_TOO_LARGE' });
      });

      it('refuses oversized progress meta too', async () => {
        await expect(store.writeProgress({ id: id(), state: 'PROGRESS', meta: 'm'.repeat(450_000) })).rejects.toMatchObject({
          code: 'RESULT_TOO_LARGE',
        });
      });

      it('stores a 300 KB result', async () => {
        const taskId = id();
        const big = 'y'.repeat(300_000);
        await store.writeIfNotReady(success(taskId, big));
        expect((await store.get(taskId))?.result).toBe(big);
      });
    });

    describe('continuations and leases', () => {
      const lease = { owner: 'w1', until: 1_700_000_030_000 };

      it('finishContinuations marks them done and drops the lease', async () => {
        const taskId = id();
        await store.writeIfNotReady(success(taskId, 1, { cont: 'pending', lease }));
        await store.finishContinuations(taskId);
        const rec = await store.get(taskId);
        expect(rec?.cont).toBe('done');
        expect(rec?.lease).toBeUndefined();
        expect(rec?.result).toBe(1);
      });

      it('finishContinuations on a missing record creates nothing', async () => {
        const taskId = id();
        await store.finishContinuations(taskId);
        expect(await store.get(taskId)).toBeUndefined();
      });

      it('takeOver succeeds only while the lease is the one read', async () => {
        const taskId = id();
        await store.writeIfNotReady(success(taskId, 1, { cont: 'pending', lease }));
        expect(await store.takeOver(taskId, 'someone-else', { owner: 'w2', until: 2 })).toBe(false);
        expect(await store.takeOver(taskId, undefined, { owner: 'w2', until: 2 })).toBe(false);
        expect(await store.takeOver(taskId, 'w1', { owner: 'w2', until: 2 })).toBe(true);
        expect((await store.get(taskId))?.lease).toEqual({ owner: 'w2', until: 2 });
        expect(await store.takeOver(taskId, 'w1', { owner: 'w3', until: 3 })).toBe(false);
      });

      it('takeOver of a record without a lease expects none', async () => {
        const taskId = id();
        await store.writeIfNotReady(success(taskId, 1, { cont: 'pending' }));
        expect(await store.takeOver(taskId, 'w1', { owner: 'w2', until: 2 })).toBe(false);
        expect(await store.takeOver(taskId, undefined, { owner: 'w2', until: 2 })).toBe(true);
        expect((await store.get(taskId))?.lease).toEqual({ owner: 'w2', until: 2 });
      });

      it('takeOver fails once continuations are done, and for a missing record', async () => {
        const taskId = id();
        await store.writeIfNotReady(success(taskId, 1, { cont: 'pending', lease }));
        await store.finishContinuations(taskId);
        expect(await store.takeOver(taskId, undefined, { owner: 'w2', until: 2 })).toBe(false);
        expect(await store.takeOver(id(), undefined, { owner: 'w2', until: 2 })).toBe(false);
      });

      it('of 10 concurrent takeOvers of one expired lease, exactly one wins', async () => {
        const taskId = id();
        await store.writeIfNotReady(success(taskId, 1, { cont: 'pending', lease }));
        const wins = await Promise.all(Array.from({ length: 10 }, (_, i) => store.takeOver(taskId, 'w1', { owner: `t${i}`, until: 9 })));
        expect(wins.filter(Boolean)).toHaveLength(1);
        expect((await store.get(taskId))?.lease?.owner).toBe(`t${wins.indexOf(true)}`);
      });
    });

    describe('delete', () => {
      it('forgets a record; deleting a missing one is fine', async () => {
        const taskId = id();
        await store.writeIfNotReady(success(taskId));
        await store.delete(taskId);
        expect(await store.get(taskId)).toBeUndefined();
        await expect(store.delete(taskId)).resolves.toBeUndefined();
        expect(await store.writeIfNotReady(success(taskId, 'again'))).toEqual({ written: true });
      });
    });

    describe('plans', () => {
      it('stores and reads back a plan; a missing plan is undefined', async () => {
        const p = plan(id());
        await store.putPlan(p);
        expect(await store.getPlan(p.id)).toEqual(p);
        expect(await store.getPlan(id())).toBeUndefined();
      });

      it('is idempotent: storing the same plan again changes nothing', async () => {
        const p = plan(id());
        await store.putPlan(p);
        await store.putPlan(p);
        expect(await store.getPlan(p.id)).toEqual(p);
      });

      it('stores mid-sized plans (tens of KB) intact', async () => {
        const p = plan(id(), 200, 150);
        await store.putPlan(p);
        expect(await store.getPlan(p.id)).toEqual(p);
      });

      it('stores a plan far over the 400 KB item limit (2 MB of incompressible args)', async () => {
        const p = plan(id(), 2_000, 750);
        expect(JSON.stringify(p).length).toBeGreaterThan(2_000_000);
        await store.putPlan(p);
        expect(await store.getPlan(p.id)).toEqual(p);
      });

      it('the stored plan cannot be changed through a plan read back, nor by later edits to the one put', async () => {
        const p = plan(id());
        await store.putPlan(p);
        const read = (await store.getPlan(p.id)) as unknown as { nodes: unknown[] };
        // A copy (DynamoDB) or a frozen plan (memory, where a write throws in strict mode): either way the store keeps it.
        try {
          read.nodes.length = 0;
        } catch {}
        (p as unknown as { nodes: unknown[] }).nodes.length = 1;
        expect((await store.getPlan(p.id))?.nodes).toHaveLength(4);
      });
    });

    describe('joins', () => {
      it("adds members and returns the shard's count and failed members after each add", async () => {
        const j = id();
        expect(await store.joinAdd(j, 0, 2, false)).toEqual({ count: 1, failed: [] });
        expect(await store.joinAdd(j, 0, 0, true)).toEqual({ count: 2, failed: [0] });
        expect(await store.joinAdd(j, 0, 1, false)).toEqual({ count: 3, failed: [0] });
        expect(await store.joinRead(j, 1)).toEqual([{ done: [0, 1, 2], failed: [0] }]);
      });

      it('a shard handed out is a snapshot: later adds do not change it, and changing it does not change the store', async () => {
        const j = id();
        const first = await store.joinAdd(j, 0, 4, false);
        const [read] = await store.joinRead(j, 1);
        await store.joinAdd(j, 0, 1, true);
        expect(first).toEqual({ count: 1, failed: [] });
        expect(read).toEqual({ done: [4], failed: [] });
        try {
          (read?.done as number[] | undefined)?.push(99);
        } catch {}
        expect(await store.joinRead(j, 1)).toEqual([{ done: [1, 4], failed: [1] }]);
      });

      it('has set semantics: adding a member twice changes nothing', async () => {
        const j = id();
        await store.joinAdd(j, 0, 7, true);
        expect(await store.joinAdd(j, 0, 7, true)).toEqual({ count: 1, failed: [7] });
        expect(await store.joinRead(j, 1)).toEqual([{ done: [7], failed: [7] }]);
      });

      it('keeps shards and joins apart; joinRead returns empty shards for untouched ones', async () => {
        const [j, other] = [id(), id()];
        await store.joinAdd(j, 1, 5, false);
        await store.joinAdd(j, 0, 3, false);
        await store.joinAdd(other, 0, 9, true);
        expect(await store.joinRead(j, 3)).toEqual([
          { done: [3], failed: [] },
          { done: [5], failed: [] },
          { done: [], failed: [] },
        ]);
        expect(await store.joinRead(j, 0)).toEqual([]);
      });

      it('counts each of 100 members once when 200 concurrent adds deliver every one twice', async () => {
        const j = id();
        const adds = Array.from({ length: 200 }, (_, i) => i % 100).map((i) => store.joinAdd(j, 0, i, i % 10 === 0));
        const shards = await Promise.all(adds);
        const all = Array.from({ length: 100 }, (_, i) => i);
        expect(await store.joinRead(j, 1)).toEqual([{ done: all, failed: all.filter((i) => i % 10 === 0) }]);
        // Every add saw at least its own member; the last add to land saw the complete count.
        for (const s of shards) expect(s.count).toBeGreaterThanOrEqual(1);
        expect(shards.some((s) => s.count === 100)).toBe(true);
      });

      it('rejects negative or fractional indexes', async () => {
        await expect(store.joinAdd(id(), 0, -1, false)).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
        await expect(store.joinAdd(id(), 0.5, 1, false)).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
      });
    });

    describe('claims', () => {
      it('creates a marker once: true for the first caller, false after', async () => {
        const key = `dispatch:${id()}`;
        expect(await store.claim(key)).toBe(true);
        expect(await store.claim(key)).toBe(false);
        expect(await store.claim(`${key}:other`)).toBe(true);
      });

      it('of 20 concurrent claims of one key, exactly one wins', async () => {
        const key = id();
        const wins = await Promise.all(Array.from({ length: 20 }, () => store.claim(key)));
        expect(wins.filter(Boolean)).toHaveLength(1);
      });

      it('keeps claims apart from results with the same id', async () => {
        const taskId = id();
        await store.writeIfNotReady(success(taskId));
        expect(await store.claim(taskId)).toBe(true);
        expect((await store.get(taskId))?.state).toBe('SUCCESS');
      });
    });

    describe('idempotency claims (claimCall)', () => {
      const T0 = 1_700_000_000_000;

      it('writes the first claim of a key and hands every later caller that claim, unchanged', async () => {
        const key = id();
        const first = { id: id(), seed: id(), expiresAt: T0 + 60_000 };
        expect(await store.claimCall(key, first, T0)).toBeUndefined();
        expect(await store.claimCall(key, { id: id(), expiresAt: T0 + 90_000 }, T0 + 1_000)).toEqual(first);
        expect(await store.claimCall(key, { id: id(), seed: id(), expiresAt: T0 + 90_000 }, T0 + 59_999)).toEqual(first);
      });

      it('keeps a claim without a seed (a queue message) without one', async () => {
        const key = id();
        const first = { id: id(), expiresAt: T0 + 60_000 };
        await store.claimCall(key, first, T0);
        expect(await store.claimCall(key, { id: id(), seed: id(), expiresAt: T0 + 60_000 }, T0)).toEqual(first);
      });

      it('treats a claim whose expiry has passed as absent, whether or not it was deleted yet', async () => {
        const key = id();
        await store.claimCall(key, { id: id(), expiresAt: T0 + 60_000 }, T0);
        const second = { id: id(), seed: id(), expiresAt: T0 + 120_000 };
        expect(await store.claimCall(key, second, T0 + 60_000)).toBeUndefined();
        expect(await store.claimCall(key, { id: id(), expiresAt: T0 + 200_000 }, T0 + 60_001)).toEqual(second);
      });

      it('of 20 concurrent claims of one key, exactly one is written and all others get it', async () => {
        const key = id();
        const claims = Array.from({ length: 20 }, () => ({ id: id(), seed: id(), expiresAt: T0 + 60_000 }));
        const out = await Promise.all(claims.map((c) => store.claimCall(key, c, T0)));
        const winners = claims.filter((_, i) => out[i] === undefined);
        expect(winners).toHaveLength(1);
        for (const o of out) if (o !== undefined) expect(o).toEqual(winners[0]);
      });

      it('releases a key only for the claim that holds it', async () => {
        const key = id();
        const first = { id: id(), expiresAt: T0 + 60_000 };
        await store.claimCall(key, first, T0);
        await store.releaseCall(key, id());
        expect(await store.claimCall(key, { id: id(), expiresAt: T0 + 60_000 }, T0)).toEqual(first);
        await store.releaseCall(key, first.id);
        expect(await store.claimCall(key, { id: id(), expiresAt: T0 + 60_000 }, T0)).toBeUndefined();
        await store.releaseCall(id(), id()); // an absent key: nothing to do, no error
      });

      it('keeps idempotency claims apart from results, plans and markers with the same name', async () => {
        const name = id();
        await store.writeIfNotReady(success(name));
        expect(await store.claim(name)).toBe(true);
        expect(await store.claimCall(name, { id: id(), expiresAt: T0 + 60_000 }, T0)).toBeUndefined();
        expect((await store.get(name))?.state).toBe('SUCCESS');
      });
    });
  });
}

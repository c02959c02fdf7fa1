/**
 * The FlowControl contract: a rate limit and a concurrency limit shared by every worker, held by
 * the memory twin and by the DynamoDB adapter on dynalite and on DynamoDB Local. Concurrent
 * callers race for real (every decision is a conditional write); time is passed in, so no spec
 * sleeps.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FlowControl } from '../../lib/ports';

export function flowControlContract(name: string, setup: () => FlowControl | Promise<FlowControl>): void {
  describe(`FlowControl contract: ${name}`, () => {
    let fc: FlowControl;
    beforeAll(async () => {
      fc = await setup();
    });
    const key = () => `k-${randomUUID()}`;

    describe('reserveStart (rate)', () => {
      it('starts an idle key now; books the next callers one interval apart within the horizon; refuses past it', async () => {
        const k = key();
        expect(await fc.reserveStart(k, 100, 1_000, 250)).toEqual({ ok: true, startAt: 1_000 });
        expect(await fc.reserveStart(k, 100, 1_030, 250)).toEqual({ ok: true, startAt: 1_100 });
        expect(await fc.reserveStart(k, 100, 1_030, 250)).toEqual({ ok: true, startAt: 1_200 });
        // booked until 1 300; the horizon ends at 1 280: come back in 20 ms
        expect(await fc.reserveStart(k, 100, 1_030, 250)).toEqual({ ok: false, retryInMs: 20 });
        // once the bookings are past, the key is idle again
        expect(await fc.reserveStart(k, 100, 2_000, 250)).toEqual({ ok: true, startAt: 2_000 });
      });

      it('with no horizon, refuses while a start is due and says when the next is free', async () => {
        const k = key();
        expect(await fc.reserveStart(k, 100, 0, 0)).toEqual({ ok: true, startAt: 0 });
        expect(await fc.reserveStart(k, 100, 30, 0)).toEqual({ ok: false, retryInMs: 70 });
        expect(await fc.reserveStart(k, 100, 100, 0)).toEqual({ ok: true, startAt: 100 });
      });

      it('gives 40 concurrent callers 40 different start times, one interval apart', async () => {
        const k = key();
        const all = await Promise.all(Array.from({ length: 40 }, () => fc.reserveStart(k, 20, 5_000, 10_000)));
        const times = all.map((d) => (d.ok ? d.startAt : -1)).sort((a, b) => a - b);
        expect(times).toEqual(Array.from({ length: 40 }, (_, i) => 5_000 + 20 * i));
      });

      it('keeps keys apart', async () => {
        const [a, b] = [key(), key()];
        expect(await fc.reserveStart(a, 1_000, 0, 0)).toEqual({ ok: true, startAt: 0 });
        expect(await fc.reserveStart(b, 1_000, 0, 0)).toEqual({ ok: true, startAt: 0 });
      });

      it('a burst that comes back when told never starts more than the rate allows (25/s: ≤ 25 of 30 in any second)', async () => {
        const k = key();
        const interval = 40;
        const starts: number[] = [];
        // 30 callers with a 200 ms horizon, each coming back when told; simulated time, real races.
        let pending = Array.from({ length: 30 }, () => 0);
        for (let round = 0; pending.length > 0 && round < 1_000; round++) {
          const now = Math.min(...pending);
          const due = pending.filter((t) => t === now);
          const later = pending.filter((t) => t !== now);
          const decisions = await Promise.all(due.map(() => fc.reserveStart(k, interval, now, 200)));
          for (const d of decisions) {
            if (d.ok) starts.push(d.startAt);
            else later.push(now + d.retryInMs);
          }
          pending = later;
        }
        expect(starts).toHaveLength(30);
        expect(new Set(starts).size).toBe(30);
        for (const t of starts) expect(starts.filter((u) => u >= t && u < t + 1_000).length).toBeLessThanOrEqual(25);
      }, 60_000);
    });

    describe('acquireSlot / releaseSlot (concurrency)', () => {
      it('gives out at most `limit` slots at once, and a released slot to the next owner', async () => {
        const k = key();
        const owners = Array.from({ length: 5 }, (_, i) => `o${i}`);
        const got = await Promise.all(owners.map((o) => fc.acquireSlot(k, 3, o, 60_000, 1_000)));
        const held = got.flatMap((d, i) => (d.ok ? [{ owner: owners[i] as string, slot: d.slot }] : []));
        expect(held).toHaveLength(3);
        expect(new Set(held.map((h) => h.slot)).size).toBe(3);
        for (const d of got) if (!d.ok) expect(d.retryInMs).toBe(59_000);
        const first = held[0] as { owner: string; slot: number };
        await fc.releaseSlot(k, first.slot, first.owner);
        const next = await fc.acquireSlot(k, 3, 'o-next', 60_000, 2_000);
        expect(next).toEqual({ ok: true, slot: first.slot });
      });

      it('of 30 concurrent owners racing for 4 slots, exactly 4 get one', async () => {
        const k = key();
        const got = await Promise.all(Array.from({ length: 30 }, (_, i) => fc.acquireSlot(k, 4, `racer-${i}`, 10_000, 0)));
        const slots = got.flatMap((d) => (d.ok ? [d.slot] : []));
        expect(slots.sort()).toEqual([0, 1, 2, 3]);
      });

      it('frees the slot of a holder that crashed when its lease ends', async () => {
        const k = key();
        expect(await fc.acquireSlot(k, 1, 'crashed', 5_000, 0)).toEqual({ ok: true, slot: 0 });
        expect(await fc.acquireSlot(k, 1, 'waiting', 15_000, 4_000)).toEqual({ ok: false, retryInMs: 1_000 });
        expect(await fc.acquireSlot(k, 1, 'waiting', 15_000, 5_000)).toEqual({ ok: true, slot: 0 });
        // The crashed holder's late release does not free what is no longer its slot.
        await fc.releaseSlot(k, 0, 'crashed');
        expect((await fc.acquireSlot(k, 1, 'third', 20_000, 6_000)).ok).toBe(false);
      });

      it('gives an owner that asks again the slot it holds (a redelivered message)', async () => {
        const k = key();
        const a = await fc.acquireSlot(k, 2, 'same', 10_000, 0);
        const b = await fc.acquireSlot(k, 2, 'same', 12_000, 1_000);
        expect(a).toEqual(b);
        expect((await fc.acquireSlot(k, 2, 'other', 10_000, 1_000)).ok).toBe(true);
      });
    });
  });
}

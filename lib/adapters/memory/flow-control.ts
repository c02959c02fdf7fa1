import type { FlowControl, SlotDecision, StartDecision } from '../../ports';

/** The in-memory twin of the DynamoDB flow control: the same decisions, from maps. */
export class MemoryFlowControl implements FlowControl {
  /** key → theoretical arrival time of the next allowed start (epoch ms). */
  readonly #tat = new Map<string, number>();
  /** key → its slots (owner and lease end), created as taken. */
  readonly #slots = new Map<string, ({ owner: string; until: number } | undefined)[]>();

  async reserveStart(key: string, intervalMs: number, now: number, horizonMs: number): Promise<StartDecision> {
    const tat = this.#tat.get(key);
    if (tat === undefined || tat <= now) {
      this.#tat.set(key, now + intervalMs);
      return { ok: true, startAt: now };
    }
    if (tat > now + horizonMs) return { ok: false, retryInMs: tat - now - horizonMs };
    this.#tat.set(key, tat + intervalMs);
    return { ok: true, startAt: tat };
  }

  async acquireSlot(key: string, limit: number, owner: string, until: number, now: number): Promise<SlotDecision> {
    const slots = this.#slots.get(key) ?? [];
    this.#slots.set(key, slots);
    let soonest = Number.POSITIVE_INFINITY;
    for (let i = 0; i < limit; i++) {
      const s = slots[i];
      if (s === undefined || s.until <= now || s.owner === owner) {
        slots[i] = { owner, until };
        return { ok: true, slot: i };
      }
      soonest = Math.min(soonest, s.until);
    }
    return { ok: false, retryInMs: Math.max(1, soonest - now) };
  }

  async releaseSlot(key: string, slot: number, owner: string): Promise<void> {
    const slots = this.#slots.get(key);
    if (slots?.[slot]?.owner === owner) slots[slot] = undefined;
  }
}

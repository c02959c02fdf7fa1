import { type AbortableClock, sleepOn, systemClock } from '../system';

export { type AbortableClock, sleepOn, systemClock };

/** A manually driven clock for tests: time moves only when `advance` or `set` is called. */
export interface FakeClock extends AbortableClock {
  /**
   * Moves time forward by `ms`, waking each sleeper whose deadline falls in the window, in
   * deadline order, and letting the code it wakes run (and schedule new sleeps) before the next.
   */
  advance(ms: number): Promise<void>;
  /** Moves time to an absolute epoch-ms value (never backwards), as `advance`. */
  set(epochMs: number): Promise<void>;
  /** Sleepers not yet woken. */
  readonly pending: number;
}

interface Sleeper {
  readonly at: number;
  readonly seq: number;
  readonly resolve: () => void;
}

/**
 * Creates a {@link FakeClock} starting at `start` (epoch ms; default 2024-01-01T00:00:00Z so
 * logs and TTLs in tests are reproducible).
 *
 * @example
 * ```ts
 * const clock = fakeClock();
 * const woke = clock.sleep(1000);
 * await clock.advance(1000); // `woke` is resolved now
 * ```
 */
export function fakeClock(start = Date.UTC(2024, 0, 1)): FakeClock {
  let now = start;
  let seq = 0;
  let sleepers: Sleeper[] = [];

  // Macrotask turns, so promise chains woken by a sleeper settle before time moves on.
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
  };

  const moveTo = async (target: number): Promise<void> => {
    for (;;) {
      let next: Sleeper | undefined;
      for (const s of sleepers) {
        if (s.at <= target && (next === undefined || s.at < next.at || (s.at === next.at && s.seq < next.seq))) next = s;
      }
      if (next === undefined) break;
      const woken = next;
      sleepers = sleepers.filter((s) => s !== woken);
      now = Math.max(now, woken.at);
      woken.resolve();
      await settle();
    }
    now = Math.max(now, target);
    await settle();
  };

  return {
    now: () => now,
    sleep(ms: number, signal?: AbortSignal): Promise<void> {
      if (signal?.aborted) return Promise.resolve();
      return new Promise((resolve) => {
        const sleeper: Sleeper = {
          at: now + Math.max(0, ms),
          seq: seq++,
          resolve: () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          },
        };
        const onAbort = (): void => {
          sleepers = sleepers.filter((s) => s !== sleeper);
          resolve();
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        sleepers.push(sleeper);
      });
    },
    advance: (ms: number) => moveTo(now + ms),
    set: (epochMs: number) => moveTo(epochMs),
    get pending() {
      return sleepers.length;
    },
  };
}

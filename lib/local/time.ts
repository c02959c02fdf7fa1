/**
 * Local time: wall-clock time that tests (and a developer) can jump forward. The worker, the
 * held delays and the periodic schedules all read this clock, so `tick(ms)` makes a 20-minute
 * countdown or tomorrow's cron firing happen now — in memory mode and against the emulators alike
 * (the emulators themselves only know wall-clock time, which is why local mode keeps delays and
 * schedules on this side; see lib/local/broker.ts).
 *
 * Sleeping stays real: `AsyncResult.get()` polls on `backend.clock.sleep`, and must keep polling
 * while time jumps.
 */
import type { Clock } from '../ports';

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => unknown;
  cancelled: boolean;
}

/** A {@link Clock} with an offset that only grows, and timers keyed on it. */
export class LocalTime implements Clock {
  #offset = 0;
  #seq = 0;
  #timers: Timer[] = [];
  #armed: ReturnType<typeof setTimeout> | undefined;
  #armedAt = Number.POSITIVE_INFINITY;
  #running = new Set<Promise<unknown>>();
  #stopped = false;
  readonly #onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  now(): number {
    return Date.now() + this.#offset;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const onAbort = (): void => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** How far local time is ahead of the wall clock (ms). */
  get offset(): number {
    return this.#offset;
  }

  /** Runs `fn` once local time reaches `at` (epoch ms); returns a cancel function. */
  at(at: number, fn: () => unknown): () => void {
    const timer: Timer = { at, seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.#arm();
    return () => {
      timer.cancelled = true;
      this.#timers = this.#timers.filter((t) => t !== timer);
      this.#arm();
    };
  }

  /**
   * Jumps local time forward by `ms`, runs every timer that falls due (in due order) and waits
   * until what they started has settled — including timers those set for a time already reached.
   */
  async advance(ms: number): Promise<void> {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`tick: ms must be a non-negative number, got ${ms}`);
    this.#offset += ms;
    await this.#fireDue();
  }

  /** True while something a timer started (a due delay, a schedule) is still running. */
  get busy(): boolean {
    return this.#running.size > 0;
  }

  /** Timers still to fire, earliest first (epoch ms of local time). */
  pending(): number[] {
    return this.#timers.map((t) => t.at);
  }

  /** Cancels every timer; `at` after this is a no-op. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timers = [];
    if (this.#armed !== undefined) clearTimeout(this.#armed);
    this.#armed = undefined;
    await Promise.allSettled([...this.#running]);
  }

  async #fireDue(): Promise<void> {
    for (;;) {
      const now = this.now();
      const due: Timer[] = [];
      while (this.#timers.length > 0 && (this.#timers[0] as Timer).at <= now) due.push(this.#timers.shift() as Timer);
      if (due.length === 0) break;
      for (const t of due) {
        if (t.cancelled || this.#stopped) continue;
        const p = Promise.resolve()
          .then(t.fn)
          .catch(this.#onError)
          .finally(() => this.#running.delete(p));
        this.#running.add(p);
      }
      await Promise.allSettled([...this.#running]);
    }
    this.#arm();
  }

  #arm(): void {
    if (this.#stopped) return;
    const next = this.#timers[0]?.at ?? Number.POSITIVE_INFINITY;
    if (next === this.#armedAt && this.#armed !== undefined) return;
    if (this.#armed !== undefined) clearTimeout(this.#armed);
    this.#armed = undefined;
    this.#armedAt = next;
    if (next === Number.POSITIVE_INFINITY) return;
    // setTimeout caps at 2^31-1 ms; a far timer just re-arms when this one wakes.
    const wait = Math.min(Math.max(0, next - this.now()), 2_147_483_647);
    this.#armed = setTimeout(() => {
      this.#armed = undefined;
      this.#armedAt = Number.POSITIVE_INFINITY;
      void this.#fireDue();
    }, wait);
  }
}

/** Counts changes (sends, receives, deliveries) so an idle check can tell nothing moved in between. */
export class Activity {
  #seq = 0;
  get seq(): number {
    return this.#seq;
  }
  bump(): void {
    this.#seq++;
  }
}

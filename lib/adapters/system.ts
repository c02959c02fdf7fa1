/**
 * The real clock and ids, shared by every adapter (AWS and memory alike): neither adapter owns
 * them, so neither imports the other.
 */
import { randomUUID } from 'node:crypto';
import type { Clock, Ids } from '../ports';

/**
 * A {@link Clock} whose `sleep` can be cut short. Adapters that wait (long polls, backoff) pass a
 * signal so an early wake-up does not leave a timer holding the process open; a plain `Clock`
 * ignores the extra argument, which is harmless.
 */
export interface AbortableClock extends Clock {
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** Sleeps on `clock`, passing `signal` along when the clock understands it. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return (clock as AbortableClock).sleep(ms, signal);
}

/**
 * Wall-clock time and real timers. An aborted sleep resolves (never rejects) at once: callers
 * abort a sleep because something else woke them, not because of an error.
 */
export const systemClock: AbortableClock = {
  now: () => Date.now(),
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(
        () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        Math.max(0, ms),
      );
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  },
};

/** Random UUID v4s from node:crypto (which buffers entropy, so this is cheap per call). */
export const randomIds: Ids = { uuid: () => randomUUID() };

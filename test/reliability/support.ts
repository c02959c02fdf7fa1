/**
 * Shared bits of the reliability suites: the size switch, a seeded random source, the one-line
 * report every suite prints, and a quiet logger that keeps errors.
 *
 *   CELERIAC_RELIABILITY=large   the large size (default: the CI size)
 *   CELERIAC_SEED=<n>            replays a run (every report line prints its seed)
 */

export type Size = 'ci' | 'large';

export const SIZE: Size = process.env.CELERIAC_RELIABILITY?.trim().toLowerCase() === 'large' ? 'large' : 'ci';

/** Picks the figure for the current size. */
export function bySize<T>(ci: T, large: T): T {
  return SIZE === 'large' ? large : ci;
}

/** The run's seed: CELERIAC_SEED, else a fixed default (CI is reproducible; set a seed to explore). */
export const SEED: number = (() => {
  const raw = process.env.CELERIAC_SEED;
  const n = raw === undefined || raw.trim() === '' ? 20_240_601 : Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`CELERIAC_SEED must be an integer, got "${raw}"`);
  return n;
})();

/** A seeded PRNG (mulberry32): a function returning floats in [0, 1). */
export type Rng = () => number;

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** An integer in [lo, hi]. */
export function int(r: Rng, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/** One element, uniformly. */
export function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}

/**
 * Prints a suite's figures as ONE line a reader can find in the test output:
 * `[reliability] <suite> <target> (<size>, seed <n>): k1 v1, k2 v2 … in 1.2 s`.
 */
export function report(suite: string, target: string, figures: Readonly<Record<string, number | string>>, startedAt: number): string {
  const parts = Object.entries(figures).map(([k, v]) => `${k} ${v}`);
  const line = `[reliability] ${suite} ${target} (${SIZE}, seed ${SEED}): ${parts.join(', ')} — ${((Date.now() - startedAt) / 1000).toFixed(1)} s`;
  console.log(line);
  return line;
}

/** A logger that drops everything but keeps errors, for the final "nothing went wrong" look. */
export { recordingLogger as keepErrors } from '../integration/targets';

/** A mutex: one holder at a time, FIFO. */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(fn);
    this.#tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

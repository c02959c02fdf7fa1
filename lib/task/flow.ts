/**
 * A task's flow control, as the app declares it: Celery's `rate_limit` string, and a
 * concurrency limit per key. Parsed once, at `app.task`, so a typo fails at start-up, not in a
 * worker.
 */
import { CeleriacError, ErrorCodes } from '../errors';

/** A rate as Celery writes it: `'10/s'`, `'100/m'`, `'1000/h'`, or a number of starts per second. */
export type RateLimit = `${number}/${'s' | 'm' | 'h'}` | number;

/** At most `limit` running at once — per value of `key(...args)` when given, else per task. */
export interface ConcurrencyLimit<A extends readonly unknown[] = readonly unknown[]> {
  readonly limit: number;
  /** The key a call counts under (a customer, a tenant): at most `limit` run at once per key. */
  readonly key?: (...args: A) => string;
}

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000 } as const;

/**
 * The least time between two starts of a task limited to `rate` (ms). Celery's token bucket has
 * capacity 1: starts are spaced, never bunched.
 * @throws CeleriacError INVALID_OPTIONS for anything but a positive rate in those forms.
 */
export function startIntervalMs(task: string, rate: RateLimit): number {
  let perMs: number | undefined;
  if (typeof rate === 'number') perMs = rate / 1_000;
  else {
    const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*([smh])\s*$/.exec(rate);
    if (m) perMs = Number(m[1]) / UNIT_MS[m[2] as keyof typeof UNIT_MS];
  }
  if (perMs === undefined || !Number.isFinite(perMs) || perMs <= 0) {
    throw new CeleriacError(
      ErrorCodes.INVALID_OPTIONS,
      `task ${task}: rateLimit ${JSON.stringify(rate)} is not a rate: use "10/s", "100/m", "1000/h" or a number per second`,
    );
  }
  return 1 / perMs;
}

/** Checks a concurrency limit at registration. */
export function checkConcurrency(task: string, c: ConcurrencyLimit<never[]> | number): number {
  const limit = typeof c === 'number' ? c : c.limit;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) {
    throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `task ${task}: concurrency limit must be an integer from 1 to 1000, got ${limit}`);
  }
  return limit;
}

/** The flow-control key of a task's rate limit. */
export const rateKeyOf = (app: string, task: string): string => `${app}:${task}`;

/** The flow-control key of one call under a concurrency limit; a key function that throws or returns a non-string is the call's error. */
export function concurrencyKeyOf(app: string, task: string, c: ConcurrencyLimit | number, args: readonly unknown[]): string {
  if (typeof c === 'number' || c.key === undefined) return `${app}:${task}`;
  const k = c.key(...args);
  if (typeof k !== 'string' || k.length === 0 || k.length > 512) {
    throw new CeleriacError(
      ErrorCodes.INVALID_ARGS,
      `task ${task}: concurrency key must be a string of 1-512 characters, got ${JSON.stringify(k)}`,
    );
  }
  return `${app}:${task}:${k}`;
}

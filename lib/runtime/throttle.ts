/**
 * The gate a call passes before its body runs when its task declares a `rateLimit` or a
 * `concurrency`: one slot of the concurrency limit, then one start of the rate. A task with
 * neither never gets here (and pays nothing). The counters are the backend's {@link FlowControl},
 * shared by every worker.
 *
 * A call over a limit waits: a booked start less than {@link RATE_WAIT_IN_WORKER_MS} away is
 * waited for in the worker (a timed wait, not a loop); anything longer goes back on the queue as
 * a delayed copy of the same message (the caller re-sends it) — not a retry, so `retries` and the
 * receive count do not grow.
 */
import { CeleriacError, ErrorCodes } from '../errors';
import type { Backend } from '../ports';
import type { Envelope } from '../protocol/envelope';
import { concurrencyKeyOf, rateKeyOf, startIntervalMs } from '../task/flow';
import type { Logger, TaskDef } from './app-port';

/** The longest a booked start is waited for inside the invocation (ms). */
export const RATE_WAIT_IN_WORKER_MS = 1_000;
/**
 * How long a call over a concurrency limit stays on its queue before it asks again (s). A slot's
 * lease runs to its holder's deadline, but holders usually finish far sooner: asking again after
 * the shortest delay SQS has keeps the wait short, at one re-send and one write per second waited.
 */
export const SLOT_RECHECK_SECONDS = 1;
/** How long a slot is held when the invocation has no deadline (local mode without one), ms. */
const UNBOUNDED_SLOT_MS = 15 * 60_000;

/** What the gate decided. */
export type Gate =
  | { readonly kind: 'go'; release(): Promise<void> }
  | { readonly kind: 'wait'; readonly delaySeconds: number; readonly why: string }
  | { readonly kind: 'refused'; readonly error: unknown };

const OPEN: Gate = { kind: 'go', release: async () => {} };

/** True when `def` declares a limit the gate enforces. */
export function isThrottled(def: TaskDef): boolean {
  return def.options.rateLimit !== undefined || def.options.concurrency !== undefined;
}

/**
 * Takes what `env`'s call needs to start now: a concurrency slot (held until `release` or the
 * invocation's deadline), then a start of the rate (waited for when near).
 */
export async function throttle(
  backend: Backend,
  logger: Logger,
  app: string,
  def: TaskDef,
  env: Envelope,
  args: readonly unknown[],
  deadline: number,
): Promise<Gate> {
  if (!isThrottled(def)) return OPEN;
  const flow = backend.flow;
  if (flow === undefined) {
    return {
      kind: 'refused',
      error: new CeleriacError(
        ErrorCodes.NOT_CONFIGURED,
        `task ${def.name} has a rate or concurrency limit, but the ${backend.kind} backend has no flow control`,
      ),
    };
  }
  const { clock } = backend;
  const o = def.options;
  let held = OPEN;
  if (o.concurrency !== undefined) {
    let key: string;
    try {
      key = concurrencyKeyOf(app, def.name, o.concurrency, args);
    } catch (e) {
      return { kind: 'refused', error: e };
    }
    const limit = typeof o.concurrency === 'number' ? o.concurrency : o.concurrency.limit;
    const now = clock.now();
    const until = Number.isFinite(deadline) ? deadline : now + UNBOUNDED_SLOT_MS;
    const slot = await flow.acquireSlot(key, limit, env.id, until, now);
    if (!slot.ok) {
      return { kind: 'wait', delaySeconds: SLOT_RECHECK_SECONDS, why: `concurrency limit of ${limit} reached` };
    }
    held = {
      kind: 'go',
      release: () =>
        flow.releaseSlot(key, slot.slot, env.id).catch((e: unknown) =>
          // The slot frees itself when its lease ends; a failed release only delays the next call.
          logger.warn('could not release a concurrency slot; it frees itself at its lease end', {
            task: def.name,
            id: env.id,
            error: String(e),
          }),
        ),
    };
  }
  if (o.rateLimit !== undefined) {
    const now = clock.now();
    const horizon = Math.max(0, Math.min(RATE_WAIT_IN_WORKER_MS, deadline - now - RATE_WAIT_IN_WORKER_MS));
    const start = await flow.reserveStart(rateKeyOf(app, def.name), startIntervalMs(def.name, o.rateLimit), now, horizon);
    if (!start.ok) {
      if (held.kind === 'go') await held.release();
      return { kind: 'wait', delaySeconds: Math.max(1, Math.ceil(start.retryInMs / 1_000)), why: `rate limit ${o.rateLimit}` };
    }
    // Timers may fire a millisecond early: wait until the booked time has truly come.
    while (clock.now() < start.startAt) await clock.sleep(start.startAt - clock.now());
  }
  return held;
}

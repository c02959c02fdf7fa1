/**
 * `drain()`: waiting until a local runtime has nothing left to do within a horizon. Delayed
 * messages due later (a chord's day-long deadline check, the 900-second hops of a long countdown)
 * are not waited for but reported as `deferred`; DLQs and periodic schedules never hold a drain up.
 */
import { CeleriacError, ErrorCodes } from '../errors';
import type { FullBroker, LocalBroker } from './broker';
import type { LocalBus } from './bus';
import type { QueuePoller } from './poller';
import type { LocalQueue } from './queues';
import type { Activity, LocalTime } from './time';
import type { DrainOptions, DrainReport } from './types';

/** What a drain watches. */
export interface DrainSubject {
  readonly activity: Activity;
  readonly time: LocalTime;
  readonly broker: LocalBroker;
  /** The adapter's broker: queue depths as the service reports them. */
  readonly inner: FullBroker;
  readonly queues: readonly LocalQueue[];
  readonly pollers: readonly QueuePoller[];
  readonly bus: LocalBus;
}

/**
 * Resolves when the subject is idle twice in a row with no activity in between; throws a TIMEOUT
 * CeleriacError naming what is still busy after `timeoutMs`.
 */
export async function drain(s: DrainSubject, o: DrainOptions = {}): Promise<DrainReport> {
  const timeoutMs = o.timeoutMs ?? 30_000;
  const horizonMs = o.horizonMs ?? 60_000;
  const started = Date.now();
  // Idle twice in a row with no activity in between: a single idle observation could fall
  // between a receive and the send it causes on another queue.
  let idleAt: number | undefined;
  for (;;) {
    const seq = s.activity.seq;
    const reason = await busyReason(s, horizonMs);
    if (reason === undefined && s.activity.seq === seq) {
      if (idleAt === seq) {
        const limit = s.time.now() + horizonMs;
        return { elapsedMs: Date.now() - started, deferred: s.broker.held().filter((h) => h.dueAt > limit) };
      }
      idleAt = seq;
    } else {
      idleAt = undefined;
    }
    if (Date.now() - started > timeoutMs) {
      throw new CeleriacError(ErrorCodes.TIMEOUT, `drain: still busy after ${timeoutMs} ms (${reason ?? 'activity while checking'})`);
    }
    await new Promise((r) => setTimeout(r, idleAt === undefined ? 10 : 20));
  }
}

/** What still keeps the subject busy, or undefined when it is idle within the horizon. */
async function busyReason(s: DrainSubject, horizonMs: number): Promise<string | undefined> {
  for (const p of s.pollers) if (p.inFlight > 0) return `queue ${p.queue}: ${p.inFlight} message(s) being handled`;
  if (s.bus.pending > 0) return `event bus: ${s.bus.pending} delivery(ies) running`;
  if (s.time.busy) return 'local timers: a due delay or schedule is being sent';
  const limit = s.time.now() + horizonMs;
  const soon = s.broker.held().filter((h) => h.dueAt <= limit);
  if (soon.length > 0) return `${soon.length} delayed message(s) due within ${horizonMs} ms`;
  const depths = await Promise.all(s.queues.map((q) => s.inner.depth(q.name)));
  for (let i = 0; i < s.queues.length; i++) {
    const d = depths[i] as { visible: number; inFlight: number; delayed: number };
    const n = d.visible + d.inFlight + d.delayed;
    if (n > 0) return `queue ${s.queues[i]?.name}: ${d.visible} visible, ${d.inFlight} in flight, ${d.delayed} delayed`;
  }
  return undefined;
}

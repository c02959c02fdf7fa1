/**
 * Periodic tasks locally: each of the topology's schedules (EventBridge Scheduler on AWS) is a
 * timer on local time sending the body the deployed schedule sends — the topology's `input` — to
 * the task's queue. On local time, `tick()` brings tomorrow's cron firing now.
 */
import type { PeriodicInfo } from '../routing';
import type { LocalBroker } from './broker';
import { parseSchedule } from './schedule';
import type { LocalTime } from './time';
import type { ScheduleStatus, StartLocalOptions } from './types';

interface ScheduleState {
  readonly p: PeriodicInfo;
  nextAt: number | undefined;
  fired: number;
}

/** The running schedules; their timers stop with local time (`LocalTime.stop`). */
export interface PeriodicSchedules {
  /** Each periodic task with its next firing (undefined when off, or no occurrence is left). */
  status(): ScheduleStatus[];
}

/**
 * Arms a timer for every periodic task, unless `periodic` is `false`. A rate schedule first fires
 * one period after start — at start too with `fireOnStart` (as a schedule created without a
 * StartDate does on AWS; a local restart is not a deploy, so that is not the default).
 */
export function startPeriodic(
  periodic: readonly PeriodicInfo[],
  time: LocalTime,
  broker: LocalBroker,
  option: StartLocalOptions['periodic'],
): PeriodicSchedules {
  const states: ScheduleState[] = periodic.map((p) => ({ p, nextAt: undefined, fired: 0 }));
  if (option !== false) {
    const fireOnStart = typeof option === 'object' && option.fireOnStart === true;
    const started = time.now();
    for (const s of states) arm(s, time, broker, started, fireOnStart);
  }
  return {
    status: () => states.map((s) => ({ name: s.p.name, task: s.p.task, schedule: s.p.schedule, nextAt: s.nextAt, fired: s.fired })),
  };
}

/** Sets the first timer of one schedule; each firing sets the next. */
function arm(s: ScheduleState, time: LocalTime, broker: LocalBroker, started: number, fireOnStart: boolean): void {
  const { p } = s;
  const schedule = parseSchedule(p.schedule, started);
  const fire = async (): Promise<void> => {
    const at = time.now();
    // Missed occurrences (a tick over several periods) coalesce into this one firing.
    s.nextAt = schedule.next(at);
    if (s.nextAt !== undefined) time.at(s.nextAt, fire);
    s.fired++;
    // The body the deployed schedule sends: the topology's minimal call for the task.
    await broker.send([{ queue: p.queue, body: p.input, id: `${p.name}@${new Date(at).toISOString()}` }]);
  };
  s.nextAt = fireOnStart && p.schedule.startsWith('rate(') ? started : schedule.next(started);
  if (s.nextAt !== undefined) time.at(s.nextAt, fire);
}

/**
 * EventBridge Scheduler, from the template: each enabled `AWS::Scheduler::Schedule` fires on its
 * `rate(…)`/`cron(…)`/`at(…)` expression (evaluated by local mode's schedule parser, in UTC) and
 * delivers its target's `Input` to the target ARN, with the target's retry policy and
 * dead-letter queue.
 */
import { parseSchedule, type Schedule } from '../local/schedule';
import { TemplateError } from './template';

/** A schedule of the template. */
export interface LocalSchedule {
  readonly logicalId: string;
  readonly name: string;
  readonly group: string;
  readonly schedule: Schedule;
  readonly targetArn: string;
  readonly input: string;
  readonly maxRetries: number;
  readonly dlqArn?: string;
}

const AT_RE = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/;

/** The schedule of a resolved `AWS::Scheduler::Schedule`, anchored at `now`; undefined when disabled. */
export function scheduleFromTemplate(
  logicalId: string,
  name: string,
  props: Readonly<Record<string, unknown>>,
  now: number,
): LocalSchedule | undefined {
  if (props.State === 'DISABLED') return undefined;
  const expression = String(props.ScheduleExpression);
  const tz = props.ScheduleExpressionTimezone;
  if (tz !== undefined && tz !== 'UTC' && tz !== 'Etc/UTC') {
    throw new TemplateError(logicalId, `time zone ${String(tz)} is not evaluated by \`celeriac up\` (UTC only)`);
  }
  let schedule: Schedule;
  const at = AT_RE.exec(expression);
  if (at) {
    const when = Date.parse(`${at[1]}Z`);
    schedule = { expression, next: (after) => (when > after ? when : undefined) };
  } else {
    try {
      schedule = parseSchedule(expression, now);
    } catch (e) {
      throw new TemplateError(logicalId, (e as Error).message, e);
    }
  }
  const target = props.Target as {
    Arn?: unknown;
    Input?: unknown;
    RetryPolicy?: { MaximumRetryAttempts?: number };
    DeadLetterConfig?: { Arn?: string };
  };
  const dlq = target.DeadLetterConfig?.Arn;
  return {
    logicalId,
    name,
    group: typeof props.GroupName === 'string' ? props.GroupName : 'default',
    schedule,
    targetArn: String(target.Arn),
    input: typeof target.Input === 'string' ? target.Input : '{}',
    maxRetries: target.RetryPolicy?.MaximumRetryAttempts ?? 185,
    ...(dlq === undefined ? {} : { dlqArn: dlq }),
  };
}

/** Fires schedules on wall-clock time until stopped; schedules can be added and removed while it runs. */
export class LocalScheduler {
  readonly #timers = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #schedules = new Map<string, LocalSchedule & { readonly deleteAfter?: boolean }>();
  readonly #deliver: (s: LocalSchedule) => Promise<void>;
  #stopped = false;

  /** `deliver` sends one firing (with the schedule's retries and DLQ). */
  constructor(schedules: readonly LocalSchedule[], deliver: (s: LocalSchedule) => Promise<void>) {
    this.#deliver = deliver;
    for (const s of schedules) this.add(s);
  }

  /** The schedule `name` of `group`, if there is one. */
  get(group: string, name: string): LocalSchedule | undefined {
    return this.#schedules.get(`${group}/${name}`);
  }

  /** Adds (or replaces) a schedule. `deleteAfter`: a one-time schedule removes itself once fired (ActionAfterCompletion DELETE). */
  add(s: LocalSchedule, deleteAfter = false): void {
    this.remove(s.group, s.name);
    this.#schedules.set(`${s.group}/${s.name}`, { ...s, deleteAfter });
    this.#arm(s, Date.now());
  }

  /** Removes a schedule; false when there was none. */
  remove(group: string, name: string): boolean {
    const key = `${group}/${name}`;
    const t = this.#timers.get(key);
    if (t !== undefined) clearTimeout(t);
    this.#timers.delete(key);
    return this.#schedules.delete(key);
  }

  #arm(s: LocalSchedule, after: number): void {
    if (this.#stopped) return;
    const key = `${s.group}/${s.name}`;
    const next = s.schedule.next(after);
    if (next === undefined) {
      if (this.#schedules.get(key)?.deleteAfter) this.remove(s.group, s.name);
      return;
    }
    // setTimeout holds at most 2^31-1 ms; a later firing re-arms on the way.
    const wait = Math.min(next - Date.now(), 2 ** 31 - 1);
    const timer = setTimeout(
      () => {
        this.#timers.delete(key);
        if (Date.now() < next) return this.#arm(s, after);
        void this.#deliver(s);
        this.#arm(s, next);
      },
      Math.max(0, wait),
    );
    timer.unref();
    this.#timers.set(key, timer);
  }

  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}

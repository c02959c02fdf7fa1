import type { SerializedError } from '../protocol/failure';
import type { Json } from '../protocol/json';

/**
 * Lifecycle events on the bus: ONE event per outcome (an event costs as much as the rest of a task).
 * A "postrun" subscriber is a pattern matching every detail-type, not a second event.
 * detail-types are Celery's event names.
 */
export const DetailTypes = {
  success: 'task-succeeded',
  failure: 'task-failed',
  retry: 'task-retried',
  revoked: 'task-revoked',
} as const;

export type Outcome = keyof typeof DetailTypes;
export type DetailType = (typeof DetailTypes)[Outcome];

/** EventBridge `source` of an app's events. */
export const eventSource = (app: string): string => `celeriac.${app}`;

let isoSecond = Number.NaN;
let isoPrefix = '';

/**
 * `new Date(ms).toISOString()`, for an event's `timestamp`. Formatting a date costs about as much
 * as serialising the whole event, and events come many to a second: the part up to the second is
 * formatted once per second.
 */
export function isoTime(ms: number): string {
  const second = Math.floor(ms / 1000);
  // Outside years 1970-9999 the ISO form changes shape: format it whole.
  if (!(second >= 0 && second < 253_402_300_800)) return new Date(ms).toISOString();
  if (second !== isoSecond) {
    isoPrefix = new Date(second * 1000).toISOString().slice(0, 20);
    isoSecond = second;
  }
  const milli = Math.floor(ms) - second * 1000;
  return `${isoPrefix}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
}

/** The `detail` of every lifecycle event (version 1). */
export interface TaskEventDetail {
  readonly v: 1;
  readonly app: string;
  readonly task: string;
  readonly id: string;
  readonly rootId: string;
  readonly parentId: string | null;
  readonly groupId?: string;
  readonly state: 'SUCCESS' | 'FAILURE' | 'RETRY' | 'REVOKED';
  /** The return value (success only); null with `resultTruncated` when it is too large for an event. */
  readonly result?: Json;
  /** Set when the result (over 200 KB) was left out of the event: read it with `get()`. */
  readonly resultTruncated?: true;
  /** The error (failure, retry, revoked). */
  readonly error?: SerializedError;
  readonly durationMs: number;
  /** Attempts made before this one (Celery's `retries`). */
  readonly attempt: number;
  readonly queue?: string;
  /** ISO-8601 time of the outcome. */
  readonly timestamp: string;
  /**
   * W3C trace context of the task's process span, when traces are recorded: a static link's rule
   * hands it to the linked call, so a workflow through static links is one trace. Null when none
   * (always present, so a link rule's input transformer always finds its path).
   */
  readonly traceparent?: string | null;
  readonly tracestate?: string | null;
  /** The task's fairness key (README, "Fairness"): a static link's call inherits it. Null when none. */
  readonly fairnessKey?: string | null;
}

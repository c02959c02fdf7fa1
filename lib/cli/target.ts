/**
 * Where CLI commands act: a running `celeriac dev` (through its HTTP API) or a deployed stack
 * (through the AWS adapters). Commands are written once against {@link Target}.
 */

import type { TaskRow } from '../local/dashboard/feed';
import type { QueueDepth } from '../local/dashboard/ops';
import type { TaskView } from '../local/dashboard/server';
import type { BusEvent } from '../ports';

export type { QueueDepth, TaskRow, TaskView };

export interface CallRequest extends RequestOptions {
  readonly task: string;
  readonly args: readonly unknown[];
}

/** A canvas in its JSON form, as `celeriac apply` sends it. */
export interface ApplyRequest extends RequestOptions {
  readonly canvas: unknown;
}

import type { FollowOptions } from '../adapters/aws/event-tail';
import type { AppliedCanvas, RequestOptions } from '../canvas/json';

export type { AppliedCanvas, FollowOptions };

export interface Target {
  readonly kind: 'local' | 'aws';
  /** One line saying what this is, for `inspect`. */
  readonly label: string;
  /** How often `--wait` polls (ms). */
  readonly pollMs: number;
  call(req: CallRequest): Promise<{ readonly id: string; readonly task: string }>;
  /** Applies a canvas in its JSON form (lib/canvas/json.ts). */
  apply(req: ApplyRequest): Promise<AppliedCanvas>;
  /** The task's state and outcome; undefined when nothing is known about the id. */
  result(id: string): Promise<TaskView | undefined>;
  queues(): Promise<QueueDepth[]>;
  /** Recent tasks, newest first; undefined when the target keeps no feed (AWS). */
  recentTasks(limit: number): Promise<TaskRow[] | undefined>;
  /** Purges a queue (or its DLQ); returns the purged queue's name. */
  purge(queue: string, dlq: boolean): Promise<string>;
  /** Moves a queue's DLQ messages back to it. */
  redrive(queue: string): Promise<{ readonly queue: string; readonly dlq: string; readonly moved: number }>;
  /** Recent events, oldest first. */
  recentEvents(limit: number): Promise<BusEvent[]>;
  /** Streams new events until `signal` aborts. */
  follow(opts: FollowOptions): Promise<void>;
  close(): Promise<void>;
}

import type { Backend } from '../ports';
import type { NodeOptions } from '../protocol/plan';
import type { Signals } from '../signals';
import type { TaskOptions } from '../task/types';

/** A registered task, as the runtime sees it. */
export interface TaskDef {
  readonly name: string;
  // biome-ignore lint/suspicious/noExplicitAny: task bodies take any argument tuple
  readonly fn: (...args: any[]) => unknown;
  // biome-ignore lint/suspicious/noExplicitAny: options of any task
  readonly options: TaskOptions<any, any>;
}

/** Minimal logger (Powertools Logger, console and pino all fit). */
export interface Logger {
  debug(msg: string, extra?: Record<string, unknown>): void;
  info(msg: string, extra?: Record<string, unknown>): void;
  warn(msg: string, extra?: Record<string, unknown>): void;
  error(msg: string, extra?: Record<string, unknown>): void;
}

/** What the runtime needs from an app. */
export interface RuntimeApp {
  readonly name: string;
  readonly signals: Signals;
  readonly logger: Logger;
  readonly settings: AppSettings;
  getTask(name: string): TaskDef | undefined;
  backend(): Promise<Backend>;
  queueOf(task: string, opts?: NodeOptions): string;
  /** The single task on a queue, if exactly one lives there. */
  queueOwner(queue: string): string | undefined;
}

export interface AppSettings {
  readonly defaultQueue: string;
  readonly events: boolean;
  readonly inlinePlanBytes: number;
  readonly chordDeadlineSeconds: number;
  readonly maxGroupSize: number;
  readonly maxResultBytes: number;
  readonly maxJsonDepth: number;
  readonly resultExtended: boolean;
  /** Values over this many bytes go to the backend's payload store, when it has one (README, "Large payloads"). */
  readonly payloadThreshold: number;
}

import type { Envelope } from '../protocol/envelope';
import type { TaskState } from '../results/states';

/** A receiver; may be async. Its errors are reported to the signal's error sink, never to the task. */
export type Receiver<P> = (payload: P) => void | Promise<void>;

/**
 * An in-process signal (Celery's `Signal`). Receivers run in connection order and are awaited.
 *
 * @example
 * ```ts
 * const off = app.signals.taskPostrun.connect((e) => metrics.add(e.task, e.state));
 * off(); // disconnect
 * ```
 */
export class Signal<P extends { readonly sender: string }> {
  readonly name: string;
  #receivers: { fn: Receiver<P>; sender: string | undefined }[] = [];
  #onError: (e: unknown, signal: string) => void;

  constructor(name: string, onError: (e: unknown, signal: string) => void) {
    this.name = name;
    this.#onError = onError;
  }

  /** Connects a receiver, optionally only for one sender (a task name). Returns a disconnect function. */
  connect(fn: Receiver<P>, options: { sender?: string } = {}): () => void {
    this.#receivers = [...this.#receivers, { fn, sender: options.sender }];
    return () => this.disconnect(fn);
  }

  disconnect(fn: Receiver<P>): void {
    this.#receivers = this.#receivers.filter((r) => r.fn !== fn);
  }

  /** True when at least one receiver is connected: lets hot paths skip building payloads. */
  get hasReceivers(): boolean {
    return this.#receivers.length > 0;
  }

  /** Sends to every receiver; one failing receiver does not stop the others. */
  async send(payload: P): Promise<void> {
    for (const r of this.#receivers) {
      if (r.sender !== undefined && r.sender !== payload.sender) continue;
      try {
        await r.fn(payload);
      } catch (e) {
        this.#onError(e, this.name);
      }
    }
  }
}

/** The request as signals and hooks see it (Celery's task Context). */
export interface RequestInfo {
  readonly id: string;
  readonly task: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>> | undefined;
  readonly retries: number;
  readonly rootId: string;
  readonly parentId: string | null;
  readonly groupId: string | undefined;
  readonly groupIndex: number | undefined;
  readonly eta: string | undefined;
  readonly expires: string | undefined;
  readonly queue: string | undefined;
  readonly headers: Readonly<Record<string, unknown>>;
  /** The tenant the call belongs to (README, "Fairness"); calls made inside it inherit it. */
  readonly fairnessKey: string | undefined;
}

export interface PublishPayload {
  readonly sender: string;
  readonly body: Envelope;
  readonly queue: string;
  /** Celery's `routing_key`: the logical queue the message goes to (SQS has no exchange). */
  readonly routingKey: string;
  /** Celery's `headers`: the message's headers (`body.headers`). */
  readonly headers: Envelope['headers'];
  readonly delaySeconds: number;
}
/** Celery's `einfo`: the exception with its traceback, as one value. */
export interface ExceptionInfo {
  readonly exception: unknown;
  readonly traceback: string | undefined;
}
export interface ReceivedPayload {
  readonly sender: string;
  readonly request: RequestInfo;
}
export interface PrerunPayload {
  readonly sender: string;
  readonly taskId: string;
  readonly task: string;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>> | undefined;
}
export interface PostrunPayload extends PrerunPayload {
  readonly retval: unknown;
  /** SUCCESS, FAILURE, RETRY, REVOKED, IGNORED or REJECTED. */
  readonly state: TaskState | 'IGNORED' | 'REJECTED';
  /** How long the body (with its validation and `beforeStart`) ran, ms. */
  readonly runtimeMs: number;
  /** How long the message waited on its queue before the worker began it, ms (its countdown included), when the transport says. */
  readonly queueWaitMs: number | undefined;
}
export interface SuccessPayload {
  readonly sender: string;
  readonly taskId: string;
  readonly result: unknown;
}
export interface FailurePayload {
  readonly sender: string;
  readonly taskId: string;
  readonly exception: unknown;
  readonly args: readonly unknown[];
  readonly kwargs: Readonly<Record<string, unknown>> | undefined;
  readonly traceback: string | undefined;
  readonly einfo: ExceptionInfo;
}
export interface RetryPayload {
  readonly sender: string;
  readonly request: RequestInfo;
  readonly reason: unknown;
  /** The error that caused the retry (the `Retry`'s own error, else the `Retry`), with its traceback. */
  readonly einfo: ExceptionInfo;
}
export interface RevokedPayload {
  readonly sender: string;
  readonly request: RequestInfo;
  readonly terminated: boolean;
  /** Celery's signal number of a terminate; always null: a Lambda worker never kills a running body. */
  readonly signum: null;
  readonly expired: boolean;
}
export interface RejectedPayload {
  readonly sender: string;
  readonly message: string;
  readonly exc: unknown;
}
export interface UnknownPayload {
  readonly sender: string;
  readonly message: string;
  readonly exc: unknown;
  readonly name: string;
  readonly id: string;
}

/** The app's signals, Celery's names in camelCase. `sender` is the task name. */
export interface Signals {
  readonly beforeTaskPublish: Signal<PublishPayload>;
  readonly afterTaskPublish: Signal<PublishPayload>;
  readonly taskReceived: Signal<ReceivedPayload>;
  readonly taskPrerun: Signal<PrerunPayload>;
  readonly taskPostrun: Signal<PostrunPayload>;
  readonly taskSuccess: Signal<SuccessPayload>;
  readonly taskFailure: Signal<FailurePayload>;
  readonly taskRetry: Signal<RetryPayload>;
  readonly taskRevoked: Signal<RevokedPayload>;
  readonly taskRejected: Signal<RejectedPayload>;
  readonly taskUnknown: Signal<UnknownPayload>;
}

export function createSignals(onError: (e: unknown, signal: string) => void): Signals {
  return {
    beforeTaskPublish: new Signal('beforeTaskPublish', onError),
    afterTaskPublish: new Signal('afterTaskPublish', onError),
    taskReceived: new Signal('taskReceived', onError),
    taskPrerun: new Signal('taskPrerun', onError),
    taskPostrun: new Signal('taskPostrun', onError),
    taskSuccess: new Signal('taskSuccess', onError),
    taskFailure: new Signal('taskFailure', onError),
    taskRetry: new Signal('taskRetry', onError),
    taskRevoked: new Signal('taskRevoked', onError),
    taskRejected: new Signal('taskRejected', onError),
    taskUnknown: new Signal('taskUnknown', onError),
  };
}

/**
 * celeriac: Celery's task model on AWS (SQS + Lambda + DynamoDB + EventBridge).
 *
 * @example
 * ```ts
 * import { createApp, chain } from 'celeriac';
 * export const app = createApp({ name: 'shop' });
 * export const add = app.task('add', (x: number, y: number) => x + y);
 * const r = await chain(add.s(2, 3), add.s(4)).applyAsync();
 * await r.get({ timeoutMs: 10_000 }); // 9
 * ```
 */
import { type AppOptions, App } from './task/app';

export { chain, chord, group } from './canvas/builders';
export { Canvas, Chain, Chord, Group, Signature, type AnySignature, isSignature } from './canvas/signature';
export type { ChainStepError, InOf, OutOf } from './canvas/types';
export {
  CeleriacError,
  ChordError,
  ErrorCodes,
  type ErrorCode,
  Ignore,
  isCeleriacError,
  MaxRetriesExceededError,
  Reject,
  Retry,
  SoftTimeLimitExceededError,
  TaskFailedError,
  TaskRevokedError,
  TimeLimitExceededError,
  TimeoutError,
} from './errors';
export { ENVELOPE_VERSION, type Envelope, type EnvelopeHeaders, decodeEnvelope, encodeEnvelope } from './protocol/envelope';
export { type SerializedError, serializeError, deserializeError } from './protocol/failure';
export type { Json, JsonObject } from './protocol/json';
export type { Backend, Broker, BusEvent, Clock, EventPublisher, Ids, ResultRecord, ResultStore, QueueConsumer, QueueAdmin } from './ports';
export { AsyncResult, GroupResult, type GetOptions, type ResultInfo } from './results/async-result';
export { States, type TaskState, READY_STATES, PROPAGATE_STATES } from './results/states';
export { Signal, type Signals } from './signals';
export { DetailTypes, eventSource, type TaskEventDetail, type Outcome } from './signals/events';
export { onTaskEvents, type TaskEvent } from './subscriber';
export { App, type AppTopologyInput, type QueueSettings, type Task, MAP_TASK, STARMAP_TASK } from './task/app';
export { currentTask } from './task/context';
export type { CallOptions, RetryPolicy, TaskContext, TaskOptions, StandardSchemaV1, ErrorMatcher } from './task/types';
export { createWorker, type WorkerOptions } from './worker';
export { loadConfig, ENV, type CeleriacConfig } from './config';

/**
 * Creates an app. Without a `backend`, it uses AWS (SQS, DynamoDB, EventBridge) configured from
 * the environment on first use — what a Lambda deployed by the celeriac stack has. Local mode
 * (`startLocal`) and tests point it elsewhere with `app.use(...)`.
 *
 * @example
 * ```ts
 * export const app = createApp({ name: 'shop' });
 * export const add = app.task('add', (x: number, y: number) => x + y);
 * const r = await add.delay(2, 3);
 * ```
 */
export function createApp(options: AppOptions): App {
  return new App({
    ...options,
    backend:
      options.backend ??
      (async () => {
        const aws = await import('./adapters/aws/index');
        return aws.awsBackendFromEnv(process.env);
      }),
  });
}

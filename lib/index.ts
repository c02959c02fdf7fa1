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
import { App, type AppOptions } from './app';

export { chain, chord, group } from './canvas/builders';
export { type AnySignature, Canvas, Chain, Chord, Group, isSignature, Signature } from './canvas/signature';
export type { ChainStepError, InOf, OutOf } from './canvas/types';
export {
  type AppEnvSettings,
  appSettingsFromEnv,
  type CeleriacConfig,
  ENV,
  loadConfig,
  type WorkerEnvSettings,
  workerSettingsFromEnv,
} from './config';

import { appSettingsFromEnv } from './config';

export {
  App,
  type AppTopologyInput,
  type Errback,
  type ErrbackRequest,
  MAP_TASK,
  type QueueSettings,
  STARMAP_TASK,
  type Task,
} from './app';
export {
  CeleriacError,
  ChordError,
  type ErrorCode,
  ErrorCodes,
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
export type { Backend, Broker, BusEvent, Clock, EventPublisher, Ids, QueueAdmin, QueueConsumer, ResultRecord, ResultStore } from './ports';
export { decodeEnvelope, ENVELOPE_VERSION, type Envelope, type EnvelopeHeaders, encodeEnvelope } from './protocol/envelope';
export { deserializeError, type SerializedError, serializeError } from './protocol/failure';
export type { Json, JsonObject } from './protocol/json';
export { AsyncResult, type GetOptions, GroupResult, type ResultInfo } from './results/async-result';
export { PROPAGATE_STATES, READY_STATES, States, type TaskState } from './results/states';
export { Signal, type Signals } from './signals';
export { DetailTypes, eventSource, type Outcome, type TaskEventDetail } from './signals/events';
export { onTaskEvents, resolveEventPayloads, type TaskEvent, type TaskEventsOptions } from './subscriber';
export { currentTask } from './task/context';
export { ACCUMULATE_TASK, Replace } from './task/replace';
export type { CallOptions, ErrorMatcher, RetryPolicy, StandardSchemaV1, TaskContext, TaskOptions } from './task/types';
export {
  consoleLogger,
  type LogLevel,
  type PowertoolsLoggerOptions,
  powertoolsLogger,
  type TaskLogFields,
  withTaskFields,
} from './telemetry/logger';
export { type TaskMetricsOptions, taskMetrics } from './telemetry/metrics';
export { createWorker, type WorkerOptions } from './worker';

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
  // The process's environment is read here, at the edge: the app itself never reads it.
  const fromEnv = appSettingsFromEnv(process.env);
  return new App({
    logLevel: fromEnv.logLevel,
    inlinePlanBytes: fromEnv.inlinePlanBytes,
    ...options,
    backend:
      options.backend ??
      (async () => {
        const aws = await import('./adapters/aws/index');
        return aws.awsBackendFromEnv(process.env);
      }),
  });
}

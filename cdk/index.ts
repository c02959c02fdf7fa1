/**
 * celeriac/cdk: the construct library. `TaskRunner` deploys an app's topology into a stack of
 * yours; `CeleriacStack` is a stack holding one TaskRunner and the outputs the CLI reads. The
 * TaskRunner composes smaller constructs, usable on their own: `TaskQueue` (queue, DLQ, worker,
 * event source), `PayloadBucket` (the S3 bucket of large payloads, granted by prefix),
 * `StaticRoutes` (the topology's EventBridge rules), `PeriodicSchedules` (with
 * `createSchedulerAccess`, the schedule group and role of long delays) and
 * `TaskRunnerMonitoring` (alarms and dashboard).
 *
 * @example
 * ```ts
 * import { App } from 'aws-cdk-lib';
 * import { CeleriacStack } from 'celeriac/cdk';
 * import { app } from '../src/app';
 *
 * new CeleriacStack(new App(), 'celeriac-shop', { topology: app.topology(), runner: { workerEntry: 'src/worker.ts' } });
 * ```
 */

export type { FunctionCodeSource } from './function-defaults';
export { type MonitoredTaskQueue, TaskRunnerMonitoring, type TaskRunnerMonitoringProps } from './monitoring';
export {
  PayloadBucket,
  type PayloadBucketBucketProps,
  type PayloadBucketProps,
  payloadLifecycleRule,
  payloadPrefix,
} from './payload-bucket';
export {
  allowSchedulerToSend,
  createSchedulerAccess,
  grantLongDelays,
  PeriodicSchedules,
  type PeriodicSchedulesProps,
  type SchedulerAccess,
} from './schedules';
export { CeleriacStack, type CeleriacStackProps } from './stack';
export { type DeliveryRetry, StaticRoutes, type StaticRoutesProps } from './static-routes';
export {
  DEFAULT_MAX_CONCURRENCY,
  type TaskDeadLetterQueueProps,
  TaskQueue,
  type TaskQueueProps,
  type TaskQueueQueueProps,
  type WorkerFunctionProps,
} from './task-queue';
export {
  findLockFile,
  LOCK_FILES,
  MAX_MESSAGE_BYTES,
  MAX_TARGETS_PER_RULE,
  type QueueOverrides,
  type TaskQueueResources,
  TaskRunner,
  type TaskRunnerProps,
} from './task-runner';

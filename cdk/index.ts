/**
 * celeriac/cdk: the construct library. `TaskRunner` deploys an app's topology into a stack of
 * yours; `CeleriacStack` is a stack holding one TaskRunner and the outputs the CLI reads.
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
export { CeleriacStack, type CeleriacStackProps } from './stack';
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

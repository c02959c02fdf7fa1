/**
 * Task metrics in CloudWatch Embedded Metric Format, written with Powertools for AWS Lambda's
 * Metrics: one JSON line on stdout per outcome, which CloudWatch Logs turns into metrics — no
 * PutMetricData call, no client, no latency added to the task. Built on the app's signals
 * (`taskPostrun`, `taskRevoked`), so the worker path knows nothing of it.
 *
 * Each line carries the dimensions `service` (the app) and `task`, one count (TaskSucceeded,
 * TaskFailed, TaskRetried, TaskRevoked, TaskRejected, TaskIgnored) and, for a body that ran,
 * TaskRuntime and QueueWait in milliseconds.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { PostrunPayload, Signals } from '../signals';

/** Options of {@link taskMetrics}. */
export interface TaskMetricsOptions {
  /** The CloudWatch namespace (the stack sets `CELERIAC_METRICS_NAMESPACE`: `celeriac/<app>` by default). */
  readonly namespace: string;
  /** The `service` dimension. Default: the app's name. */
  readonly serviceName?: string;
}

/** The count metric of each outcome `taskPostrun` (and `taskRevoked`) reports. */
export const OUTCOME_METRICS = {
  SUCCESS: 'TaskSucceeded',
  FAILURE: 'TaskFailed',
  RETRY: 'TaskRetried',
  REVOKED: 'TaskRevoked',
  REJECTED: 'TaskRejected',
  IGNORED: 'TaskIgnored',
} as const satisfies Readonly<Record<string, string>>;

function countOf(state: PostrunPayload['state']): string {
  return (OUTCOME_METRICS as Readonly<Record<string, string>>)[state] ?? `Task${state}`;
}

/**
 * Writes an EMF line for every task outcome of `app`. Returns a function that stops it.
 * `createWorker` calls it when the stack set a namespace; call it yourself to choose one.
 *
 * @example
 * ```ts
 * taskMetrics(app, { namespace: 'shop' });
 * ```
 */
export function taskMetrics(app: { readonly name: string; readonly signals: Signals }, options: TaskMetricsOptions): () => void {
  const serviceName = options.serviceName ?? app.name;
  // One Metrics instance per line: records of one batch run concurrently, and a shared instance
  // would mix their task dimensions.
  const line = (task: string, fill: (m: Metrics) => void) => {
    const m = new Metrics({ namespace: options.namespace, serviceName, defaultDimensions: { task } });
    fill(m);
    m.publishStoredMetrics();
  };
  const offPostrun = app.signals.taskPostrun.connect((e) =>
    line(e.task, (m) => {
      m.addMetric(countOf(e.state), MetricUnit.Count, 1);
      m.addMetric('TaskRuntime', MetricUnit.Milliseconds, e.runtimeMs);
      if (e.queueWaitMs !== undefined) m.addMetric('QueueWait', MetricUnit.Milliseconds, e.queueWaitMs);
    }),
  );
  const offRevoked = app.signals.taskRevoked.connect((e) =>
    line(e.request.task, (m) => m.addMetric(OUTCOME_METRICS.REVOKED, MetricUnit.Count, 1)),
  );
  return () => {
    offPostrun();
    offRevoked();
  };
}

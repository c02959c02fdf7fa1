import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { QueueInfo } from '../lib/routing';

/** What is watched of one task queue: a {@link TaskQueue}, or anything shaped like one. */
export interface MonitoredTaskQueue {
  readonly settings: QueueInfo;
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly worker: lambda.IFunction;
}

/** Properties of {@link TaskRunnerMonitoring}. */
export interface TaskRunnerMonitoringProps {
  /** The app's name, for descriptions. */
  readonly app: string;
  /** The task queues to watch. */
  readonly queues: readonly MonitoredTaskQueue[];
  /** The dead-letter queue of undelivered events. */
  readonly eventsDeadLetterQueue: sqs.IQueue;
  /** Subscriber functions by name; only functions built in this app get an errors alarm (an imported one is watched where it lives). */
  readonly subscribers?: ReadonlyMap<string, lambda.IFunction>;
  /** Actions of every alarm (an SNS topic, typically). @default - none */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];
  /** The age of a queue's oldest message that raises its alarm. @default Duration.minutes(15) */
  readonly oldestMessageAgeThreshold?: Duration;
  /** Create a CloudWatch dashboard. @default true */
  readonly dashboard?: boolean;
  /** The namespace of the workers' task metrics: the dashboard graphs them by task. @default - no task graphs */
  readonly metricsNamespace?: string;
  /** The construct errors are reported as (the construct the user created). @default 'TaskRunnerMonitoring' */
  readonly errorPrefix?: string;
}

/**
 * The alarms and the dashboard of a celeriac app (a {@link TaskRunner} creates one with the id
 * `Default`, see there). Per queue: messages in its DLQ, the age of its
 * oldest message, worker errors (a whole batch failed) and throttles. The events DLQ not being
 * empty, and each subscriber's errors. The dashboard graphs each queue and worker and shows every
 * alarm's state.
 */
export class TaskRunnerMonitoring extends Construct {
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard | undefined;

  constructor(scope: Construct, id: string, props: TaskRunnerMonitoringProps) {
    super(scope, id);
    checkOldestMessageAgeThreshold(props.oldestMessageAgeThreshold, props.errorPrefix ?? 'TaskRunnerMonitoring');
    this.alarms = createAlarms(this, props);
    this.dashboard = props.dashboard === false ? undefined : createDashboard(this, props, this.alarms);
  }
}

/** The alarm threshold's one rule, checked before anything is built. */
export function checkOldestMessageAgeThreshold(threshold: Duration | undefined, errorPrefix: string): void {
  const age = threshold?.toSeconds();
  if (age !== undefined && age < 1) throw new Error(`${errorPrefix}: oldestMessageAgeThreshold must be at least 1 second`);
}

function createAlarms(scope: Construct, props: TaskRunnerMonitoringProps): cloudwatch.Alarm[] {
  const alarms: cloudwatch.Alarm[] = [];
  const ageThreshold = (props.oldestMessageAgeThreshold ?? Duration.minutes(15)).toSeconds();
  const add = (parent: Construct, id: string, metric: cloudwatch.IMetric, threshold: number, description: string): void => {
    const alarm = new cloudwatch.Alarm(parent, id, {
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `celeriac ${props.app}: ${description}`,
    });
    for (const action of props.alarmActions ?? []) alarm.addAlarmAction(action);
    alarms.push(alarm);
  };
  const minute = { period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM };
  const fiveMinutesSum = { period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM };
  const queues = new Construct(scope, 'Queues');
  for (const r of props.queues) {
    const name = r.settings.name;
    const q = new Construct(queues, name);
    add(
      q,
      'DlqNotEmptyAlarm',
      r.deadLetterQueue.metricApproximateNumberOfMessagesVisible(minute),
      1,
      `messages in the DLQ of queue ${name}`,
    );
    add(
      q,
      'OldestMessageAlarm',
      r.queue.metricApproximateAgeOfOldestMessage(minute),
      ageThreshold,
      `the oldest message in queue ${name} is ${ageThreshold} s old or more`,
    );
    add(q, 'WorkerErrorsAlarm', r.worker.metricErrors(fiveMinutesSum), 1, `the worker of queue ${name} failed (a whole batch errored)`);
    add(q, 'WorkerThrottlesAlarm', r.worker.metricThrottles(fiveMinutesSum), 1, `the worker of queue ${name} was throttled`);
  }
  add(
    scope,
    'EventsDlqNotEmptyAlarm',
    props.eventsDeadLetterQueue.metricApproximateNumberOfMessagesVisible(minute),
    1,
    'undelivered link / subscriber / periodic events in the events DLQ',
  );
  const subscribers = new Construct(scope, 'Subscribers');
  for (const [name, fn] of props.subscribers ?? []) {
    if (!(fn instanceof lambda.Function)) continue;
    add(new Construct(subscribers, name), 'ErrorsAlarm', fn.metricErrors(fiveMinutesSum), 1, `subscriber ${name} failed`);
  }
  return alarms;
}

function createDashboard(scope: Construct, props: TaskRunnerMonitoringProps, alarms: readonly cloudwatch.Alarm[]): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard');
  const fiveMinutes = Duration.minutes(5);
  for (const r of props.queues) {
    const name = r.settings.name;
    dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `## Queue \`${name}\` (${r.settings.tasks.join(', ') || 'no static tasks'})`,
        width: 24,
        height: 1,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: messages`,
        left: [
          r.queue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes }),
          r.queue.metricApproximateNumberOfMessagesNotVisible({ period: fiveMinutes }),
          r.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes, label: 'DLQ visible' }),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: age of oldest message (s)`,
        left: [r.queue.metricApproximateAgeOfOldestMessage({ period: fiveMinutes })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: `${name}: worker`,
        left: [
          r.worker.metricInvocations({ period: fiveMinutes }),
          r.worker.metricErrors({ period: fiveMinutes }),
          r.worker.metricThrottles({ period: fiveMinutes }),
        ],
        right: [r.worker.metricDuration({ period: fiveMinutes, statistic: cloudwatch.Stats.p(99) })],
        width: 8,
      }),
    );
  }
  if (props.metricsNamespace !== undefined) dashboard.addWidgets(...taskMetricWidgets(props.metricsNamespace, props.app));
  dashboard.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'events DLQ',
      left: [props.eventsDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes })],
      width: 8,
    }),
    new cloudwatch.AlarmStatusWidget({ title: 'alarms', alarms: [...alarms], width: 16 }),
  );
  return dashboard;
}

/**
 * The task metrics the workers write (lib/telemetry/metrics.ts), by task: outcomes, runtime and
 * queue wait. SEARCH expressions, so tasks named at run time (not only static ones) appear.
 */
function taskMetricWidgets(namespace: string, app: string): cloudwatch.GraphWidget[] {
  const search = (metric: string, stat: string, label: string) =>
    new cloudwatch.MathExpression({
      expression: `SEARCH('{${namespace},service,task} MetricName="${metric}" service="${app}"', '${stat}', 300)`,
      label,
      period: Duration.minutes(5),
    });
  return [
    new cloudwatch.GraphWidget({
      title: 'tasks: outcomes (per 5 min)',
      left: ['TaskSucceeded', 'TaskFailed', 'TaskRetried', 'TaskRevoked'].map((m) => search(m, 'Sum', m)),
      width: 8,
    }),
    new cloudwatch.GraphWidget({ title: 'tasks: runtime p99 (ms)', left: [search('TaskRuntime', 'p99', 'runtime')], width: 8 }),
    new cloudwatch.GraphWidget({ title: 'tasks: queue wait p99 (ms)', left: [search('QueueWait', 'p99', 'queue wait')], width: 8 }),
  ];
}

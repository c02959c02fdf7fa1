import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { AppTopologyInput } from '../lib/routing';
import { TaskRunner, type TaskRunnerProps } from './task-runner';

/** Properties of a {@link CeleriacStack}. */
export interface CeleriacStackProps extends StackProps {
  /** The app's topology (`app.topology()`). */
  readonly topology: AppTopologyInput;
  /** Everything else the TaskRunner takes: the worker entry (required, or prebuilt code), removal policy, alarm actions… */
  readonly runner: Omit<TaskRunnerProps, 'topology'>;
}

/**
 * One celeriac app: a {@link TaskRunner} and the outputs the CLI (`--outputs`) and producers need:
 * app name, queue and DLQ URLs (per queue and as JSON maps, the shape of CELERIAC_QUEUE_URLS),
 * table, payload bucket and bus names.
 *
 * @example
 * ```ts
 * new CeleriacStack(cdkApp, 'celeriac-shop', { topology: app.topology(), runner: { workerEntry: 'src/worker.ts' } });
 * ```
 */
export class CeleriacStack extends Stack {
  readonly runner: TaskRunner;

  constructor(scope: Construct, id: string, props: CeleriacStackProps) {
    super(scope, id, props);
    this.runner = new TaskRunner(this, 'Runner', { ...props.runner, topology: props.topology });
    const r = this.runner;

    new CfnOutput(this, 'AppName', { value: r.topology.app, description: 'celeriac app name (EventBridge source celeriac.<app>)' });
    new CfnOutput(this, 'TableName', { value: r.table.tableName, description: 'DynamoDB table of results and workflow state' });
    if (r.payloads) {
      new CfnOutput(this, 'PayloadBucketName', {
        value: r.payloads.bucket.bucketName,
        description: `S3 bucket of large payloads (keys under ${r.payloads.prefix}), the shape of CELERIAC_PAYLOAD_BUCKET`,
      });
    }
    new CfnOutput(this, 'BusName', { value: r.bus.eventBusName, description: 'EventBridge bus of task lifecycle events' });
    new CfnOutput(this, 'EventsDlqUrl', {
      value: r.eventsDeadLetterQueue.queueUrl,
      description: 'Undelivered link, subscriber and periodic events',
    });
    new CfnOutput(this, 'SchedulerGroup', {
      value: r.scheduleGroup.scheduleGroupName,
      description: 'EventBridge Scheduler group of periodic tasks and of delays past 15 minutes',
    });
    new CfnOutput(this, 'SchedulerRoleArn', {
      value: r.schedulerRole.roleArn,
      description: 'Role EventBridge Scheduler assumes to send to the queues (producers pass it when they schedule)',
    });
    new CfnOutput(this, 'QueueUrls', {
      value: this.toJsonString(Object.fromEntries([...r.queues].map(([name, q]) => [name, q.queue.queueUrl]))),
      description: 'JSON map: logical queue name to SQS queue URL',
    });
    new CfnOutput(this, 'DlqUrls', {
      value: this.toJsonString(Object.fromEntries([...r.queues].map(([name, q]) => [name, q.deadLetterQueue.queueUrl]))),
      description: 'JSON map: logical queue name to DLQ URL',
    });
    const keys = new OutputKeys();
    for (const [name, q] of r.queues) {
      new CfnOutput(this, keys.key('QueueUrl', name), { value: q.queue.queueUrl, description: `SQS queue URL of queue ${name}` });
      new CfnOutput(this, keys.key('DlqUrl', name), { value: q.deadLetterQueue.queueUrl, description: `DLQ URL of queue ${name}` });
    }
  }
}

/** Output keys are alphanumeric: "high-priority" and "high_priority" would both become "highpriority". */
class OutputKeys {
  readonly #used = new Set<string>();

  key(prefix: string, name: string): string {
    const base = `${prefix}${name.replace(/[^A-Za-z0-9]/g, '')}`;
    let key = base;
    for (let i = 2; this.#used.has(key); i++) key = `${base}${i}`;
    this.#used.add(key);
    return key;
  }
}

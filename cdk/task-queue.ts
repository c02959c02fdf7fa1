import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { QueueInfo } from '../lib/routing';
import { celeriacFunctionProps, codeProps, type FunctionCodeSource } from './function-defaults';
import { consolidateProps } from './props';

/** SQS's maximum message size; set explicitly because older queues default to 256 KiB. */
export const MAX_MESSAGE_BYTES = 1_048_576;

/**
 * MaximumConcurrency of a worker's event source mapping when the queue sets none. Without a cap,
 * the SQS poller scales past the concurrency Lambda can give the function; the throttled batches
 * still count as receives, and messages reach the DLQ without ever running (an AWS pitfall).
 * Keep a queue's cap at or below the function's reserved (or the account's free) concurrency.
 */
export const DEFAULT_MAX_CONCURRENCY = 10;

/**
 * Props of a worker function you may set: VPC (`vpc`, `vpcSubnets`, `securityGroups`), `tracing`,
 * `layers`, `environment` (merged with celeriac's), `architecture`, `runtime`, reserved
 * concurrency, `memorySize`, `timeout`… Left out are the props celeriac owns: the code (`entry`,
 * `code`, `handler`, bundling), the role and log group it scopes least privilege to, and the
 * name and description (one function per queue).
 */
export type WorkerFunctionProps = Omit<
  nodejs.NodejsFunctionProps,
  | 'entry'
  | 'code'
  | 'handler'
  | 'projectRoot'
  | 'depsLockFilePath'
  | 'bundling'
  | 'role'
  | 'logGroup'
  | 'logRetention'
  | 'functionName'
  | 'description'
>;

/**
 * Props of a task queue you may set: encryption (`encryption`, `encryptionMasterKey` for a KMS
 * key, `dataKeyReuse`), `queueName`, `retentionPeriod`, `removalPolicy`… Left out are the ones
 * the worker's correctness depends on: the visibility timeout (6 × the function timeout, from the
 * queue's settings), the dead-letter queue and its maxReceiveCount, FIFO, SSL-only access and the
 * 1 MiB message size the producer relies on.
 */
export type TaskQueueQueueProps = Omit<
  sqs.QueueProps,
  'visibilityTimeout' | 'deadLetterQueue' | 'fifo' | 'enforceSSL' | 'maxMessageSizeBytes'
>;

/** Props of a dead-letter queue you may set (as {@link TaskQueueQueueProps}). @default retention 14 days, SQS-managed SSE */
export type TaskDeadLetterQueueProps = TaskQueueQueueProps;

/** Properties of a {@link TaskQueue}. */
export interface TaskQueueProps {
  /** The queue's settings, from the topology (`buildTopology(...).queues`): batch size, timeouts, maxReceiveCount, memory. */
  readonly settings: QueueInfo;
  /** The app's name, for descriptions. */
  readonly app: string;
  /** The worker's code: an entry of your project to bundle, or prebuilt code (handler `index.handler`). */
  readonly code: FunctionCodeSource;
  /** The celeriac environment of the worker (a TaskRunner's `environment`); its keys win over `workerFunctionProps.environment`. */
  readonly environment: Readonly<Record<string, string>>;
  /** esbuild options, merged over the defaults. */
  readonly bundling?: nodejs.BundlingOptions;
  /**
   * Props of the worker function, merged over the defaults (nodejs24.x, arm64). Required, and
   * winning over these: the code, role, log group and description; `timeout` and `memorySize`
   * come from `settings` (a TaskRunner folds `workerFunctionProps.timeout`/`memorySize` into the
   * settings first, where the visibility-timeout rule checks them).
   */
  readonly workerFunctionProps?: WorkerFunctionProps;
  /**
   * Props of the queue, merged over the defaults (SQS-managed SSE). Required, and winning: the
   * visibility timeout from `settings`, the DLQ with `settings.maxReceiveCount`, SSL only, 1 MiB
   * messages. With `encryptionMasterKey`, the grants celeriac makes on the queue (worker,
   * producers, EventBridge rules, the scheduler role) include the key.
   */
  readonly queueProps?: TaskQueueQueueProps;
  /** Props of the dead-letter queue, merged over the defaults (14 days' retention, SQS-managed SSE); SSL only and 1 MiB messages win. */
  readonly deadLetterQueueProps?: TaskDeadLetterQueueProps;
  /** Retention of the worker's log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Removal policy of the worker's log group. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * One logical task queue: an SQS queue and its dead-letter queue, the worker function that
 * consumes it (with its own role and log group) and the SQS event source between them (partial
 * batch responses, the queue's batch size, batching window and concurrency cap).
 *
 * The pieces are reachable as readonly properties; the props of each are passed through to the
 * CDK construct that builds it, over celeriac's defaults and under its required settings.
 *
 * @example
 * ```ts
 * const q = new TaskQueue(this, 'default', {
 *   settings: buildTopology(app.topology()).queues[0],
 *   app: 'shop',
 *   code: { entry: 'src/worker.ts', projectRoot: process.cwd() },
 *   environment: runner.environment,
 *   workerFunctionProps: { vpc, tracing: lambda.Tracing.ACTIVE },
 *   queueProps: { encryptionMasterKey: key },
 * });
 * ```
 */
export class TaskQueue extends Construct {
  /** The queue's settings, as given. */
  readonly settings: QueueInfo;
  /** The SQS queue tasks are sent to. */
  readonly queue: sqs.Queue;
  /** Where a message goes after `settings.maxReceiveCount` receives. */
  readonly deadLetterQueue: sqs.Queue;
  /** The worker function consuming `queue`. */
  readonly worker: nodejs.NodejsFunction;
  /** The SQS event source between `queue` and `worker`. */
  readonly eventSource: SqsEventSource;

  constructor(scope: Construct, id: string, props: TaskQueueProps) {
    super(scope, id);
    const q = props.settings;
    this.settings = q;
    const secure = { enforceSSL: true, maxMessageSizeBytes: MAX_MESSAGE_BYTES };
    this.deadLetterQueue = new sqs.Queue(
      this,
      'Dlq',
      consolidateProps<sqs.QueueProps>(
        { ...defaultEncryption(props.deadLetterQueueProps), retentionPeriod: Duration.days(14) },
        props.deadLetterQueueProps,
        secure,
      ),
    );
    this.queue = new sqs.Queue(
      this,
      'Queue',
      consolidateProps<sqs.QueueProps>(defaultEncryption(props.queueProps), props.queueProps, {
        ...secure,
        visibilityTimeout: Duration.seconds(q.visibilityTimeoutSeconds),
        deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: q.maxReceiveCount },
      }),
    );

    const description = `celeriac ${props.app}: worker of queue ${q.name}`;
    const { runtime, architecture, ...owned } = celeriacFunctionProps(this, {
      description,
      environment: props.environment,
      ...(props.bundling ? { bundling: props.bundling } : {}),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      ...(props.removalPolicy ? { removalPolicy: props.removalPolicy } : {}),
    });
    const user = props.workerFunctionProps;
    if (user?.vpc) allowNetworkInterfaces(owned.role as iam.Role);
    this.worker = new nodejs.NodejsFunction(
      this,
      'Worker',
      consolidateProps<nodejs.NodejsFunctionProps>({ runtime, architecture }, user, {
        ...owned,
        ...codeProps(props.code),
        timeout: Duration.seconds(q.functionTimeoutSeconds),
        memorySize: q.memoryMb,
      }),
    );
    acknowledgeWildcards(owned.role as iam.Role, user);

    this.eventSource = new SqsEventSource(this.queue, {
      batchSize: q.batchSize,
      maxBatchingWindow: Duration.seconds(q.maxBatchingWindowSeconds),
      reportBatchItemFailures: true,
      maxConcurrency: q.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
    });
    this.worker.addEventSource(this.eventSource);
  }
}

/** SQS-managed SSE unless the user chose an encryption (a KMS key implies KMS). */
function defaultEncryption(user: TaskQueueQueueProps | undefined): sqs.QueueProps {
  return user?.encryption !== undefined || user?.encryptionMasterKey !== undefined ? {} : { encryption: sqs.QueueEncryption.SQS_MANAGED };
}

/**
 * A function in a VPC needs to manage its network interfaces. Lambda adds the
 * AWSLambdaVPCAccessExecutionRole managed policy only to roles it creates; this role is ours,
 * so it gets the same actions inline (no managed policy, as for logging).
 */
function allowNetworkInterfaces(role: iam.Role): void {
  role.addToPolicy(
    new iam.PolicyStatement({
      actions: [
        'ec2:CreateNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:DeleteNetworkInterface',
        'ec2:AssignPrivateIpAddresses',
        'ec2:UnassignPrivateIpAddresses',
      ],
      resources: ['*'],
    }),
  );
}

/** Acknowledges, with the reason, the `Resource: *` statements VPC access and X-Ray tracing require. */
function acknowledgeWildcards(role: iam.Role, user: WorkerFunctionProps | undefined): void {
  const reasons: string[] = [];
  if (user?.vpc) {
    reasons.push('the ec2 network-interface actions a function in a VPC needs do not support resource-level permissions');
  }
  // Lambda adds the X-Ray statement for ACTIVE and PASS_THROUGH alike.
  if (user?.tracing !== undefined && user.tracing !== lambda.Tracing.DISABLED) {
    reasons.push('X-Ray PutTraceSegments and PutTelemetryRecords (tracing) do not support resource-level permissions');
  }
  if (reasons.length === 0) return;
  Validations.of(role).acknowledge({
    id: 'AwsSolutions::AwsSolutions-IAM5[Resource::*]',
    reason: `The worker role's Resource "*" statements are the ones AWS requires: ${reasons.join('; ')}.`,
  });
}

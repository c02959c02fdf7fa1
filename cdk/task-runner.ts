import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Duration, Lazy, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_RESULT_TTL_SECONDS, ENV } from '../lib/config';
import { type AppTopologyInput, buildTopology, type QueueInfo, type Topology } from '../lib/routing';
import { celeriacFunctionProps, codeProps, type FunctionCodeSource } from './function-defaults';
import { checkOldestMessageAgeThreshold, TaskRunnerMonitoring } from './monitoring';
import { PayloadBucket, type PayloadBucketBucketProps } from './payload-bucket';
import { consolidateProps } from './props';
import {
  acknowledgeKeyActionWildcards,
  allowSchedulerToSend,
  createSchedulerAccess,
  grantLongDelays,
  PeriodicSchedules,
  type SchedulerAccess,
} from './schedules';
import { deliveryRetry, StaticRoutes } from './static-routes';
import { MAX_MESSAGE_BYTES, TaskQueue, type TaskQueueQueueProps, type WorkerFunctionProps } from './task-queue';

export { MAX_TARGETS_PER_RULE } from './static-routes';
export { DEFAULT_MAX_CONCURRENCY, MAX_MESSAGE_BYTES } from './task-queue';

/** The lock files esbuild's bundling accepts, in the order they are looked for. */
export const LOCK_FILES = ['package-lock.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lockb', 'bun.lock'] as const;

/** Lambda refuses a function whose environment variables total more than this many bytes. */
const LAMBDA_ENV_LIMIT_BYTES = 4_096;
/** Upper estimate of a generated SQS queue URL's length (the token is unresolved at synth time). */
const QUEUE_URL_ESTIMATE = 130;

/**
 * Per-queue settings that override the app's topology and the app-wide pass-through props, in
 * CDK types. The more specific setting wins: a named setting here (`functionTimeout`,
 * `memorySize`) over this queue's `workerFunctionProps`, over the TaskRunner's
 * `workerFunctionProps`, over the topology.
 */
export interface QueueOverrides {
  readonly batchSize?: number;
  readonly maxBatchingWindow?: Duration;
  /** Cap on concurrent worker invocations for the queue (2-1000). @default DEFAULT_MAX_CONCURRENCY (10) */
  readonly maxConcurrency?: number;
  readonly functionTimeout?: Duration;
  /** Must be at least 6 × the function timeout. @default 6 × functionTimeout */
  readonly visibilityTimeout?: Duration;
  /** Receives before a message moves to the queue's DLQ. */
  readonly maxReceiveCount?: number;
  readonly memorySize?: number;
  /** This queue's worker function props, merged over the TaskRunner's `workerFunctionProps` (environment key by key). */
  readonly workerFunctionProps?: WorkerFunctionProps;
  /** This queue's SQS props (a `queueName`, its own KMS key…), merged over the TaskRunner's `queueProps`. */
  readonly queueProps?: TaskQueueQueueProps;
  /** This queue's DLQ props, merged over the TaskRunner's `deadLetterQueueProps`. */
  readonly deadLetterQueueProps?: TaskQueueQueueProps;
}

/** Properties of a {@link TaskRunner}. */
export interface TaskRunnerProps {
  /** The app's topology: `app.topology()`, or a literal. Validated with `buildTopology`. */
  readonly topology: AppTopologyInput;
  /** Overrides of queue settings, by logical queue name. @default - the topology's settings */
  readonly queueOverrides?: Readonly<Record<string, QueueOverrides>>;
  /**
   * Props of every worker function, passed through to its NodejsFunction over celeriac's
   * defaults (see {@link TaskQueue}): `vpc`, `vpcSubnets`, `securityGroups`, `tracing` (X-Ray),
   * `layers` (the ADOT layer, say), `environment` (merged over `environment`; the CELERIAC_* keys
   * stay celeriac's), `memorySize`, `timeout`… `timeout` and `memorySize` win over the
   * topology's queue settings and lose to `queueOverrides`; the visibility-timeout rule checks
   * the result. @default - celeriac's defaults
   */
  readonly workerFunctionProps?: WorkerFunctionProps;
  /**
   * Props of every task queue, passed through to its sqs.Queue (see {@link TaskQueue}): e.g.
   * `encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key`. The grants celeriac makes
   * (workers, producers, EventBridge rule targets, the scheduler role) then include the key.
   * @default - SQS-managed SSE
   */
  readonly queueProps?: Omit<TaskQueueQueueProps, 'queueName'>;
  /** Props of every task queue's DLQ, passed through to its sqs.Queue. @default - SQS-managed SSE, 14 days' retention */
  readonly deadLetterQueueProps?: Omit<TaskQueueQueueProps, 'queueName'>;
  /**
   * Your project's directory: it holds package.json, the lock file and the entries, which are
   * resolved against it. @default process.cwd() - the directory `cdk synth` runs in
   */
  readonly projectRoot?: string;
  /**
   * Your worker entry, relative to `projectRoot` or absolute; it exports `handler`
   * (`export const handler = createWorker(app)`). Required unless `workerCode` is given.
   */
  readonly workerEntry?: string;
  /**
   * The lock file esbuild installs from, relative to `projectRoot` or absolute.
   * @default - the first of package-lock.json, yarn.lock, pnpm-lock.yaml, bun.lockb, bun.lock in projectRoot
   */
  readonly depsLockFilePath?: string;
  /**
   * Prebuilt worker code instead of bundling `workerEntry` (handler `index.handler`): a CI
   * artifact, or `lambda.Code.fromInline` in tests, where bundling every synth is slow.
   * @default - `workerEntry` bundled by esbuild
   */
  readonly workerCode?: lambda.Code;
  /** Prebuilt code per subscriber (handler `index.handler`), as `workerCode`. @default - each subscriber's entry, bundled */
  readonly subscriberCode?: Readonly<Record<string, lambda.Code>>;
  /** Existing functions to use as subscribers, by subscriber name. @default - functions built from the subscribers' entries */
  readonly existingSubscriberFunctions?: Readonly<Record<string, lambda.IFunction>>;
  /** esbuild options of every function (workers and subscribers), merged over the defaults (ESM, minified, source maps, SDK bundled). */
  readonly bundling?: nodejs.BundlingOptions;
  /** An existing results table (partition key `pk` string, TTL attribute `ttl`). @default - a new table */
  readonly existingTable?: dynamodb.ITable;
  /** Props of the new table; the key schema and TTL attribute are celeriac's and cannot be changed. @default - on-demand, PITR on */
  readonly tableProps?: Omit<dynamodb.TableProps, 'partitionKey' | 'sortKey' | 'timeToLiveAttribute'>;
  /**
   * Create the app's payload bucket ({@link PayloadBucket}): arguments, results and event details
   * above the payload threshold are stored there and travel by reference, so no size limit of
   * SQS, EventBridge or DynamoDB applies to them. `false`: no bucket, `CELERIAC_PAYLOAD_BUCKET`
   * is not set, and a payload over a service's limit fails as too large. @default true
   */
  readonly payloadBucket?: boolean;
  /** An existing bucket for the app's payloads (keys under `<app>/`; its lifecycle is yours, see `payloadLifecycleRule`). @default - a new bucket */
  readonly existingPayloadBucket?: s3.IBucket;
  /** Props of the new payload bucket, passed through to its s3.Bucket (see {@link PayloadBucket}). @default - S3-managed SSE, no versioning */
  readonly payloadBucketProps?: PayloadBucketBucketProps;
  /** Removal policy of the stateful resources this construct creates: table, payload bucket, log groups, schedule group. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** An existing event bus for lifecycle events. @default - a new bus */
  readonly existingBus?: events.IEventBus;
  /** Props of the new bus. @default - a bus with a generated name */
  readonly busProps?: events.EventBusProps;
  /** How long results live (DynamoDB TTL); `Duration.seconds(0)` keeps them forever. @default Duration.days(1) */
  readonly resultTtl?: Duration;
  /** Extra environment variables for every function (the CELERIAC_* ones are set by this construct). */
  readonly environment?: Readonly<Record<string, string>>;
  /** Retention of the functions' log groups. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Retries EventBridge and Scheduler make before sending an undeliverable event to the events DLQ. @default 8 */
  readonly deliveryRetryAttempts?: number;
  /** Age after which EventBridge and Scheduler stop retrying an undeliverable event. @default Duration.hours(24) */
  readonly deliveryMaxEventAge?: Duration;
  /** Actions of every alarm (an SNS topic, typically). @default - none */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];
  /** The age of a queue's oldest message that raises its alarm. @default Duration.minutes(15) */
  readonly oldestMessageAgeThreshold?: Duration;
  /** Create a CloudWatch dashboard. @default true */
  readonly dashboard?: boolean;
  /**
   * CloudWatch namespace of the workers' task metrics (EMF lines, no API call; the dashboard
   * graphs them), or `false` for none. @default `celeriac/<app>`
   */
  readonly metricsNamespace?: string | false;
}

/** The resources of one logical queue (a {@link TaskQueue} is one). */
export interface TaskQueueResources {
  readonly settings: QueueInfo;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly worker: nodejs.NodejsFunction;
}

/**
 * Runs a celeriac app on AWS: per logical queue a {@link TaskQueue} (an SQS queue with its DLQ
 * and a worker Lambda fed by an SQS event source); one DynamoDB table for results and workflow
 * state; one EventBridge bus for lifecycle events, with {@link StaticRoutes} (a rule per static
 * link, error link and subscriber); an EventBridge Scheduler group for long delays and
 * {@link PeriodicSchedules}; {@link TaskRunnerMonitoring} (alarms and a dashboard).
 *
 * Everything is derived from the app's topology through `lib/routing`, the same description
 * local mode runs, so the rules deployed are the rules tested.
 *
 * @example
 * ```ts
 * import { TaskRunner } from 'celeriac/cdk';
 * import { app } from '../src/app';
 *
 * const runner = new TaskRunner(stack, 'Shop', {
 *   topology: app.topology(),
 *   workerEntry: 'src/worker.ts', // relative to projectRoot: by default where `cdk synth` runs
 *   queueOverrides: { default: { functionTimeout: Duration.seconds(60), maxConcurrency: 20 } },
 *   workerFunctionProps: { vpc, tracing: lambda.Tracing.ACTIVE },
 *   queueProps: { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key },
 *   removalPolicy: RemovalPolicy.DESTROY,
 *   alarmActions: [new cloudwatchActions.SnsAction(opsTopic)],
 * });
 * runner.grantProducer(apiHandler); // lets another function call tasks and read results
 * ```
 */
export class TaskRunner extends Construct {
  /** The validated topology, defaults filled in. */
  readonly topology: Topology;
  readonly table: dynamodb.ITable;
  /** The app's payload bucket and its grants, unless `payloadBucket: false`. */
  readonly payloads: PayloadBucket | undefined;
  readonly bus: events.IEventBus;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The role EventBridge Scheduler assumes to send to the app's queues. */
  readonly schedulerRole: iam.Role;
  /** Events EventBridge or Scheduler could not deliver, and subscriber invocations that kept failing. */
  readonly eventsDeadLetterQueue: sqs.Queue;
  /** The topology's EventBridge rules. */
  readonly routes: StaticRoutes;
  /** The schedules of the periodic tasks. */
  readonly periodicSchedules: PeriodicSchedules;
  /** The alarms and the dashboard. */
  readonly monitoring: TaskRunnerMonitoring;
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard | undefined;
  /** Where the workers' task metrics go (`metricsNamespace`), if anywhere. */
  readonly metricsNamespace: string | undefined;
  /** The environment every function gets (the CELERIAC_* keys of lib/config plus `environment`). */
  readonly environment: Readonly<Record<string, string>>;

  readonly #queues = new Map<string, TaskQueue>();
  readonly #subscribers = new Map<string, lambda.IFunction>();
  readonly #access: SchedulerAccess;

  constructor(scope: Construct, id: string, props: TaskRunnerProps) {
    super(scope, id);
    validateProps(props);
    this.topology = buildTopology(withOverrides(props.topology, props));
    validateSubscriberSources(this.topology, props);
    const stateful = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const delivery = deliveryRetry(
      { retryAttempts: props.deliveryRetryAttempts, maxEventAge: props.deliveryMaxEventAge },
      {
        construct: 'TaskRunner',
        attempts: 'deliveryRetryAttempts',
        age: 'deliveryMaxEventAge',
      },
    );

    this.table = props.existingTable ?? createTable(this, props, stateful);
    this.payloads =
      props.payloadBucket === false
        ? undefined
        : new PayloadBucket(this, 'Payloads', {
            app: this.topology.app,
            ...(props.resultTtl ? { resultTtl: props.resultTtl } : {}),
            ...(props.existingPayloadBucket ? { existingBucket: props.existingPayloadBucket } : {}),
            ...(props.payloadBucketProps ? { bucketProps: props.payloadBucketProps } : {}),
            removalPolicy: stateful,
          });
    this.bus = props.existingBus ?? new events.EventBus(this, 'Bus', props.busProps);
    this.eventsDeadLetterQueue = createEventsDeadLetterQueue(this);
    this.#access = createSchedulerAccess(this, { app: this.topology.app, removalPolicy: stateful });
    this.scheduleGroup = this.#access.scheduleGroup;
    this.schedulerRole = this.#access.schedulerRole;
    this.metricsNamespace = props.metricsNamespace === false ? undefined : (props.metricsNamespace ?? `celeriac/${this.topology.app}`);
    this.environment = this.#environment(props);

    const sources = codeSources(this.topology, props);
    const queuesScope = new Construct(this, 'Queues');
    for (const q of this.topology.queues) this.#queues.set(q.name, this.#taskQueue(queuesScope, q, sources.worker, props));
    for (const { queue } of this.#queues.values()) allowSchedulerToSend(this.schedulerRole, queue);
    for (const { worker } of this.#queues.values()) this.#grantRuntime(worker);
    this.#createSubscribers(sources.subscribers, props);

    const queues = new Map([...this.#queues].map(([name, r]) => [name, r.queue]));
    const common = { deadLetterQueue: this.eventsDeadLetterQueue, queues, ...delivery };
    this.routes = new StaticRoutes(this, 'Rules', {
      ...common,
      rules: this.topology.rules,
      bus: this.bus,
      subscribers: this.#subscribers,
      errorPrefix: 'TaskRunner',
    });
    this.periodicSchedules = new PeriodicSchedules(this, 'Periodic', {
      ...common,
      app: this.topology.app,
      periodic: this.topology.periodic,
      access: this.#access,
    });
    // Id `Default`: CloudFormation logical IDs skip it, so the alarms and the dashboard keep the
    // IDs (and the generated names) they had before they moved into their own construct.
    this.monitoring = new TaskRunnerMonitoring(this, 'Default', {
      app: this.topology.app,
      queues: [...this.#queues.values()],
      eventsDeadLetterQueue: this.eventsDeadLetterQueue,
      subscribers: this.#subscribers,
      ...(props.alarmActions ? { alarmActions: props.alarmActions } : {}),
      ...(props.oldestMessageAgeThreshold ? { oldestMessageAgeThreshold: props.oldestMessageAgeThreshold } : {}),
      ...(props.dashboard !== undefined ? { dashboard: props.dashboard } : {}),
      ...(this.metricsNamespace !== undefined ? { metricsNamespace: this.metricsNamespace } : {}),
      errorPrefix: 'TaskRunner',
    });
    this.alarms = this.monitoring.alarms;
    this.dashboard = this.monitoring.dashboard;
  }

  /** The SQS queue of a logical queue. */
  queue(name: string): sqs.Queue {
    return this.taskQueue(name).queue;
  }

  /** The DLQ of a logical queue. */
  deadLetterQueue(name: string): sqs.Queue {
    return this.taskQueue(name).deadLetterQueue;
  }

  /** The worker function consuming a logical queue. */
  worker(name: string): nodejs.NodejsFunction {
    return this.taskQueue(name).worker;
  }

  /** The {@link TaskQueue} of a logical queue: its queue, DLQ, worker and event source. */
  taskQueue(name: string): TaskQueue {
    const r = this.#queues.get(name);
    if (!r) throw new Error(`TaskRunner: no queue "${name}" (queues: ${[...this.#queues.keys()].join(', ')})`);
    return r;
  }

  /** All queues' resources, by logical queue name. */
  get queues(): ReadonlyMap<string, TaskQueue> {
    return this.#queues;
  }

  /** A subscriber's function. */
  subscriberFunction(name: string): lambda.IFunction {
    const fn = this.#subscribers.get(name);
    if (!fn) throw new Error(`TaskRunner: no subscriber "${name}" (subscribers: ${[...this.#subscribers.keys()].join(', ') || 'none'})`);
    return fn;
  }

  /** The EventBridge rule of a topology rule (see `topology.rules`). */
  rule(name: string): events.Rule {
    return this.routes.rule(name);
  }

  /** The schedule of a periodic task. */
  schedule(name: string): scheduler.Schedule {
    const s = this.periodicSchedules.schedules.get(name);
    if (!s) throw new Error(`TaskRunner: no periodic task "${name}"`);
    return s;
  }

  /**
   * Adds a target to a topology rule (another consumer of a task's success, say), refusing a
   * sixth: EventBridge allows 5 targets per rule.
   */
  addRuleTarget(ruleName: string, target: events.IRuleTarget): void {
    this.routes.addTarget(ruleName, target);
  }

  /**
   * Lets `grantee` call the app's tasks and read their results (a producer: an API handler, a
   * subscriber that calls tasks, the CLI's role): send to every queue, read and write the table,
   * create delayed calls in the schedule group, and store, read and delete the app's payloads
   * (keys `<app>/*` of the payload bucket).
   */
  grantProducer(grantee: iam.IGrantable): void {
    for (const { queue } of this.#queues.values()) {
      queue.grantSendMessages(grantee);
      if (queue.encryptionMasterKey) acknowledgeKeyActionWildcards(grantee.grantPrincipal, ['kms:GenerateDataKey*', 'kms:ReEncrypt*']);
    }
    this.table.grantReadWriteData(grantee);
    this.payloads?.grantReadWrite(grantee);
    grantLongDelays(grantee, this.#access);
  }

  #grantRuntime(worker: lambda.Function): void {
    this.grantProducer(worker);
    if (this.topology.eventsEnabled) this.bus.grantPutEventsTo(worker);
  }

  #environment(props: TaskRunnerProps): Readonly<Record<string, string>> {
    const stack = Stack.of(this);
    // Lazy: the queues are created after the environment their workers carry.
    const urls = (pick: (r: TaskQueue) => sqs.IQueue): string =>
      Lazy.string({
        produce: () => stack.toJsonString(Object.fromEntries([...this.#queues].map(([name, r]) => [name, pick(r).queueUrl]))),
      });
    const environment = {
      ...props.environment,
      [ENV.app]: this.topology.app,
      [ENV.table]: this.table.tableName,
      [ENV.bus]: this.bus.eventBusName,
      [ENV.queueUrls]: urls((r) => r.queue),
      [ENV.dlqUrls]: urls((r) => r.deadLetterQueue),
      [ENV.events]: this.topology.eventsEnabled ? 'on' : 'off',
      [ENV.resultTtl]: String((props.resultTtl ?? Duration.seconds(DEFAULT_RESULT_TTL_SECONDS)).toSeconds()),
      [ENV.schedulerGroup]: this.scheduleGroup.scheduleGroupName,
      [ENV.schedulerRoleArn]: this.schedulerRole.roleArn,
      ...(this.metricsNamespace !== undefined ? { [ENV.metricsNamespace]: this.metricsNamespace } : {}),
      ...(this.payloads ? { [ENV.payloadBucket]: this.payloads.bucket.bucketName } : {}),
      // Stack traces point into the TypeScript sources (the bundle ships its source map).
      NODE_OPTIONS: '--enable-source-maps',
    };
    for (const q of this.topology.queues) {
      checkEnvironmentSize({ ...workerFunctionProps(props, q.name).environment, ...environment }, this.topology.queues.length);
    }
    return environment;
  }

  #taskQueue(scope: Construct, q: QueueInfo, code: FunctionCodeSource, props: TaskRunnerProps): TaskQueue {
    const o = props.queueOverrides?.[q.name];
    const fn = workerFunctionProps(props, q.name);
    const queueProps = consolidateProps<TaskQueueQueueProps>({}, props.queueProps, o?.queueProps ?? {});
    const deadLetterQueueProps = consolidateProps<TaskQueueQueueProps>({}, props.deadLetterQueueProps, o?.deadLetterQueueProps ?? {});
    return new TaskQueue(scope, q.name, {
      settings: q,
      app: this.topology.app,
      code,
      // The worker's own variables over the app's; the CELERIAC_* keys were refused from both.
      environment: { ...this.environment, ...fn.environment },
      workerFunctionProps: fn,
      queueProps,
      deadLetterQueueProps,
      ...(props.bundling ? { bundling: props.bundling } : {}),
      ...(props.logRetention ? { logRetention: props.logRetention } : {}),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  #createSubscribers(sources: ReadonlyMap<string, FunctionCodeSource>, props: TaskRunnerProps): void {
    const subscribersScope = new Construct(this, 'Subscribers');
    for (const s of this.topology.subscribers) {
      const existing = props.existingSubscriberFunctions?.[s.name];
      if (existing) {
        // Its role and environment are yours: to resolve payload references it needs
        // `runner.payloads.grantRead(fn)` and CELERIAC_PAYLOAD_BUCKET.
        this.#subscribers.set(s.name, existing);
        continue;
      }
      const scope = new Construct(subscribersScope, s.name);
      const fn = new nodejs.NodejsFunction(scope, 'Function', {
        ...celeriacFunctionProps(scope, {
          description: `celeriac ${this.topology.app}: subscriber ${s.name}`,
          environment: this.environment,
          ...(props.bundling ? { bundling: props.bundling } : {}),
          ...(props.logRetention ? { logRetention: props.logRetention } : {}),
          removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
        }),
        ...codeProps(sources.get(s.name) as FunctionCodeSource),
        timeout: Duration.seconds(30),
        // EventBridge invokes asynchronously: after Lambda's own retries, keep the event.
        retryAttempts: 2,
        deadLetterQueue: this.eventsDeadLetterQueue,
      });
      // A subscriber resolves the payload references of the events it receives: read only.
      this.payloads?.grantRead(fn);
      this.#subscribers.set(s.name, fn);
    }
  }
}

function createTable(scope: Construct, props: TaskRunnerProps, removalPolicy: RemovalPolicy): dynamodb.Table {
  return new dynamodb.Table(scope, 'Table', {
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    removalPolicy,
    ...props.tableProps,
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    timeToLiveAttribute: 'ttl',
  });
}

function createEventsDeadLetterQueue(scope: Construct): sqs.Queue {
  const queue = new sqs.Queue(scope, 'EventsDlq', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    maxMessageSizeBytes: MAX_MESSAGE_BYTES,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions::AwsSolutions-SQS3',
    reason:
      'This queue is itself a dead-letter queue: of EventBridge rule targets, EventBridge Scheduler targets and subscriber async invocations. cdk-nag only recognises DLQs named in SQS redrive policies or Lambda DeadLetterConfig.',
  });
  return queue;
}

/** The worker function props of a queue: the app-wide ones, this queue's over them (environment merged). */
function workerFunctionProps(props: TaskRunnerProps, queue: string): WorkerFunctionProps {
  return consolidateProps<WorkerFunctionProps>({}, props.workerFunctionProps, props.queueOverrides?.[queue]?.workerFunctionProps ?? {});
}

/**
 * Where the worker's and each built subscriber's code come from, entries resolved against the
 * user's project (never this package) and the lock file found only when something is bundled.
 */
function codeSources(
  topology: Topology,
  props: TaskRunnerProps,
): { worker: FunctionCodeSource; subscribers: Map<string, FunctionCodeSource> } {
  const projectRoot = path.resolve(props.projectRoot ?? process.cwd());
  const bundles =
    !props.workerCode || topology.subscribers.some((s) => !props.subscriberCode?.[s.name] && !props.existingSubscriberFunctions?.[s.name]);
  const depsLockFilePath = bundles ? resolveLockFile(projectRoot, props.depsLockFilePath) : undefined;
  const bundled = (entry: string): FunctionCodeSource => ({ entry, projectRoot, ...(depsLockFilePath ? { depsLockFilePath } : {}) });
  const worker = props.workerCode
    ? { code: props.workerCode }
    : bundled(resolveEntry(projectRoot, props.workerEntry as string, 'workerEntry'));
  const subscribers = new Map<string, FunctionCodeSource>();
  for (const s of topology.subscribers) {
    if (props.existingSubscriberFunctions?.[s.name]) continue;
    const code = props.subscriberCode?.[s.name];
    subscribers.set(s.name, code ? { code } : bundled(resolveEntry(projectRoot, s.entry as string, `the entry of subscriber "${s.name}"`)));
  }
  return { worker, subscribers };
}

/** Environment keys the construct sets, refused from the user. */
function reservedKeys(env: Readonly<Record<string, string>> | undefined): string[] {
  return Object.keys(env ?? {}).filter((k) => k.startsWith('CELERIAC_') || k === 'NODE_OPTIONS');
}

function validateProps(props: TaskRunnerProps): void {
  if (props.existingTable && props.tableProps) {
    throw new Error('TaskRunner: pass either existingTable or tableProps, not both (tableProps configure a table this construct creates)');
  }
  if (props.payloadBucket === false && (props.existingPayloadBucket || props.payloadBucketProps)) {
    throw new Error('TaskRunner: payloadBucket is false, so existingPayloadBucket and payloadBucketProps have no bucket to apply to');
  }
  if (props.existingBus && props.busProps) {
    throw new Error('TaskRunner: pass either existingBus or busProps, not both (busProps configure a bus this construct creates)');
  }
  const environments: [string, Readonly<Record<string, string>> | undefined][] = [
    ['environment', props.environment],
    ['workerFunctionProps.environment', props.workerFunctionProps?.environment],
    ...Object.entries(props.queueOverrides ?? {}).map(([q, o]): [string, Readonly<Record<string, string>> | undefined] => [
      `queueOverrides.${q}.workerFunctionProps.environment`,
      o.workerFunctionProps?.environment,
    ]),
  ];
  for (const [what, env] of environments) {
    const reserved = reservedKeys(env);
    if (reserved.length > 0) {
      throw new Error(`TaskRunner: ${what} must not set ${reserved.join(', ')}: the construct sets them from the topology`);
    }
  }
  if (props.workerEntry === undefined && props.workerCode === undefined) {
    throw new Error(
      "TaskRunner: workerEntry is required: the path of your worker module (e.g. 'src/worker.ts', exporting `handler = createWorker(app)`), relative to projectRoot (default: the directory cdk synth runs in); or pass prebuilt workerCode",
    );
  }
  if (props.workerEntry !== undefined && props.workerCode !== undefined) {
    throw new Error('TaskRunner: pass either workerEntry or workerCode, not both');
  }
  checkOldestMessageAgeThreshold(props.oldestMessageAgeThreshold, 'TaskRunner');
}

function validateSubscriberSources(topology: Topology, props: TaskRunnerProps): void {
  const names = new Set(topology.subscribers.map((s) => s.name));
  for (const [what, map] of [
    ['subscriberCode', props.subscriberCode],
    ['existingSubscriberFunctions', props.existingSubscriberFunctions],
  ] as const) {
    for (const name of Object.keys(map ?? {})) {
      if (!names.has(name)) {
        throw new Error(
          `TaskRunner: ${what} names subscriber "${name}", which the topology does not declare (subscribers: ${[...names].join(', ') || 'none'})`,
        );
      }
    }
  }
  for (const s of topology.subscribers) {
    const code = props.subscriberCode?.[s.name];
    const fn = props.existingSubscriberFunctions?.[s.name];
    if (code && fn) throw new Error(`TaskRunner: subscriber "${s.name}" has both subscriberCode and an existing function; pass one`);
    if (!code && !fn && s.entry === undefined) {
      throw new Error(`TaskRunner: subscriber "${s.name}" has no entry in the topology, no subscriberCode and no existing function`);
    }
  }
}

/** An entry of the user's project, absolute; refused at synth time, with its path, when missing. */
function resolveEntry(projectRoot: string, entry: string, what: string): string {
  const abs = path.resolve(projectRoot, entry);
  if (!existsSync(abs)) {
    throw new Error(`TaskRunner: ${what} ${entry} not found (resolved against projectRoot ${projectRoot} to ${abs})`);
  }
  return abs;
}

/**
 * Finds the lock file of the project in `projectRoot` (the first of {@link LOCK_FILES}), or
 * `undefined`. Bundling installs the dependencies it leaves external from this lock file.
 */
export function findLockFile(projectRoot: string): string | undefined {
  return LOCK_FILES.map((f) => path.join(projectRoot, f)).find((f) => existsSync(f));
}

function resolveLockFile(projectRoot: string, given: string | undefined): string {
  if (given !== undefined) {
    const abs = path.resolve(projectRoot, given);
    if (!existsSync(abs)) throw new Error(`TaskRunner: depsLockFilePath ${given} not found (resolved to ${abs})`);
    return abs;
  }
  const found = findLockFile(projectRoot);
  if (!found) {
    throw new Error(
      `TaskRunner: no lock file in projectRoot ${projectRoot} (looked for ${LOCK_FILES.join(', ')}); run your package manager's install there, or pass projectRoot / depsLockFilePath`,
    );
  }
  return found;
}

/**
 * Applies the CDK-typed queue settings to the topology (`queueOverrides`, and the timeout and
 * memory of `workerFunctionProps`), so `buildTopology` validates the result once.
 */
function withOverrides(input: AppTopologyInput, props: TaskRunnerProps): AppTopologyInput {
  const overrides = props.queueOverrides ?? {};
  const known = new Set([...(input.queues ?? []).map((q) => q.name), ...(input.tasks ?? []).map((t) => t.queue)]);
  const unknown = Object.keys(overrides).filter((q) => !known.has(q));
  if (unknown.length > 0) {
    throw new Error(
      `TaskRunner: queueOverrides names unknown queue ${unknown.map((q) => `"${q}"`).join(', ')} (queues: ${[...known].join(', ')})`,
    );
  }
  const declared = new Set((input.queues ?? []).map((q) => q.name));
  const queues = [...(input.queues ?? []), ...[...known].filter((q) => !declared.has(q)).map((name) => ({ name }))];
  return {
    ...input,
    queues: queues.map((q) => {
      const fn = workerFunctionProps(props, q.name);
      const o: QueueOverrides = { functionTimeout: fn.timeout, memorySize: fn.memorySize, ...withoutUndefined(overrides[q.name]) };
      return {
        ...q,
        ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
        ...(o.maxBatchingWindow !== undefined ? { maxBatchingWindowSeconds: o.maxBatchingWindow.toSeconds() } : {}),
        ...(o.maxConcurrency !== undefined ? { maxConcurrency: o.maxConcurrency } : {}),
        ...(o.functionTimeout !== undefined ? { functionTimeoutSeconds: o.functionTimeout.toSeconds() } : {}),
        ...(o.visibilityTimeout !== undefined ? { visibilityTimeoutSeconds: o.visibilityTimeout.toSeconds() } : {}),
        ...(o.maxReceiveCount !== undefined ? { maxReceiveCount: o.maxReceiveCount } : {}),
        ...(o.memorySize !== undefined ? { memoryMb: o.memorySize } : {}),
      };
    }),
  };
}

function withoutUndefined<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Refuses, at synth time, an environment Lambda would refuse at deploy time (4 KB in total). */
function checkEnvironmentSize(env: Readonly<Record<string, string>>, queueCount: number): void {
  let bytes = 0;
  for (const [k, v] of Object.entries(env)) {
    if (k === ENV.queueUrls || k === ENV.dlqUrls) continue;
    bytes += k.length + (Token.isUnresolved(v) ? 140 : Buffer.byteLength(v));
  }
  const urlMaps = 2 * (ENV.queueUrls.length + 2 + queueCount * (QUEUE_URL_ESTIMATE + 70));
  if (bytes + urlMaps > LAMBDA_ENV_LIMIT_BYTES) {
    throw new Error(
      `TaskRunner: with ${queueCount} queues the functions' environment (queue and DLQ URL maps) would exceed Lambda's ${LAMBDA_ENV_LIMIT_BYTES}-byte limit (estimated ${bytes + urlMaps} bytes); use fewer queues or fewer extra environment variables`,
    );
  }
}

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_RESULT_TTL_SECONDS, ENV } from '../lib/config';
import {
  type AppTopologyInput,
  buildTopology,
  type EventPattern,
  type InputTransformer,
  type QueueInfo,
  type Topology,
} from '../lib/routing';

/** The lock files esbuild's bundling accepts, in the order they are looked for. */
export const LOCK_FILES = ['package-lock.json', 'yarn.lock', 'pnpm-lock.yaml', 'bun.lockb', 'bun.lock'] as const;

/** SQS's maximum message size; set explicitly because older queues default to 256 KiB. */
export const MAX_MESSAGE_BYTES = 1_048_576;
/** EventBridge refuses a rule with more targets than this. */
export const MAX_TARGETS_PER_RULE = 5;
/** Lambda refuses a function whose environment variables total more than this many bytes. */
const LAMBDA_ENV_LIMIT_BYTES = 4_096;
/** Upper estimate of a generated SQS queue URL's length (the token is unresolved at synth time). */
const QUEUE_URL_ESTIMATE = 130;

/**
 * MaximumConcurrency of a worker's event source mapping when the queue sets none. Without a cap,
 * the SQS poller scales past the concurrency Lambda can give the function; the throttled batches
 * still count as receives, and messages reach the DLQ without ever running (an AWS pitfall).
 * Keep a queue's cap at or below the function's reserved (or the account's free) concurrency.
 */
export const DEFAULT_MAX_CONCURRENCY = 10;

/** Per-queue settings that override the app's topology, in CDK types. */
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
}

/** Properties of a {@link TaskRunner}. */
export interface TaskRunnerProps {
  /** The app's topology: `app.topology()`, or a literal. Validated with `buildTopology`. */
  readonly topology: AppTopologyInput;
  /** Overrides of queue settings, by logical queue name. @default - the topology's settings */
  readonly queueOverrides?: Readonly<Record<string, QueueOverrides>>;
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
  /** esbuild options, merged over the defaults (ESM, minified, source maps, SDK bundled). */
  readonly bundling?: nodejs.BundlingOptions;
  /** An existing results table (partition key `pk` string, TTL attribute `ttl`). @default - a new table */
  readonly existingTable?: dynamodb.ITable;
  /** Props of the new table; the key schema and TTL attribute are celeriac's and cannot be changed. @default - on-demand, PITR on */
  readonly tableProps?: Omit<dynamodb.TableProps, 'partitionKey' | 'sortKey' | 'timeToLiveAttribute'>;
  /** Removal policy of the stateful resources this construct creates: table, log groups, schedule group. @default RemovalPolicy.RETAIN */
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
}

/** The resources of one logical queue. */
export interface TaskQueueResources {
  readonly settings: QueueInfo;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly worker: nodejs.NodejsFunction;
}

/**
 * Runs a celeriac app on AWS: per logical queue an SQS queue with its DLQ and a worker Lambda fed
 * by an SQS event source; one DynamoDB table for results and workflow state; one EventBridge bus
 * for lifecycle events, with a rule per static link, error link and subscriber; an EventBridge
 * Scheduler group with one schedule per periodic task; alarms and a dashboard.
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
  readonly bus: events.IEventBus;
  readonly scheduleGroup: scheduler.ScheduleGroup;
  /** The role EventBridge Scheduler assumes to send to the app's queues. */
  readonly schedulerRole: iam.Role;
  /** Events EventBridge or Scheduler could not deliver, and subscriber invocations that kept failing. */
  readonly eventsDeadLetterQueue: sqs.Queue;
  readonly alarms: readonly cloudwatch.Alarm[];
  readonly dashboard: cloudwatch.Dashboard | undefined;
  /** The environment every function gets (the CELERIAC_* keys of lib/config plus `environment`). */
  readonly environment: Readonly<Record<string, string>>;

  readonly #queues = new Map<string, TaskQueueResources>();
  readonly #rules = new Map<string, { rule: events.Rule; targets: number }>();
  readonly #subscribers = new Map<string, lambda.IFunction>();
  readonly #schedules = new Map<string, scheduler.Schedule>();

  constructor(scope: Construct, id: string, props: TaskRunnerProps) {
    super(scope, id);
    validateProps(props);
    this.topology = buildTopology(withOverrides(props.topology, props.queueOverrides ?? {}));
    const topology = this.topology;
    validateSubscriberSources(topology, props);

    const stateful = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // Never a default inside this package: entries and lock file are the user's project's.
    const projectRoot = path.resolve(props.projectRoot ?? process.cwd());
    const bundles =
      !props.workerCode ||
      topology.subscribers.some((s) => !props.subscriberCode?.[s.name] && !props.existingSubscriberFunctions?.[s.name]);
    const depsLockFilePath = bundles ? resolveLockFile(projectRoot, props.depsLockFilePath) : undefined;
    const deliveryRetry = {
      retryAttempts: props.deliveryRetryAttempts ?? 8,
      maxEventAge: props.deliveryMaxEventAge ?? Duration.hours(24),
    };

    // ── storage and bus ──────────────────────────────────────────────────────────────────
    this.table =
      props.existingTable ??
      new dynamodb.Table(this, 'Table', {
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        removalPolicy: stateful,
        ...props.tableProps,
        partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
        timeToLiveAttribute: 'ttl',
      });
    this.bus = props.existingBus ?? new events.EventBus(this, 'Bus', props.busProps);

    this.eventsDeadLetterQueue = new sqs.Queue(this, 'EventsDlq', {
      ...secureQueueProps(),
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.eventsDeadLetterQueue).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter queue: of EventBridge rule targets, EventBridge Scheduler targets and subscriber async invocations. cdk-nag only recognises DLQs named in SQS redrive policies or Lambda DeadLetterConfig.',
    });

    // ── queues ───────────────────────────────────────────────────────────────────────────
    const queuesScope = new Construct(this, 'Queues');
    const pending = new Map<string, Omit<TaskQueueResources, 'worker'>>();
    for (const q of topology.queues) {
      const scope = new Construct(queuesScope, q.name);
      const deadLetterQueue = new sqs.Queue(scope, 'Dlq', { ...secureQueueProps(), retentionPeriod: Duration.days(14) });
      const queue = new sqs.Queue(scope, 'Queue', {
        ...secureQueueProps(),
        visibilityTimeout: Duration.seconds(q.visibilityTimeoutSeconds),
        deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: q.maxReceiveCount },
      });
      pending.set(q.name, { settings: q, queue, deadLetterQueue });
    }

    // ── scheduler ────────────────────────────────────────────────────────────────────────
    this.scheduleGroup = new scheduler.ScheduleGroup(this, 'Schedules', { removalPolicy: stateful });
    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: `EventBridge Scheduler sends to the SQS queues of celeriac app ${topology.app}`,
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        // Confused-deputy guard: only schedules of this account's group may use the role.
        conditions: {
          StringEquals: { 'aws:SourceAccount': Stack.of(this).account, 'aws:SourceArn': this.scheduleGroup.scheduleGroupArn },
        },
      }),
    });
    for (const { queue } of pending.values()) queue.grant(this.schedulerRole, 'sqs:SendMessage');

    // ── environment ──────────────────────────────────────────────────────────────────────
    const stack = Stack.of(this);
    const urls = (pick: (r: Omit<TaskQueueResources, 'worker'>) => sqs.IQueue): string =>
      stack.toJsonString(Object.fromEntries([...pending].map(([name, r]) => [name, pick(r).queueUrl])));
    this.environment = {
      ...props.environment,
      [ENV.app]: topology.app,
      [ENV.table]: this.table.tableName,
      [ENV.bus]: this.bus.eventBusName,
      [ENV.queueUrls]: urls((r) => r.queue),
      [ENV.dlqUrls]: urls((r) => r.deadLetterQueue),
      [ENV.events]: topology.eventsEnabled ? 'on' : 'off',
      [ENV.resultTtl]: String((props.resultTtl ?? Duration.seconds(DEFAULT_RESULT_TTL_SECONDS)).toSeconds()),
      [ENV.schedulerGroup]: this.scheduleGroup.scheduleGroupName,
      [ENV.schedulerRoleArn]: this.schedulerRole.roleArn,
      // Stack traces point into the TypeScript sources (the bundle ships its source map).
      NODE_OPTIONS: '--enable-source-maps',
    };
    checkEnvironmentSize(this.environment, topology.queues.length);

    const functionDefaults = (
      name: string,
      scope: Construct,
    ): Pick<
      nodejs.NodejsFunctionProps,
      'runtime' | 'architecture' | 'role' | 'logGroup' | 'environment' | 'projectRoot' | 'depsLockFilePath' | 'bundling'
    > => {
      const role = new iam.Role(scope, 'Role', {
        description: `celeriac ${topology.app}: ${name}`,
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      });
      const logGroup = new logs.LogGroup(scope, 'Logs', {
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
        removalPolicy: stateful,
      });
      // Instead of the AWSLambdaBasicExecutionRole managed policy: write to this group only.
      logGroup.grantWrite(role);
      return {
        // nodejs24.x: the newest Node runtime this CDK knows, pinned (not NODEJS_LATEST) so a CDK
        // upgrade never changes the runtime of a deployed worker unannounced.
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        role,
        logGroup,
        environment: { ...this.environment },
        projectRoot,
        ...(depsLockFilePath ? { depsLockFilePath } : {}),
        bundling: {
          // ESM, as the sources are ("type": "module", import.meta); preferring dependencies' ESM
          // builds lets esbuild tree-shake them.
          format: nodejs.OutputFormat.ESM,
          mainFields: ['module', 'main'],
          // An ES module has no `require`, but bundled CommonJS dependencies still call it.
          banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
          minify: true,
          sourceMap: true,
          // SDK choice: bundle the AWS SDK v3 clients rather than use the runtime's copy. The
          // runtime's SDK version moves with Lambda's releases, not our lockfile, so tests and
          // production would run different clients (endpoint and checksum defaults have changed
          // between minor versions); minified and tree-shaken, the three clients add little to
          // cold start.
          bundleAwsSDK: true,
          ...props.bundling,
        },
      };
    };

    // ── workers ──────────────────────────────────────────────────────────────────────────
    const workerEntry = props.workerEntry === undefined ? undefined : resolveEntry(projectRoot, props.workerEntry, 'workerEntry');
    for (const [name, r] of pending) {
      const q = r.settings;
      const scope = r.queue.node.scope as Construct;
      const worker = new nodejs.NodejsFunction(scope, 'Worker', {
        ...functionDefaults(`worker of queue ${name}`, scope),
        description: `celeriac ${topology.app}: worker of queue ${name}`,
        ...(props.workerCode ? { code: props.workerCode, handler: 'index.handler' } : { entry: workerEntry as string, handler: 'handler' }),
        timeout: Duration.seconds(q.functionTimeoutSeconds),
        memorySize: q.memoryMb,
      });
      worker.addEventSource(
        new SqsEventSource(r.queue, {
          batchSize: q.batchSize,
          maxBatchingWindow: Duration.seconds(q.maxBatchingWindowSeconds),
          reportBatchItemFailures: true,
          maxConcurrency: q.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
        }),
      );
      this.#queues.set(name, { ...r, worker });
    }

    for (const { worker } of this.#queues.values()) this.#grantRuntime(worker);

    // ── subscribers ──────────────────────────────────────────────────────────────────────
    const subscribersScope = new Construct(this, 'Subscribers');
    for (const s of topology.subscribers) {
      const existing = props.existingSubscriberFunctions?.[s.name];
      if (existing) {
        this.#subscribers.set(s.name, existing);
        continue;
      }
      const scope = new Construct(subscribersScope, s.name);
      const code = props.subscriberCode?.[s.name];
      const fn = new nodejs.NodejsFunction(scope, 'Function', {
        ...functionDefaults(`subscriber ${s.name}`, scope),
        description: `celeriac ${topology.app}: subscriber ${s.name}`,
        ...(code
          ? { code, handler: 'index.handler' }
          : { entry: resolveEntry(projectRoot, s.entry as string, `the entry of subscriber "${s.name}"`), handler: 'handler' }),
        timeout: Duration.seconds(30),
        // EventBridge invokes asynchronously: after Lambda's own retries, keep the event.
        retryAttempts: 2,
        deadLetterQueue: this.eventsDeadLetterQueue,
      });
      this.#subscribers.set(s.name, fn);
    }

    // ── rules: static links, error links, subscribers ────────────────────────────────────
    const rulesScope = new Construct(this, 'Rules');
    for (const r of topology.rules) {
      const rule = new events.Rule(rulesScope, r.name, {
        eventBus: this.bus,
        description: r.description,
        eventPattern: toCdkEventPattern(r.eventPattern),
      });
      const target =
        r.target.kind === 'queue'
          ? new eventTargets.SqsQueue(this.queue(r.target.queue), {
              ...(r.inputTransformer ? { message: new TransformerInput(r.inputTransformer) } : {}),
              deadLetterQueue: this.eventsDeadLetterQueue,
              ...deliveryRetry,
            })
          : new eventTargets.LambdaFunction(this.subscriberFunction(r.target.subscriber), {
              deadLetterQueue: this.eventsDeadLetterQueue,
              ...deliveryRetry,
            });
      rule.addTarget(target);
      this.#rules.set(r.name, { rule, targets: 1 });
    }

    // ── periodic tasks ───────────────────────────────────────────────────────────────────
    const schedulesScope = new Construct(this, 'Periodic');
    for (const p of topology.periodic) {
      const schedule = new scheduler.Schedule(schedulesScope, p.name, {
        description: `celeriac ${topology.app}: periodic task ${p.name} calls ${p.task}`,
        scheduleGroup: this.scheduleGroup,
        schedule: scheduler.ScheduleExpression.expression(p.schedule),
        target: new schedulerTargets.SqsSendMessage(this.queue(p.queue), {
          role: this.schedulerRole,
          input: scheduler.ScheduleTargetInput.fromText(p.input),
          deadLetterQueue: this.eventsDeadLetterQueue,
          ...deliveryRetry,
        }),
      });
      this.#schedules.set(p.name, schedule);
    }

    // ── alarms and dashboard ─────────────────────────────────────────────────────────────
    this.alarms = this.#createAlarms(props);
    this.dashboard = props.dashboard === false ? undefined : this.#createDashboard();
  }

  /** The SQS queue of a logical queue. */
  queue(name: string): sqs.Queue {
    return this.#resources(name).queue;
  }

  /** The DLQ of a logical queue. */
  deadLetterQueue(name: string): sqs.Queue {
    return this.#resources(name).deadLetterQueue;
  }

  /** The worker function consuming a logical queue. */
  worker(name: string): nodejs.NodejsFunction {
    return this.#resources(name).worker;
  }

  /** All queues' resources, by logical queue name. */
  get queues(): ReadonlyMap<string, TaskQueueResources> {
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
    const r = this.#rules.get(name);
    if (!r) throw new Error(`TaskRunner: no rule "${name}" (rules: ${[...this.#rules.keys()].join(', ') || 'none'})`);
    return r.rule;
  }

  /** The schedule of a periodic task. */
  schedule(name: string): scheduler.Schedule {
    const s = this.#schedules.get(name);
    if (!s) throw new Error(`TaskRunner: no periodic task "${name}"`);
    return s;
  }

  /**
   * Adds a target to a topology rule (another consumer of a task's success, say), refusing a
   * sixth: EventBridge allows 5 targets per rule.
   */
  addRuleTarget(ruleName: string, target: events.IRuleTarget): void {
    const entry = this.#rules.get(ruleName);
    if (!entry) throw new Error(`TaskRunner: no rule "${ruleName}" (rules: ${[...this.#rules.keys()].join(', ') || 'none'})`);
    if (entry.targets >= MAX_TARGETS_PER_RULE) {
      throw new Error(
        `TaskRunner: rule "${ruleName}" already has ${entry.targets} targets; EventBridge allows at most ${MAX_TARGETS_PER_RULE} per rule`,
      );
    }
    entry.rule.addTarget(target);
    entry.targets += 1;
  }

  /**
   * Lets `grantee` call the app's tasks and read their results (a producer: an API handler, a
   * subscriber that calls tasks, the CLI's role): send to every queue, read and write the table,
   * and create delayed calls in the schedule group.
   */
  grantProducer(grantee: iam.IGrantable): void {
    for (const { queue } of this.#queues.values()) queue.grantSendMessages(grantee);
    this.table.grantReadWriteData(grantee);
    this.#grantScheduling(grantee);
  }

  #grantRuntime(worker: lambda.Function): void {
    this.grantProducer(worker);
    if (this.topology.eventsEnabled) this.bus.grantPutEventsTo(worker);
  }

  #grantScheduling(grantee: iam.IGrantable): void {
    // Countdowns past SQS's 15-minute delay become one-time schedules in this group.
    this.scheduleGroup.grantWriteSchedules(grantee);
    this.schedulerRole.grantPassRole(grantee.grantPrincipal);
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      const group = Stack.of(this).resolve(this.scheduleGroup.scheduleGroupName) as unknown;
      Validations.of(principal).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${typeof group === 'string' ? group : JSON.stringify(group)}/*]`,
        reason:
          "Delayed calls (countdown over 15 minutes) are one-time schedules with generated names, created at run time; the wildcard is scoped to this app's schedule group.",
      });
    }
  }

  #resources(name: string): TaskQueueResources {
    const r = this.#queues.get(name);
    if (!r) throw new Error(`TaskRunner: no queue "${name}" (queues: ${[...this.#queues.keys()].join(', ')})`);
    return r;
  }

  #createAlarms(props: TaskRunnerProps): cloudwatch.Alarm[] {
    const alarms: cloudwatch.Alarm[] = [];
    const ageThreshold = (props.oldestMessageAgeThreshold ?? Duration.minutes(15)).toSeconds();
    const add = (scope: Construct, id: string, metric: cloudwatch.IMetric, threshold: number, description: string): void => {
      const alarm = new cloudwatch.Alarm(scope, id, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: `celeriac ${this.topology.app}: ${description}`,
      });
      for (const action of props.alarmActions ?? []) alarm.addAlarmAction(action);
      alarms.push(alarm);
    };
    const minute = { period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM };
    const fiveMinutesSum = { period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM };
    for (const [name, r] of this.#queues) {
      const scope = r.queue.node.scope as Construct;
      add(
        scope,
        'DlqNotEmptyAlarm',
        r.deadLetterQueue.metricApproximateNumberOfMessagesVisible(minute),
        1,
        `messages in the DLQ of queue ${name}`,
      );
      add(
        scope,
        'OldestMessageAlarm',
        r.queue.metricApproximateAgeOfOldestMessage(minute),
        ageThreshold,
        `the oldest message in queue ${name} is ${ageThreshold} s old or more`,
      );
      add(
        scope,
        'WorkerErrorsAlarm',
        r.worker.metricErrors(fiveMinutesSum),
        1,
        `the worker of queue ${name} failed (a whole batch errored)`,
      );
      add(scope, 'WorkerThrottlesAlarm', r.worker.metricThrottles(fiveMinutesSum), 1, `the worker of queue ${name} was throttled`);
    }
    add(
      this,
      'EventsDlqNotEmptyAlarm',
      this.eventsDeadLetterQueue.metricApproximateNumberOfMessagesVisible(minute),
      1,
      'undelivered link / subscriber / periodic events in the events DLQ',
    );
    for (const [name, fn] of this.#subscribers) {
      if (!(fn instanceof lambda.Function)) continue;
      add(fn.node.scope as Construct, 'ErrorsAlarm', fn.metricErrors(fiveMinutesSum), 1, `subscriber ${name} failed`);
    }
    return alarms;
  }

  #createDashboard(): cloudwatch.Dashboard {
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard');
    const fiveMinutes = Duration.minutes(5);
    for (const [name, r] of this.#queues) {
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
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'events DLQ',
        left: [this.eventsDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: fiveMinutes })],
        width: 8,
      }),
      new cloudwatch.AlarmStatusWidget({ title: 'alarms', alarms: [...this.alarms], width: 16 }),
    );
    return dashboard;
  }
}

/** A topology rule's input transformer, passed to CloudFormation exactly as lib/routing wrote it. */
class TransformerInput extends events.RuleTargetInput {
  readonly #transformer: InputTransformer;

  constructor(transformer: InputTransformer) {
    super();
    this.#transformer = transformer;
  }

  override bind(_rule: events.IRule): events.RuleTargetInputProperties {
    return { inputPathsMap: { ...this.#transformer.inputPathsMap }, inputTemplate: this.#transformer.inputTemplate };
  }
}

function toCdkEventPattern(p: EventPattern): events.EventPattern {
  return {
    source: [...p.source],
    detailType: [...p['detail-type']],
    ...(p.detail ? { detail: { task: [...p.detail.task] } } : {}),
  };
}

function secureQueueProps(): sqs.QueueProps {
  return {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    maxMessageSizeBytes: MAX_MESSAGE_BYTES,
  };
}

function validateProps(props: TaskRunnerProps): void {
  if (props.existingTable && props.tableProps) {
    throw new Error('TaskRunner: pass either existingTable or tableProps, not both (tableProps configure a table this construct creates)');
  }
  if (props.existingBus && props.busProps) {
    throw new Error('TaskRunner: pass either existingBus or busProps, not both (busProps configure a bus this construct creates)');
  }
  const reserved = Object.keys(props.environment ?? {}).filter((k) => k.startsWith('CELERIAC_') || k === 'NODE_OPTIONS');
  if (reserved.length > 0) {
    throw new Error(`TaskRunner: environment must not set ${reserved.join(', ')}: the construct sets them from the topology`);
  }
  if (props.workerEntry === undefined && props.workerCode === undefined) {
    throw new Error(
      "TaskRunner: workerEntry is required: the path of your worker module (e.g. 'src/worker.ts', exporting `handler = createWorker(app)`), relative to projectRoot (default: the directory cdk synth runs in); or pass prebuilt workerCode",
    );
  }
  if (props.workerEntry !== undefined && props.workerCode !== undefined) {
    throw new Error('TaskRunner: pass either workerEntry or workerCode, not both');
  }
  const age = props.oldestMessageAgeThreshold?.toSeconds();
  if (age !== undefined && age < 1) throw new Error('TaskRunner: oldestMessageAgeThreshold must be at least 1 second');
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

/** Applies CDK-typed queue overrides to the topology, so `buildTopology` validates the result once. */
function withOverrides(input: AppTopologyInput, overrides: Readonly<Record<string, QueueOverrides>>): AppTopologyInput {
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
      const o = overrides[q.name];
      if (!o) return q;
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

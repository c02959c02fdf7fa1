import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_MAX_CONCURRENCY, findLockFile, MAX_MESSAGE_BYTES, TaskRunner, type TaskRunnerProps } from '../../cdk/task-runner';
import { ENV } from '../../lib/config';
import { type AppTopologyInput, buildTopology } from '../../lib/routing';
import { inlineCode, inlineRunner, resources, type Synth, shop, statementsOfRole, synth } from './helpers';

const getAtt = (id: string, attr = 'Arn') => ({ 'Fn::GetAtt': [id, attr] });
const ref = (id: string) => ({ Ref: id });

describe('TaskRunner: resources', () => {
  let s: Synth;
  let runner: TaskRunner;
  let ids: {
    queue: Record<string, string>;
    dlq: Record<string, string>;
    worker: Record<string, string>;
    workerRole: Record<string, string>;
    table: string;
    bucket: string;
    bus: string;
    eventsDlq: string;
    group: string;
    schedulerRole: string;
  };

  beforeAll(() => {
    s = synth();
    runner = s.stack.runner;
    const per = (f: (q: string) => { node: { defaultChild?: unknown } }) =>
      Object.fromEntries(['default', 'mail'].map((q) => [q, s.logicalId(f(q))]));
    ids = {
      queue: per((q) => runner.queue(q)),
      dlq: per((q) => runner.deadLetterQueue(q)),
      worker: per((q) => runner.worker(q)),
      workerRole: per((q) => runner.worker(q).role as iam.Role),
      table: s.logicalId(runner.table as dynamodb.Table),
      bucket: s.logicalId(runner.payloads?.bucket as never),
      bus: s.logicalId(runner.bus as events.EventBus),
      eventsDlq: s.logicalId(runner.eventsDeadLetterQueue),
      group: s.logicalId(runner.scheduleGroup),
      schedulerRole: s.logicalId(runner.schedulerRole),
    };
  });

  it('creates per queue: a queue and its DLQ, a worker, an SQS event source; plus one table, bus, schedule group', () => {
    const t = s.template;
    t.resourceCountIs('AWS::SQS::Queue', 2 * 2 + 1); // 2 queues + 2 DLQs + the events DLQ
    t.resourceCountIs('AWS::Lambda::EventSourceMapping', 2);
    t.resourceCountIs('AWS::Lambda::Function', 2 + 2); // 2 workers + 2 subscribers
    t.resourceCountIs('AWS::DynamoDB::Table', 1);
    t.resourceCountIs('AWS::Events::EventBus', 1);
    t.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    t.resourceCountIs('AWS::Scheduler::Schedule', 1);
    t.resourceCountIs('AWS::Events::Rule', 4);
  });

  it('queues: SSE on, 1 MiB messages, visibility 6× the function timeout, DLQ with the configured maxReceiveCount, SSL only', () => {
    const queues = resources(s.template, 'AWS::SQS::Queue');
    expect(queues[ids.queue.default as string]).toEqual({
      SqsManagedSseEnabled: true,
      MaximumMessageSize: MAX_MESSAGE_BYTES,
      VisibilityTimeout: 360,
      RedrivePolicy: { deadLetterTargetArn: getAtt(ids.dlq.default as string), maxReceiveCount: 3 },
    });
    expect(queues[ids.queue.mail as string]).toEqual({
      SqsManagedSseEnabled: true,
      MaximumMessageSize: 1_048_576,
      VisibilityTimeout: 180,
      RedrivePolicy: { deadLetterTargetArn: getAtt(ids.dlq.mail as string), maxReceiveCount: 5 },
    });
    for (const dlq of [ids.dlq.default, ids.dlq.mail, ids.eventsDlq]) {
      expect(queues[dlq as string]).toEqual({
        SqsManagedSseEnabled: true,
        MaximumMessageSize: 1_048_576,
        MessageRetentionPeriod: 1_209_600,
      });
    }
    for (const q of Object.keys(queues)) {
      s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [ref(q)],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('workers: NodejsFunction on nodejs24.x arm64, timeout and memory from the queue, the celeriac environment', () => {
    const fns = resources(s.template, 'AWS::Lambda::Function');
    const worker = fns[ids.worker.default as string] as Record<string, unknown>;
    expect(worker).toMatchObject({
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: 60,
      MemorySize: 512,
      Role: getAtt(ids.workerRole.default as string),
      LoggingConfig: { LogGroup: ref(s.logicalId(runner.worker('default').logGroup as never)) },
    });
    expect(fns[ids.worker.mail as string]).toMatchObject({ Timeout: 30, MemorySize: 1024 });
    const urlMap = (kind: 'queue' | 'dlq') => ({
      'Fn::Join': ['', ['{"default":"', ref(ids[kind].default as string), '","mail":"', ref(ids[kind].mail as string), '"}']],
    });
    expect((worker.Environment as { Variables: unknown }).Variables).toEqual({
      [ENV.app]: 'shop',
      [ENV.table]: ref(ids.table),
      [ENV.bus]: ref(ids.bus),
      [ENV.queueUrls]: urlMap('queue'),
      [ENV.dlqUrls]: urlMap('dlq'),
      [ENV.events]: 'on',
      [ENV.resultTtl]: '86400',
      [ENV.schedulerGroup]: s.stack.resolve(runner.scheduleGroup.scheduleGroupName),
      [ENV.schedulerRoleArn]: getAtt(ids.schedulerRole),
      [ENV.metricsNamespace]: 'celeriac/shop',
      [ENV.payloadBucket]: ref(ids.bucket),
      NODE_OPTIONS: '--enable-source-maps',
    });
    // Every function — both workers and subscribers — gets the same environment.
    for (const fn of Object.values(fns))
      expect((fn.Environment as { Variables: unknown }).Variables).toEqual((worker.Environment as { Variables: unknown }).Variables);
  });

  it('event sources: partial batch responses, batch size, batching window, max concurrency', () => {
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAtt(ids.queue.default as string),
      FunctionName: ref(ids.worker.default as string),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 5,
      MaximumBatchingWindowInSeconds: 2,
      ScalingConfig: { MaximumConcurrency: 20 },
    });
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAtt(ids.queue.mail as string),
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: 10,
      MaximumBatchingWindowInSeconds: 0,
      // A queue that sets no cap gets the default one (throttled receives would dead-letter messages).
      ScalingConfig: { MaximumConcurrency: DEFAULT_MAX_CONCURRENCY },
    });
  });

  it('the table: pk string partition key only, on demand, TTL on `ttl`, point-in-time recovery, retained by default', () => {
    s.template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('periodic tasks: one schedule in the group, sending a minimal call to the task queue with the scheduler role', () => {
    const topology = buildTopology(shop);
    const p = topology.periodic[0];
    s.template.hasResourceProperties('AWS::Scheduler::Schedule', {
      GroupName: s.stack.resolve(runner.scheduleGroup.scheduleGroupName),
      ScheduleExpression: 'cron(0 3 * * ? *)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: getAtt(ids.queue.default as string),
        RoleArn: getAtt(ids.schedulerRole),
        Input: p?.input,
        DeadLetterConfig: { Arn: getAtt(ids.eventsDlq) },
        RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86_400 },
      },
    });
    expect(JSON.parse(p?.input as string)).toEqual({ task: 'add', args: [1, 2] });
  });

  it('the scheduler role: assumable by EventBridge Scheduler for this group only; SendMessage on the app queues (and the events DLQ) only', () => {
    s.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: { StringEquals: { 'aws:SourceAccount': ref('AWS::AccountId'), 'aws:SourceArn': getAtt(ids.group) } },
          },
        ],
      },
    });
    // One SendMessage statement per queue the role may reach: the app's queues and the events DLQ (its schedules' DLQ).
    const statements = statementsOfRole(s.template, ids.schedulerRole);
    expect(statements).toEqual(
      expect.arrayContaining(
        [ids.queue.default as string, ids.queue.mail as string, ids.eventsDlq].map((q) => ({
          Action: 'sqs:SendMessage',
          Effect: 'Allow',
          Resource: getAtt(q),
        })),
      ),
    );
    expect(statements).toHaveLength(3);
  });

  it("links and error links: rules on the bus whose patterns and input transformers are exactly lib/routing's, targeting the linked task queue", () => {
    const topology = buildTopology(shop);
    const rules = Object.values(resources(s.template, 'AWS::Events::Rule'));
    for (const r of topology.rules.filter((x) => x.target.kind === 'queue')) {
      const rule = rules.find((x) => x.Description === r.description);
      expect(rule, r.name).toBeDefined();
      expect(rule?.EventBusName).toEqual(ref(ids.bus));
      expect(rule?.EventPattern).toEqual(r.eventPattern);
      const queue = r.target.kind === 'queue' ? r.target.queue : '';
      expect(rule?.Targets).toEqual([
        {
          Id: 'Target0',
          Arn: getAtt(ids.queue[queue] as string),
          InputTransformer: { InputPathsMap: r.inputTransformer?.inputPathsMap, InputTemplate: r.inputTransformer?.inputTemplate },
          DeadLetterConfig: { Arn: getAtt(ids.eventsDlq) },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86_400 },
        },
      ]);
    }
    // notify lives on `mail`; refund on `default`.
    expect(topology.rules.map((r) => r.target)).toEqual(
      expect.arrayContaining([
        { kind: 'queue', queue: 'mail', task: 'notify' },
        { kind: 'queue', queue: 'default', task: 'refund' },
      ]),
    );
  });

  it('EventBridge may send to a queue only from the rules targeting it', () => {
    const linkRule = s.logicalId(runner.rule('link-report-notify'));
    s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [ref(ids.queue.mail as string)],
      PolicyDocument: {
        Statement: Match.arrayWith([
          {
            Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
            Condition: { ArnEquals: { 'aws:SourceArn': getAtt(linkRule) } },
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Resource: getAtt(ids.queue.mail as string),
          },
        ]),
      },
    });
  });

  it('subscribers: rules with a Lambda target, a retry policy and a DLQ; the postrun one matches every outcome', () => {
    const topology = buildTopology(shop);
    const rules = Object.values(resources(s.template, 'AWS::Events::Rule'));
    for (const r of topology.rules.filter((x) => x.target.kind === 'subscriber')) {
      const rule = rules.find((x) => x.Description === r.description);
      const name = r.target.kind === 'subscriber' ? r.target.subscriber : '';
      expect(rule?.EventPattern).toEqual(r.eventPattern);
      expect(rule?.Targets).toEqual([
        {
          Id: 'Target0',
          Arn: getAtt(s.logicalId(runner.subscriberFunction(name) as lambda.Function)),
          DeadLetterConfig: { Arn: getAtt(ids.eventsDlq) },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 86_400 },
        },
      ]);
    }
    expect(topology.rules.find((r) => r.name === 'subscriber-metrics')?.eventPattern).toEqual({
      source: ['celeriac.shop'],
      'detail-type': ['task-succeeded', 'task-failed', 'task-retried', 'task-revoked'],
    });
    // Lambda's own async retries end in the same DLQ.
    s.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'celeriac shop: subscriber metrics',
      DeadLetterConfig: { TargetArn: getAtt(ids.eventsDlq) },
    });
    s.template.resourcePropertiesCountIs('AWS::Lambda::EventInvokeConfig', { MaximumRetryAttempts: 2 }, 2);
    s.template.resourcePropertiesCountIs(
      'AWS::Lambda::Permission',
      { Principal: 'events.amazonaws.com', Action: 'lambda:InvokeFunction' },
      2,
    );
  });

  it("least privilege: a worker consumes its queue, sends to the app queues, reads/writes its table and its app's payloads, puts events on its bus — nothing else", () => {
    const statements = statementsOfRole(s.template, ids.workerRole.default as string);
    const send = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'];
    expect(statements).toEqual([
      {
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Effect: 'Allow',
        Resource: getAtt(s.logicalId(runner.worker('default').logGroup as never)),
      },
      {
        Action: ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
        Effect: 'Allow',
        Resource: getAtt(ids.queue.default as string),
      },
      { Action: send, Effect: 'Allow', Resource: getAtt(ids.queue.default as string) },
      { Action: send, Effect: 'Allow', Resource: getAtt(ids.queue.mail as string) },
      {
        Action: [
          'dynamodb:BatchGetItem',
          'dynamodb:BatchWriteItem',
          'dynamodb:ConditionCheckItem',
          'dynamodb:DeleteItem',
          'dynamodb:DescribeTable',
          'dynamodb:GetItem',
          'dynamodb:PutItem',
          'dynamodb:Query',
          'dynamodb:Scan',
          'dynamodb:UpdateItem',
        ],
        Effect: 'Allow',
        Resource: [getAtt(ids.table)],
      },
      // grantReadWriteData's stream reads, on the table's ARN: inert, as the table has no stream.
      { Action: ['dynamodb:GetRecords', 'dynamodb:GetShardIterator'], Effect: 'Allow', Resource: [getAtt(ids.table)] },
      {
        Action: [
          's3:Abort*',
          's3:DeleteObject*',
          's3:GetBucket*',
          's3:GetObject*',
          's3:List*',
          's3:PutObject',
          's3:PutObjectLegalHold',
          's3:PutObjectRetention',
          's3:PutObjectTagging',
          's3:PutObjectVersionTagging',
        ],
        Effect: 'Allow',
        // Objects only under the app's prefix (the bucket itself for listing).
        Resource: [getAtt(ids.bucket), { 'Fn::Join': ['', [getAtt(ids.bucket), '/shop/*']] }],
      },
      {
        Action: ['scheduler:CreateSchedule', 'scheduler:UpdateSchedule'],
        Effect: 'Allow',
        Resource: {
          'Fn::Join': [
            '',
            [
              'arn:',
              ref('AWS::Partition'),
              ':scheduler:',
              ref('AWS::Region'),
              ':',
              ref('AWS::AccountId'),
              `:schedule/${s.stack.resolve(runner.scheduleGroup.scheduleGroupName)}/*`,
            ],
          ],
        },
      },
      { Action: 'iam:PassRole', Effect: 'Allow', Resource: getAtt(ids.schedulerRole) },
      { Action: 'events:PutEvents', Effect: 'Allow', Resource: getAtt(ids.bus) },
    ]);
    // No managed policies (no AWSLambdaBasicExecutionRole with logs:* on every group).
    s.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 'lambda.amazonaws.com' } })] },
      ManagedPolicyArns: Match.absent(),
    });
    // Nothing on the DLQs, the events DLQ or Resource "*".
    const json = JSON.stringify(statements);
    for (const id of [ids.dlq.default, ids.dlq.mail, ids.eventsDlq]) expect(json).not.toContain(`"${id}"`);
    expect(json).not.toContain('"Resource":"*"');
  });

  it("subscribers get logs, their DLQ and reading their app's payloads, nothing else (grantProducer opts one in to calling tasks)", () => {
    const fn = runner.subscriberFunction('metrics') as lambda.Function;
    const statements = statementsOfRole(s.template, s.logicalId(fn.role as iam.Role));
    expect(statements).toEqual([
      { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: getAtt(s.logicalId(fn.logGroup as never)) },
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: getAtt(ids.eventsDlq) },
      {
        Action: ['s3:GetBucket*', 's3:GetObject*', 's3:List*'],
        Effect: 'Allow',
        Resource: [getAtt(ids.bucket), { 'Fn::Join': ['', [getAtt(ids.bucket), '/shop/*']] }],
      },
    ]);
  });

  it('alarms: DLQ not empty, oldest message age, worker errors and throttles per queue; events DLQ; subscriber errors', () => {
    const alarms = Object.values(resources(s.template, 'AWS::CloudWatch::Alarm'));
    expect(alarms).toHaveLength(2 * 4 + 1 + 2);
    const find = (metric: string, dimension: string) =>
      alarms.filter((a) => a.MetricName === metric && JSON.stringify(a.Dimensions).includes(`"${dimension}"`));
    for (const q of ['default', 'mail']) {
      expect(find('ApproximateNumberOfMessagesVisible', ids.dlq[q] as string)[0]).toMatchObject({
        Namespace: 'AWS/SQS',
        Statistic: 'Maximum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
      expect(find('ApproximateAgeOfOldestMessage', ids.queue[q] as string)[0]).toMatchObject({ Namespace: 'AWS/SQS', Threshold: 900 });
      expect(find('Errors', ids.worker[q] as string)[0]).toMatchObject({ Namespace: 'AWS/Lambda', Statistic: 'Sum', Threshold: 1 });
      expect(find('Throttles', ids.worker[q] as string)[0]).toMatchObject({ Namespace: 'AWS/Lambda', Statistic: 'Sum', Threshold: 1 });
    }
    expect(find('ApproximateNumberOfMessagesVisible', ids.eventsDlq)).toHaveLength(1);
    expect(runner.alarms).toHaveLength(alarms.length);
  });

  it('a dashboard', () => {
    s.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    expect(JSON.stringify(s.template.findResources('AWS::CloudWatch::Dashboard'))).toContain('age of oldest message');
  });

  it('task metrics: every worker writes them to celeriac/<app>, and the dashboard graphs them by task', () => {
    for (const q of ['default', 'mail']) {
      const fn = s.template.findResources('AWS::Lambda::Function')[ids.worker[q] as string];
      expect(fn?.Properties.Environment.Variables[ENV.metricsNamespace]).toBe(`celeriac/${runner.topology.app}`);
    }
    const body = JSON.stringify(s.template.findResources('AWS::CloudWatch::Dashboard'));
    const searches = body.match(/SEARCH\('[^']*'/g) ?? [];
    expect(searches.map((x) => x.match(/MetricName=\W*(\w+)/)?.[1])).toEqual([
      'TaskSucceeded',
      'TaskFailed',
      'TaskRetried',
      'TaskRevoked',
      'TaskRuntime',
      'QueueWait',
    ]);
    expect(body).toContain(`{celeriac/${runner.topology.app},service,task}`);
  });
});

describe('TaskRunner: props', () => {
  const build = (props: Partial<TaskRunnerProps> & { topology?: AppTopologyInput } = {}) => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const topology = props.topology ?? shop;
    const runner = new TaskRunner(stack, 'Runner', { ...inlineRunner(topology), ...props, topology });
    return { stack, runner, template: () => Template.fromStack(stack) };
  };

  it('metricsNamespace names where task metrics go, or switches them off', () => {
    const envOf = (t: Template) =>
      Object.values(t.findResources('AWS::Lambda::Function')).map((f) => f.Properties.Environment.Variables[ENV.metricsNamespace]);
    const named = build({ metricsNamespace: 'team/shop' });
    expect(new Set(envOf(named.template()))).toEqual(new Set(['team/shop']));
    const off = build({ metricsNamespace: false });
    expect(new Set(envOf(off.template()))).toEqual(new Set([undefined]));
    expect(JSON.stringify(off.template().findResources('AWS::CloudWatch::Dashboard'))).not.toContain('TaskSucceeded');
  });

  it('queue overrides in CDK types win over the topology', () => {
    const { template } = build({
      queueOverrides: {
        mail: { functionTimeout: Duration.minutes(2), visibilityTimeout: Duration.minutes(15), maxConcurrency: 5, batchSize: 1 },
      },
    });
    template().hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 900 });
    template().hasResourceProperties('AWS::Lambda::Function', { Description: 'celeriac shop: worker of queue mail', Timeout: 120 });
    template().hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 1, ScalingConfig: { MaximumConcurrency: 5 } });
  });

  it('existing table and bus: used, not created; grants and environment point at them', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const table = dynamodb.Table.fromTableName(stack, 'Ext', 'shared-results');
    const bus = events.EventBus.fromEventBusName(stack, 'ExtBus', 'shared-bus');
    const runner = new TaskRunner(stack, 'Runner', { ...inlineRunner(), topology: shop, existingTable: table, existingBus: bus });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::DynamoDB::Table', 0);
    t.resourceCountIs('AWS::Events::EventBus', 0);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.table]: 'shared-results', [ENV.bus]: 'shared-bus' }) },
    });
    t.hasResourceProperties('AWS::Events::Rule', { EventBusName: 'shared-bus' });
    const statements = JSON.stringify(statementsOfRole(t, stack.getLogicalId(runner.worker('default').role?.node.defaultChild as never)));
    expect(statements).toContain(':table/shared-results');
    expect(statements).toContain(':event-bus/shared-bus');
  });

  it('tableProps, busProps, removal policy, result TTL, extra environment, log retention', () => {
    const { template } = build({
      tableProps: { tableName: 'my-results', deletionProtection: true },
      busProps: { eventBusName: 'my-bus' },
      removalPolicy: RemovalPolicy.DESTROY,
      resultTtl: Duration.hours(2),
      environment: { TZ: 'UTC' },
    });
    template().hasResource('AWS::DynamoDB::Table', {
      Properties: { TableName: 'my-results', DeletionProtectionEnabled: true, KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] },
      DeletionPolicy: 'Delete',
    });
    template().hasResourceProperties('AWS::Events::EventBus', { Name: 'my-bus' });
    template().hasResource('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Delete' });
    template().hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ [ENV.resultTtl]: '7200', TZ: 'UTC' }) },
    });
  });

  it('events off for every task: no PutEvents grant, CELERIAC_EVENTS=off, no rules', () => {
    const quiet: AppTopologyInput = {
      app: 'quiet',
      tasks: [{ name: 't', queue: 'default', events: false }],
      links: [],
      subscribers: [],
      periodic: [],
      queues: [],
    };
    const { template } = build({ topology: quiet });
    template().resourceCountIs('AWS::Events::Rule', 0);
    template().hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ [ENV.events]: 'off' }) } });
    expect(JSON.stringify(template().findResources('AWS::IAM::Policy'))).not.toContain('events:PutEvents');
  });

  it('alarm actions apply to every alarm; the dashboard can be turned off', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const topic = new sns.Topic(stack, 'Ops');
    const runner = new TaskRunner(stack, 'Runner', {
      ...inlineRunner(),
      topology: shop,
      alarmActions: [new cloudwatchActions.SnsAction(topic)],
      oldestMessageAgeThreshold: Duration.minutes(5),
      dashboard: false,
    });
    const t = Template.fromStack(stack);
    const alarms = Object.values(resources(t, 'AWS::CloudWatch::Alarm'));
    expect(alarms.length).toBe(runner.alarms.length);
    for (const a of alarms) expect(a.AlarmActions).toEqual([ref(stack.getLogicalId(topic.node.defaultChild as never))]);
    expect(alarms.filter((a) => a.MetricName === 'ApproximateAgeOfOldestMessage').map((a) => a.Threshold)).toEqual([300, 300]);
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    expect(runner.dashboard).toBeUndefined();
  });

  it('existing subscriber functions are targeted as they are', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const fn = lambda.Function.fromFunctionArn(stack, 'Audit', 'arn:aws:lambda:us-east-1:123456789012:function:audit');
    const runner = new TaskRunner(stack, 'Runner', {
      workerCode: inlineCode(),
      subscriberCode: { failures: inlineCode() },
      existingSubscriberFunctions: { metrics: fn },
      topology: shop,
    });
    expect(runner.subscriberFunction('metrics')).toBe(fn);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::Lambda::Function', 3); // 2 workers + the failures subscriber
    t.hasResourceProperties('AWS::Events::Rule', {
      Description: 'celeriac shop: every outcome of every task to subscriber metrics',
      Targets: [Match.objectLike({ Arn: 'arn:aws:lambda:us-east-1:123456789012:function:audit' })],
    });
  });

  it('grantProducer: send to every queue, read/write the table, schedule delayed calls', () => {
    const { stack, runner, template } = build();
    const role = new iam.Role(stack, 'Api', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    runner.grantProducer(role);
    const statements = statementsOfRole(template(), stack.getLogicalId(role.node.defaultChild as never));
    const json = JSON.stringify(statements);
    for (const q of ['default', 'mail']) expect(json).toContain(stack.getLogicalId(runner.queue(q).node.defaultChild as never));
    expect(json).toContain('dynamodb:PutItem');
    expect(json).toContain('scheduler:CreateSchedule');
    expect(json).toContain('iam:PassRole');
    expect(json).not.toContain('sqs:ReceiveMessage');
    expect(json).not.toContain('events:PutEvents');
  });

  it("addRuleTarget adds up to EventBridge's 5 targets per rule, and refuses a sixth", () => {
    const { stack, runner, template } = build();
    const extra = new sqs.Queue(stack, 'Audit', { enforceSSL: true });
    for (let i = 0; i < 4; i++) runner.addRuleTarget('link-report-notify', new eventTargets.SqsQueue(extra));
    expect(() => runner.addRuleTarget('link-report-notify', new eventTargets.SqsQueue(extra))).toThrow(
      'TaskRunner: rule "link-report-notify" already has 5 targets; EventBridge allows at most 5 per rule',
    );
    expect(() => runner.addRuleTarget('nope', new eventTargets.SqsQueue(extra))).toThrow(/no rule "nope"/);
    template().hasResourceProperties('AWS::Events::Rule', {
      Description: Match.stringLikeRegexp('when report succeeds'),
      Targets: Match.arrayWith([Match.objectLike({ Id: 'Target4' })]),
    });
  });

  it('lookups name what exists when asked for what does not', () => {
    const { runner } = build();
    expect(() => runner.queue('nope')).toThrow('TaskRunner: no queue "nope" (queues: default, mail)');
    expect(() => runner.subscriberFunction('nope')).toThrow('TaskRunner: no subscriber "nope" (subscribers: metrics, failures)');
    expect(() => runner.schedule('nope')).toThrow('TaskRunner: no periodic task "nope"');
    expect(runner.schedule('nightly-total')).toBeDefined();
  });
});

describe('TaskRunner: validation', () => {
  const attempt = (props: Partial<TaskRunnerProps> & { topology?: AppTopologyInput }) => () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const topology = props.topology ?? shop;
    new TaskRunner(stack, 'Runner', { ...inlineRunner(topology), ...props, topology });
  };

  it('a visibility timeout shorter than 6× the function timeout', () => {
    expect(
      attempt({ queueOverrides: { default: { functionTimeout: Duration.minutes(5), visibilityTimeout: Duration.minutes(10) } } }),
    ).toThrow('queue "default": visibility timeout 600 s is shorter than 6 × the function timeout (300 s) = 1800 s');
  });

  it('a link to an unknown task, and duplicate names', () => {
    expect(attempt({ topology: { ...shop, links: [{ from: 'report', to: 'ghost', kind: 'success' }] } })).toThrow(
      'link report → ghost: unknown task "ghost"',
    );
    expect(attempt({ topology: { ...shop, tasks: [...shop.tasks, { name: 'add', queue: 'mail', events: true }] } })).toThrow(
      'task "add" is declared twice',
    );
  });

  it('both an existing resource and props for a new one', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const table = dynamodb.Table.fromTableName(stack, 'T', 't');
    const bus = events.EventBus.fromEventBusName(stack, 'B', 'b');
    expect(() => new TaskRunner(stack, 'R1', { ...inlineRunner(), topology: shop, existingTable: table, tableProps: {} })).toThrow(
      'TaskRunner: pass either existingTable or tableProps, not both',
    );
    expect(() => new TaskRunner(stack, 'R2', { ...inlineRunner(), topology: shop, existingBus: bus, busProps: {} })).toThrow(
      'TaskRunner: pass either existingBus or busProps, not both',
    );
  });

  it('overrides for a queue the topology does not have', () => {
    expect(attempt({ queueOverrides: { bulk: { batchSize: 1 } } })).toThrow(
      'TaskRunner: queueOverrides names unknown queue "bulk" (queues: default, mail)',
    );
  });

  it('environment variables the construct owns', () => {
    expect(attempt({ environment: { [ENV.table]: 'x', NODE_OPTIONS: '' } })).toThrow(
      'TaskRunner: environment must not set CELERIAC_TABLE, NODE_OPTIONS: the construct sets them from the topology',
    );
  });

  it('subscribers without code, or with code for a subscriber that does not exist', () => {
    expect(attempt({ subscriberCode: { metrics: inlineCode() } })).toThrow(
      'TaskRunner: subscriber "failures" has no entry in the topology, no subscriberCode and no existing function',
    );
    expect(attempt({ subscriberCode: { metrics: inlineCode(), failures: inlineCode(), audit: inlineCode() } })).toThrow(
      'TaskRunner: subscriberCode names subscriber "audit", which the topology does not declare (subscribers: metrics, failures)',
    );
  });

  it('an alarm threshold of zero', () => {
    expect(attempt({ oldestMessageAgeThreshold: Duration.seconds(0) })).toThrow(
      'TaskRunner: oldestMessageAgeThreshold must be at least 1 second',
    );
  });

  it('more queues than the 4 KB Lambda environment can list', () => {
    const many: AppTopologyInput = {
      ...shop,
      tasks: Array.from({ length: 12 }, (_, i) => ({ name: `t${i}`, queue: `queue-${i}`, events: true })),
      links: [],
      subscribers: [],
      periodic: [],
      queues: [],
    };
    expect(attempt({ topology: many })).toThrow(/with 12 queues the functions' environment .* would exceed Lambda's 4096-byte limit/);
  });
});

describe("TaskRunner: entries and lock file are the user project's, never the package's", () => {
  const single: AppTopologyInput = {
    app: 'mine',
    tasks: [{ name: 'ping', queue: 'default', events: true }],
    links: [],
    subscribers: [],
    periodic: [],
    queues: [],
  };
  let project: string;
  // No stack is bundled (bundling-stacks empty): these tests are about what the construct resolves.
  const runnerIn = (props: Omit<TaskRunnerProps, 'topology'>, topology: AppTopologyInput = single) =>
    new TaskRunner(new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S'), 'Runner', { topology, ...props });

  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), 'celeriac-project-'));
    mkdirSync(join(project, 'src'));
    writeFileSync(join(project, 'src', 'worker.ts'), 'export const handler = async () => ({ batchItemFailures: [] });\n');
    return () => rmSync(project, { recursive: true, force: true });
  });

  it('without workerEntry or workerCode the construct refuses, naming what to pass', () => {
    expect(() => runnerIn({ projectRoot: project })).toThrow(
      "TaskRunner: workerEntry is required: the path of your worker module (e.g. 'src/worker.ts', exporting `handler = createWorker(app)`), relative to projectRoot (default: the directory cdk synth runs in); or pass prebuilt workerCode",
    );
    expect(() => runnerIn({ workerEntry: 'src/worker.ts', workerCode: inlineCode() })).toThrow(
      'TaskRunner: pass either workerEntry or workerCode, not both',
    );
  });

  it('a missing worker or subscriber entry is refused with the path it resolved against projectRoot', () => {
    writeFileSync(join(project, 'package-lock.json'), '{}');
    try {
      expect(() => runnerIn({ projectRoot: project, workerEntry: 'functions/worker.ts' })).toThrow(
        `TaskRunner: workerEntry functions/worker.ts not found (resolved against projectRoot ${project} to ${join(project, 'functions', 'worker.ts')})`,
      );
      expect(() =>
        runnerIn(
          { projectRoot: project, workerCode: inlineCode() },
          { ...single, subscribers: [{ name: 'audit', entry: 'src/audit.ts' }] },
        ),
      ).toThrow(
        `TaskRunner: the entry of subscriber "audit" src/audit.ts not found (resolved against projectRoot ${project} to ${join(project, 'src', 'audit.ts')})`,
      );
    } finally {
      rmSync(join(project, 'package-lock.json'));
    }
  });

  it('bundling without a lock file in projectRoot is refused, listing the files looked for', () => {
    expect(() => runnerIn({ projectRoot: project, workerEntry: 'src/worker.ts' })).toThrow(
      `TaskRunner: no lock file in projectRoot ${project} (looked for package-lock.json, yarn.lock, pnpm-lock.yaml, bun.lockb, bun.lock); run your package manager's install there, or pass projectRoot / depsLockFilePath`,
    );
    expect(() => runnerIn({ projectRoot: project, workerEntry: 'src/worker.ts', depsLockFilePath: 'locks/npm.json' })).toThrow(
      `TaskRunner: depsLockFilePath locks/npm.json not found (resolved to ${join(project, 'locks', 'npm.json')})`,
    );
    // Prebuilt code bundles nothing, so it needs no lock file.
    expect(() => runnerIn({ projectRoot: project, workerCode: inlineCode() })).not.toThrow();
  });

  it('finds any of the lock files bundling accepts, and the default projectRoot is the working directory', () => {
    expect(findLockFile(project)).toBeUndefined();
    writeFileSync(join(project, 'pnpm-lock.yaml'), 'lockfileVersion: 9.0\n');
    try {
      expect(findLockFile(project)).toBe(join(project, 'pnpm-lock.yaml'));
      const cwd = process.cwd();
      // cdk synth runs in the user's project: src/worker.ts and the lock file exist only there,
      // and the repository (the default before) has neither src/worker.ts nor a pnpm lock.
      expect(() => runnerIn({ workerEntry: 'src/worker.ts' })).toThrow(/workerEntry src\/worker.ts not found/);
      process.chdir(project);
      try {
        expect(runnerIn({ workerEntry: 'src/worker.ts' }).worker('default')).toBeDefined();
      } finally {
        process.chdir(cwd);
      }
    } finally {
      rmSync(join(project, 'pnpm-lock.yaml'));
    }
  });
});

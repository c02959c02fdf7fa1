import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { TaskRunnerMonitoring } from '../../cdk/monitoring';
import { consolidateProps } from '../../cdk/props';
import { allowSchedulerToSend, createSchedulerAccess, grantLongDelays, PeriodicSchedules } from '../../cdk/schedules';
import { deliveryRetry, StaticRoutes } from '../../cdk/static-routes';
import { DEFAULT_MAX_CONCURRENCY, TaskQueue } from '../../cdk/task-queue';
import { TaskRunner } from '../../cdk/task-runner';
import { ENV } from '../../lib/config';
import { buildTopology } from '../../lib/routing';
import { inlineCode, inlineRunner, nagReport, resources, shop, statementsOfRole, synth } from './helpers';

const topology = buildTopology(shop);
const settings = (name: string) => topology.queues.find((q) => q.name === name) ?? topology.queues[0]!;
const getAtt = (id: string, attr = 'Arn') => ({ 'Fn::GetAtt': [id, attr] });

describe('consolidateProps: defaults, then the user, then what the construct requires', () => {
  it('the user overrides a default, a required setting overrides the user', () => {
    expect(consolidateProps<{ a?: number; b?: number; c?: number }>({ a: 1, b: 1 }, { b: 2, c: 2 }, { c: 3 })).toEqual({
      a: 1,
      b: 2,
      c: 3,
    });
  });

  it('environment merges key by key, the required keys winning; an explicit undefined erases no default', () => {
    const merged = consolidateProps<{ environment?: Record<string, string>; memorySize?: number }>(
      { environment: { A: 'default', B: 'default' }, memorySize: 128 },
      { environment: { B: 'user', C: 'user' }, memorySize: undefined },
      { environment: { C: 'required' } },
    );
    expect(merged).toEqual({ environment: { A: 'default', B: 'user', C: 'required' }, memorySize: 128 });
  });
});

describe('TaskQueue: a queue, its DLQ, a worker and the event source between them', () => {
  const make = (props: Partial<ConstructorParameters<typeof TaskQueue>[2]> = {}) => {
    const stack = new Stack(new App(), 'S');
    const q = new TaskQueue(stack, 'mail', {
      settings: settings('mail'),
      app: 'shop',
      code: { code: inlineCode() },
      environment: { [ENV.app]: 'shop' },
      ...props,
    });
    return { stack, q, t: Template.fromStack(stack) };
  };

  it('exposes the queue, the DLQ, the worker and the event source it creates, configured from the settings', () => {
    const { stack, q, t } = make();
    const id = (c: Construct) => stack.getLogicalId(c.node.defaultChild as never);
    t.resourceCountIs('AWS::SQS::Queue', 2);
    t.resourceCountIs('AWS::Lambda::Function', 1);
    expect(resources(t, 'AWS::SQS::Queue')[id(q.queue)]).toEqual({
      SqsManagedSseEnabled: true,
      MaximumMessageSize: 1_048_576,
      VisibilityTimeout: settings('mail').visibilityTimeoutSeconds,
      RedrivePolicy: { deadLetterTargetArn: getAtt(id(q.deadLetterQueue)), maxReceiveCount: settings('mail').maxReceiveCount },
    });
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'celeriac shop: worker of queue mail',
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Architectures: ['arm64'],
      Timeout: settings('mail').functionTimeoutSeconds,
      Environment: { Variables: { [ENV.app]: 'shop' } },
    });
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: getAtt(id(q.queue)),
      FunctionName: { Ref: id(q.worker) },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: DEFAULT_MAX_CONCURRENCY },
    });
    expect(q.eventSource.eventSourceMappingId).toBeDefined();
    // The worker consumes its own queue; the DLQ is not its to touch.
    const statements = JSON.stringify(statementsOfRole(t, id(q.worker.role as iam.Role)));
    expect(statements).toContain('sqs:ReceiveMessage');
    expect(statements).not.toContain(id(q.deadLetterQueue));
  });

  it('its environment wins over workerFunctionProps.environment, which adds its own keys', () => {
    const { t } = make({ workerFunctionProps: { environment: { [ENV.app]: 'other', TZ: 'UTC' } } });
    t.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { [ENV.app]: 'shop', TZ: 'UTC' } } });
  });

  it('a KMS-encrypted queue: the worker may decrypt what it consumes', () => {
    const stack = new Stack(new App(), 'S');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const q = new TaskQueue(stack, 'mail', {
      settings: settings('mail'),
      app: 'shop',
      code: { code: inlineCode() },
      environment: {},
      queueProps: { encryptionMasterKey: key },
    });
    const t = Template.fromStack(stack);
    expect(statementsOfRole(t, stack.getLogicalId(q.worker.role?.node.defaultChild as never))).toContainEqual({
      Action: 'kms:Decrypt',
      Effect: 'Allow',
      Resource: getAtt(stack.getLogicalId(key.node.defaultChild as never)),
    });
  });
});

describe('StaticRoutes: the topology rules on a bus', () => {
  const make = (retry: { retryAttempts?: number } = {}) => {
    const stack = new Stack(new App(), 'S');
    const bus = new events.EventBus(stack, 'Bus');
    const dlq = new sqs.Queue(stack, 'Dlq', { enforceSSL: true });
    const queues = new Map(topology.queues.map((q) => [q.name, new sqs.Queue(stack, `Q${q.name}`, { enforceSSL: true })]));
    const subscribers = new Map(
      topology.subscribers.map((s) => [
        s.name,
        lambda.Function.fromFunctionArn(stack, `F${s.name}`, `arn:aws:lambda:us-east-1:123456789012:function:${s.name}`),
      ]),
    );
    const routes = new StaticRoutes(stack, 'Rules', {
      rules: topology.rules,
      bus,
      queues,
      subscribers,
      deadLetterQueue: dlq,
      retryAttempts: 3,
      ...retry,
    });
    return { stack, routes, dlq, queues };
  };

  it('creates one rule per topology rule, each with one target that retries, then dead-letters', () => {
    const { stack, routes, dlq } = make();
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::Events::Rule', topology.rules.length);
    expect([...routes.rules.keys()]).toEqual(topology.rules.map((r) => r.name));
    for (const rule of Object.values(resources(t, 'AWS::Events::Rule'))) {
      expect(rule.Targets).toEqual([
        expect.objectContaining({
          DeadLetterConfig: { Arn: getAtt(stack.getLogicalId(dlq.node.defaultChild as never)) },
          RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 86_400 },
        }),
      ]);
    }
  });

  it('refuses retry settings EventBridge would refuse at deploy (RetryPolicy: 0–185 retries, 60 s–24 h of age), at synth, naming the prop', () => {
    expect(() => deliveryRetry({ retryAttempts: 186 })).toThrow('DeliveryRetry: retryAttempts must be a whole number from 0 to 185');
    expect(() => deliveryRetry({ retryAttempts: 2.5 })).toThrow('retryAttempts must be a whole number');
    expect(() => deliveryRetry({ retryAttempts: -1 })).toThrow('retryAttempts must be a whole number');
    expect(() => deliveryRetry({ maxEventAge: Duration.seconds(30) })).toThrow(
      'DeliveryRetry: maxEventAge must be whole seconds from 60 to 86400',
    );
    expect(() => deliveryRetry({ maxEventAge: Duration.days(2) })).toThrow('maxEventAge must be whole seconds from 60 to 86400');
    expect(() => deliveryRetry({ maxEventAge: Duration.millis(60_500) })).toThrow('maxEventAge must be whole seconds');
    expect(deliveryRetry({ retryAttempts: 0, maxEventAge: Duration.seconds(60) })).toEqual({
      retryAttempts: 0,
      maxEventAge: Duration.seconds(60),
    });
    expect(deliveryRetry({ retryAttempts: 185, maxEventAge: Duration.hours(24) }).retryAttempts).toBe(185);
    expect(() => make({ retryAttempts: 200 })).toThrow('StaticRoutes: retryAttempts must be a whole number from 0 to 185');
    expect(() => synth(shop, { ...inlineRunner(), deliveryMaxEventAge: Duration.days(2) })).toThrow(
      'TaskRunner: deliveryMaxEventAge must be whole seconds from 60 to 86400',
    );
  });

  it("refuses a sixth target, and names its own rules when asked for another (errors name the construct, or the caller's errorPrefix)", () => {
    const { stack, routes } = make();
    const extra = new eventTargets.SqsQueue(new sqs.Queue(stack, 'Extra', { enforceSSL: true }));
    for (let i = 0; i < 4; i++) routes.addTarget('link-report-notify', extra);
    expect(() => routes.addTarget('link-report-notify', extra)).toThrow(
      'StaticRoutes: rule "link-report-notify" already has 5 targets; EventBridge allows at most 5 per rule',
    );
    expect(() => routes.rule('nope')).toThrow(`StaticRoutes: no rule "nope" (rules: ${topology.rules.map((r) => r.name).join(', ')})`);
  });

  it('refuses a rule whose target it was not given', () => {
    const stack = new Stack(new App(), 'S');
    expect(
      () =>
        new StaticRoutes(stack, 'Rules', {
          rules: topology.rules,
          bus: new events.EventBus(stack, 'Bus'),
          queues: new Map(),
          subscribers: new Map(),
          deadLetterQueue: new sqs.Queue(stack, 'Dlq'),
        }),
    ).toThrow(/StaticRoutes: a rule targets (queue|subscriber) ".+", which was not given/);
  });
});

describe('createSchedulerAccess and PeriodicSchedules', () => {
  it('a group, a role only its schedules may assume, sending only to the queues allowed; one schedule per periodic task', () => {
    const stack = new Stack(new App(), 'S');
    const access = createSchedulerAccess(stack, { app: 'shop' });
    const queue = new sqs.Queue(stack, 'Q', { enforceSSL: true });
    allowSchedulerToSend(access.schedulerRole, queue);
    const periodic = new PeriodicSchedules(stack, 'Periodic', {
      app: 'shop',
      periodic: topology.periodic,
      access,
      queues: new Map([['default', queue]]),
      deadLetterQueue: queue,
    });
    const t = Template.fromStack(stack);
    expect([...periodic.schedules.keys()]).toEqual(['nightly-total']);
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 3 * * ? *)',
      Target: {
        Arn: getAtt(stack.getLogicalId(queue.node.defaultChild as never)),
        RoleArn: getAtt(stack.getLogicalId(access.schedulerRole.node.defaultChild as never)),
      },
    });
    expect(statementsOfRole(t, stack.getLogicalId(access.schedulerRole.node.defaultChild as never))).toEqual([
      { Action: 'sqs:SendMessage', Effect: 'Allow', Resource: getAtt(stack.getLogicalId(queue.node.defaultChild as never)) },
    ]);
    t.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          {
            Action: 'sts:AssumeRole',
            Effect: 'Allow',
            Principal: { Service: 'scheduler.amazonaws.com' },
            Condition: {
              StringEquals: {
                'aws:SourceAccount': { Ref: 'AWS::AccountId' },
                'aws:SourceArn': getAtt(stack.getLogicalId(access.scheduleGroup.node.defaultChild as never)),
              },
            },
          },
        ],
      },
    });
  });

  it('a periodic task whose queue was not given is refused', () => {
    const stack = new Stack(new App(), 'S');
    const access = createSchedulerAccess(stack, { app: 'shop' });
    expect(
      () =>
        new PeriodicSchedules(stack, 'P', {
          app: 'shop',
          periodic: topology.periodic,
          access,
          queues: new Map(),
          deadLetterQueue: new sqs.Queue(stack, 'D'),
        }),
    ).toThrow('PeriodicSchedules: periodic task "nightly-total" sends to queue "default", which was not given');
  });

  it('grantLongDelays acknowledges its schedule wildcard in a stack with an explicit environment too', () => {
    const app = new App();
    const stack = new Stack(app, 'S', { env: { account: '123456789012', region: 'eu-west-1' } });
    const access = createSchedulerAccess(stack, { app: 'shop' });
    const api = new iam.Role(stack, 'Api', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    grantLongDelays(api, access);
    const { violations, suppressed } = nagReport(app);
    expect(violations).toEqual([]);
    expect(suppressed.map((s) => s.ruleName)).toContainEqual(expect.stringContaining(':scheduler:eu-west-1:123456789012:schedule/'));
  });
});

describe('TaskRunnerMonitoring: alarms and a dashboard', () => {
  const make = (props: Partial<ConstructorParameters<typeof TaskRunnerMonitoring>[2]> = {}) => {
    const stack = new Stack(new App(), 'S');
    const q = new TaskQueue(stack, 'mail', { settings: settings('mail'), app: 'shop', code: { code: inlineCode() }, environment: {} });
    const monitoring = new TaskRunnerMonitoring(stack, 'Monitoring', {
      app: 'shop',
      queues: [q],
      eventsDeadLetterQueue: new sqs.Queue(stack, 'EventsDlq', { enforceSSL: true }),
      ...props,
    });
    return { stack, monitoring };
  };

  it('four alarms per queue and one on the events DLQ; a dashboard unless turned off', () => {
    const { stack, monitoring } = make({ oldestMessageAgeThreshold: Duration.minutes(2) });
    expect(monitoring.alarms).toHaveLength(5);
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateAgeOfOldestMessage', Threshold: 120 });
    expect(make({ dashboard: false }).monitoring.dashboard).toBeUndefined();
  });

  it('an alarm threshold under a second is refused, in the name of the construct (or errorPrefix)', () => {
    expect(() => make({ oldestMessageAgeThreshold: Duration.seconds(0) })).toThrow(
      'TaskRunnerMonitoring: oldestMessageAgeThreshold must be at least 1 second',
    );
  });
});

describe('TaskRunner composes the constructs', () => {
  it('exposes each TaskQueue, the routes, the periodic schedules and the monitoring it builds', () => {
    const { stack } = synth();
    const runner = stack.runner;
    expect(runner.taskQueue('mail')).toBeInstanceOf(TaskQueue);
    expect(runner.taskQueue('mail').worker).toBe(runner.worker('mail'));
    expect([...runner.queues.values()].every((q) => q instanceof TaskQueue)).toBe(true);
    expect(runner.routes).toBeInstanceOf(StaticRoutes);
    expect(runner.rule('link-report-notify')).toBe(runner.routes.rule('link-report-notify'));
    expect(runner.schedule('nightly-total')).toBe(runner.periodicSchedules.schedules.get('nightly-total'));
    expect(runner.monitoring).toBeInstanceOf(TaskRunnerMonitoring);
    expect(runner.alarms).toBe(runner.monitoring.alarms);
  });

  it('the alarms and the dashboard keep the logical IDs they had when the runner created them itself', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const runner = new TaskRunner(stack, 'Runner', { ...inlineRunner(), topology: shop });
    // Where the runner used to create them, in a stack of its own: the same paths give the same IDs.
    const before = new Stack(new App(), 'S');
    const queueScope = new Construct(new Construct(new Construct(before, 'Runner'), 'Queues'), 'mail');
    const metric = new cloudwatch.Metric({ namespace: 'N', metricName: 'M' });
    const old = new cloudwatch.Alarm(queueScope, 'DlqNotEmptyAlarm', { metric, threshold: 1, evaluationPeriods: 1 });
    const oldDashboard = new cloudwatch.Dashboard(queueScope.node.scope?.node.scope as Construct, 'Dashboard');
    const alarm = runner.alarms.find((a) => a.node.path === 'S/Runner/Default/Queues/mail/DlqNotEmptyAlarm');
    expect(stack.getLogicalId(alarm?.node.defaultChild as never)).toBe(before.getLogicalId(old.node.defaultChild as never));
    expect(stack.getLogicalId(runner.dashboard?.node.defaultChild as never)).toBe(
      before.getLogicalId(oldDashboard.node.defaultChild as never),
    );
  });
});

import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import { CeleriacStack } from '../../cdk/stack';
import { TaskRunner, type TaskRunnerProps } from '../../cdk/task-runner';
import { ENV } from '../../lib/config';
import type { AppTopologyInput } from '../../lib/routing';
import { inlineRunner, nagReport, resources, shop, statementsOfRole } from './helpers';

const getAtt = (id: string, attr = 'Arn') => ({ 'Fn::GetAtt': [id, attr] });

/** A TaskRunner of the shop in a fresh stack, with `props` over inline code. */
function build(props: Partial<TaskRunnerProps> & { topology?: AppTopologyInput } = {}) {
  const app = new App();
  const stack = new Stack(app, 'S', { env: { account: '123456789012', region: 'eu-west-1' } });
  const topology = props.topology ?? shop;
  const extras = {
    vpc: ec2.Vpc.fromVpcAttributes(stack, 'Vpc', {
      vpcId: 'vpc-1',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      privateSubnetIds: ['subnet-a', 'subnet-b'],
    }),
    key: new kms.Key(stack, 'Key', { enableKeyRotation: true }),
  };
  return {
    app,
    stack,
    extras,
    topology,
    make: (p: Partial<TaskRunnerProps> = props) => new TaskRunner(stack, 'Runner', { ...inlineRunner(topology), ...p, topology }),
  };
}

/** cdk-nag's findings on a fresh build (a stack already synthesised for Template assertions reports nothing new). */
function nag(props: (extras: ReturnType<typeof build>['extras'], stack: Stack) => Partial<TaskRunnerProps>) {
  const { app, stack, extras, make } = build();
  make(props(extras, stack));
  return nagReport(app);
}

const workers = (t: Template) =>
  Object.values(resources(t, 'AWS::Lambda::Function')).filter((f) => String(f.Description).includes('worker of queue'));
const subscribers = (t: Template) =>
  Object.values(resources(t, 'AWS::Lambda::Function')).filter((f) => String(f.Description).includes('subscriber'));

describe('TaskRunner pass-through props: workerFunctionProps', () => {
  it('tracing ACTIVE reaches every worker function, with the X-Ray permissions, and cdk-nag stays clean', () => {
    const { stack, make } = build();
    const runner = make({ workerFunctionProps: { tracing: lambda.Tracing.ACTIVE } });
    const t = Template.fromStack(stack);
    expect(workers(t)).toHaveLength(2);
    for (const w of workers(t)) expect(w.TracingConfig).toEqual({ Mode: 'Active' });
    // Subscribers are not workers: their props are celeriac's.
    for (const s of subscribers(t)) expect(s.TracingConfig).toBeUndefined();
    for (const q of ['default', 'mail']) {
      expect(statementsOfRole(t, stack.getLogicalId(runner.worker(q).role?.node.defaultChild as never))).toContainEqual({
        Action: ['xray:PutTelemetryRecords', 'xray:PutTraceSegments'],
        Effect: 'Allow',
        Resource: '*',
      });
    }
    const { violations, suppressed } = nag(() => ({ workerFunctionProps: { tracing: lambda.Tracing.ACTIVE } }));
    expect(violations).toEqual([]);
    expect(suppressed.filter((s) => s.ruleName === 'AwsSolutions-IAM5[Resource::*]').map((s) => s.reason)).toEqual([
      expect.stringContaining('X-Ray'),
      expect.stringContaining('X-Ray'),
    ]);
  });

  it('a VPC, its subnets and security groups reach every worker, whose role may manage its network interfaces; cdk-nag stays clean', () => {
    const { stack, extras, make } = build();
    const sg = new ec2.SecurityGroup(stack, 'WorkerSg', { vpc: extras.vpc, description: 'celeriac workers' });
    const runner = make({
      workerFunctionProps: { vpc: extras.vpc, vpcSubnets: { subnets: extras.vpc.privateSubnets }, securityGroups: [sg] },
    });
    const t = Template.fromStack(stack);
    for (const w of workers(t)) {
      expect(w.VpcConfig).toEqual({
        SubnetIds: ['subnet-a', 'subnet-b'],
        SecurityGroupIds: [getAtt(stack.getLogicalId(sg.node.defaultChild as never), 'GroupId')],
      });
    }
    const statements = statementsOfRole(t, stack.getLogicalId(runner.worker('mail').role?.node.defaultChild as never));
    expect(statements).toContainEqual({
      Action: [
        'ec2:AssignPrivateIpAddresses',
        'ec2:CreateNetworkInterface',
        'ec2:DeleteNetworkInterface',
        'ec2:DescribeNetworkInterfaces',
        'ec2:DescribeSubnets',
        'ec2:UnassignPrivateIpAddresses',
      ],
      Effect: 'Allow',
      Resource: '*',
    });
    // Still no managed policy on the worker role.
    t.hasResourceProperties('AWS::IAM::Role', {
      Description: 'celeriac shop: worker of queue mail',
      ManagedPolicyArns: Match.absent(),
    });
    const { violations, suppressed } = nag((x, st) => ({
      workerFunctionProps: {
        vpc: x.vpc,
        securityGroups: [new ec2.SecurityGroup(st, 'WorkerSg', { vpc: x.vpc, description: 'celeriac workers' })],
      },
    }));
    expect(violations).toEqual([]);
    expect(suppressed.filter((s) => s.ruleName === 'AwsSolutions-IAM5[Resource::*]').map((s) => s.reason)).toEqual([
      expect.stringContaining('network-interface'),
      expect.stringContaining('network-interface'),
    ]);
  });

  it('layers, memory, architecture and reserved concurrency reach every worker', () => {
    const { stack, make } = build();
    const layer = lambda.LayerVersion.fromLayerVersionArn(
      stack,
      'Adot',
      'arn:aws:lambda:eu-west-1:901920570463:layer:aws-otel-nodejs-arm64-ver-1-30-2:1',
    );
    make({ workerFunctionProps: { layers: [layer], memorySize: 2048, reservedConcurrentExecutions: 20 } });
    const t = Template.fromStack(stack);
    for (const w of workers(t)) {
      expect(w).toMatchObject({
        Layers: ['arn:aws:lambda:eu-west-1:901920570463:layer:aws-otel-nodejs-arm64-ver-1-30-2:1'],
        MemorySize: 2048,
        ReservedConcurrentExecutions: 20,
      });
    }
  });

  it('timeout and memorySize fold into the queue settings: the visibility timeout follows, and queueOverrides win', () => {
    const { stack, make } = build();
    const runner = make({
      workerFunctionProps: { timeout: Duration.seconds(45), memorySize: 256 },
      queueOverrides: { mail: { functionTimeout: Duration.seconds(20) } },
    });
    expect(runner.taskQueue('default').settings).toMatchObject({
      functionTimeoutSeconds: 45,
      visibilityTimeoutSeconds: 270,
      memoryMb: 256,
    });
    expect(runner.taskQueue('mail').settings).toMatchObject({ functionTimeoutSeconds: 20, visibilityTimeoutSeconds: 120, memoryMb: 256 });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'celeriac shop: worker of queue default',
      Timeout: 45,
      MemorySize: 256,
    });
    t.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 270 });
    t.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 120 });
  });

  it("a timeout the queue's visibility timeout cannot hold is refused, as for queueOverrides", () => {
    const { make } = build();
    expect(() =>
      make({
        workerFunctionProps: { timeout: Duration.minutes(5) },
        queueOverrides: { default: { visibilityTimeout: Duration.minutes(10) } },
      }),
    ).toThrow('queue "default": visibility timeout 600 s is shorter than 6 × the function timeout (300 s) = 1800 s');
  });

  it("per-queue workerFunctionProps merge over the app's: environment key by key, the rest replaced", () => {
    const { stack, make } = build();
    make({
      environment: { TZ: 'UTC', SHARED: 'app' },
      workerFunctionProps: { environment: { SHARED: 'workers', POWERTOOLS_SERVICE_NAME: 'shop' }, memorySize: 256 },
      queueOverrides: { mail: { workerFunctionProps: { environment: { SMTP_HOST: 'smtp.example.com' }, memorySize: 128 } } },
    });
    const t = Template.fromStack(stack);
    const env = (q: string): Record<string, unknown> => {
      const w = workers(t).find((f) => f.Description === `celeriac shop: worker of queue ${q}`);
      return (w?.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ?? {};
    };
    expect(env('default')).toMatchObject({ TZ: 'UTC', SHARED: 'workers', POWERTOOLS_SERVICE_NAME: 'shop', [ENV.app]: 'shop' });
    expect(env('default').SMTP_HOST).toBeUndefined();
    expect(env('mail')).toMatchObject({ TZ: 'UTC', SHARED: 'workers', POWERTOOLS_SERVICE_NAME: 'shop', SMTP_HOST: 'smtp.example.com' });
    t.hasResourceProperties('AWS::Lambda::Function', { Description: 'celeriac shop: worker of queue mail', MemorySize: 128 });
    // Subscribers get the app-wide environment only.
    for (const s of subscribers(t))
      expect((s.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({ SHARED: 'app' });
  });

  it('environment keys celeriac sets are refused in workerFunctionProps, app-wide and per queue', () => {
    const make = (p: Partial<TaskRunnerProps>) => build().make(p);
    expect(() => make({ workerFunctionProps: { environment: { [ENV.queueUrls]: '{}' } } })).toThrow(
      'TaskRunner: workerFunctionProps.environment must not set CELERIAC_QUEUE_URLS: the construct sets them from the topology',
    );
    expect(() => make({ queueOverrides: { mail: { workerFunctionProps: { environment: { NODE_OPTIONS: '' } } } } })).toThrow(
      'TaskRunner: queueOverrides.mail.workerFunctionProps.environment must not set NODE_OPTIONS',
    );
  });

  it("the function settings celeriac requires win over the user's: handler, role, log group, description", () => {
    const { stack, make } = build();
    const foreign = new iam.Role(stack, 'Foreign', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    // Props the type leaves out, passed anyway (a JavaScript caller, a cast).
    const foreignLogs = new logs.LogGroup(stack, 'ForeignLogs');
    const sneaky = {
      role: foreign,
      logGroup: foreignLogs,
      handler: 'other.handler',
      description: 'mine',
      timeout: Duration.minutes(10),
    } as object;
    const runner = make({ workerFunctionProps: sneaky });
    expect(runner.worker('default').role).not.toBe(foreign);
    expect(runner.worker('default').logGroup).not.toBe(foreignLogs);
    const w = workers(Template.fromStack(stack)).find((f) => f.Description === 'celeriac shop: worker of queue default');
    expect(w).toMatchObject({
      LoggingConfig: { LogGroup: { Ref: stack.getLogicalId(runner.worker('default').logGroup.node.defaultChild as never) } },
      Handler: 'index.handler',
      Role: getAtt(stack.getLogicalId(runner.worker('default').role?.node.defaultChild as never)),
    });
    // timeout in workerFunctionProps is a queue setting (it folds into the topology), so it does apply:
    expect(w?.Timeout).toBe(600);
  });
});

describe('TaskRunner pass-through props: queueProps and deadLetterQueueProps', () => {
  it('a KMS key encrypts every task queue; the worker, producers, EventBridge rule targets and the scheduler role may use it', () => {
    const { stack, extras, make } = build();
    const runner = make({ queueProps: { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: extras.key } });
    // A producer granted after the runner was built gets the key too.
    const api = new iam.Role(stack, 'Api', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    runner.grantProducer(api);
    const t = Template.fromStack(stack);
    const key = getAtt(stack.getLogicalId(extras.key.node.defaultChild as never));
    for (const q of ['default', 'mail']) {
      const props = resources(t, 'AWS::SQS::Queue')[stack.getLogicalId(runner.queue(q).node.defaultChild as never)];
      expect(props).toMatchObject({ KmsMasterKeyId: key, MaximumMessageSize: 1_048_576 });
      expect(props?.SqsManagedSseEnabled).toBeUndefined();
    }
    const roleStatements = (role: iam.IRole | undefined) => statementsOfRole(t, stack.getLogicalId(role?.node.defaultChild as never));
    // The worker consumes its queue (decrypt) and sends to every queue (encrypt).
    const worker = roleStatements(runner.worker('default').role);
    expect(worker).toContainEqual({ Action: 'kms:Decrypt', Effect: 'Allow', Resource: key });
    expect(worker).toContainEqual({
      Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*', 'kms:ReEncrypt*'],
      Effect: 'Allow',
      Resource: key,
    });
    // The scheduler role sends periodic calls and long delays.
    expect(roleStatements(runner.schedulerRole)).toContainEqual({
      Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      Effect: 'Allow',
      Resource: key,
    });
    expect(statementsOfRole(t, stack.getLogicalId(api.node.defaultChild as never))).toContainEqual(
      expect.objectContaining({ Action: expect.arrayContaining(['kms:GenerateDataKey*']), Resource: key }),
    );
    // EventBridge delivers link events to the encrypted queues: the key policy lets the service use the key.
    const keyPolicy = (
      resources(t, 'AWS::KMS::Key')[stack.getLogicalId(extras.key.node.defaultChild as never)] as {
        KeyPolicy: { Statement: Record<string, unknown>[] };
      }
    ).KeyPolicy.Statement;
    expect(keyPolicy).toContainEqual(
      expect.objectContaining({
        Principal: { Service: 'events.amazonaws.com' },
        Action: expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
        Effect: 'Allow',
      }),
    );
    expect(nag((x) => ({ queueProps: { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: x.key } })).violations).toEqual([]);
  });

  it('deadLetterQueueProps reach the DLQs; per-queue queueProps name one queue and give it its own key', () => {
    const { stack, extras, make } = build();
    const runner = make({
      deadLetterQueueProps: { retentionPeriod: Duration.days(7), encryptionMasterKey: extras.key },
      queueOverrides: { mail: { queueProps: { queueName: 'shop-mail', encryptionMasterKey: extras.key } } },
    });
    const queues = resources(Template.fromStack(stack), 'AWS::SQS::Queue');
    const props = (q: sqs.Queue) => queues[stack.getLogicalId(q.node.defaultChild as never)];
    const key = getAtt(stack.getLogicalId(extras.key.node.defaultChild as never));
    for (const q of ['default', 'mail'])
      expect(props(runner.deadLetterQueue(q))).toMatchObject({ MessageRetentionPeriod: 604_800, KmsMasterKeyId: key });
    expect(props(runner.queue('mail'))).toMatchObject({ QueueName: 'shop-mail', KmsMasterKeyId: key });
    expect(props(runner.queue('default'))).toMatchObject({ SqsManagedSseEnabled: true });
    expect(props(runner.queue('default'))?.QueueName).toBeUndefined();
  });

  it("the queue settings celeriac requires win over the user's: visibility timeout, DLQ, SSL only, 1 MiB messages", () => {
    const { stack, make } = build();
    const other = new sqs.Queue(stack, 'Other', { enforceSSL: true });
    const sneaky = {
      visibilityTimeout: Duration.seconds(1),
      deadLetterQueue: { queue: other, maxReceiveCount: 99 },
      enforceSSL: false,
      maxMessageSizeBytes: 1024,
    } as object;
    const runner = make({ queueProps: sneaky, deadLetterQueueProps: { maxMessageSizeBytes: 1024 } as object });
    const t = Template.fromStack(stack);
    const q = resources(t, 'AWS::SQS::Queue')[stack.getLogicalId(runner.queue('default').node.defaultChild as never)];
    expect(q).toMatchObject({
      VisibilityTimeout: 360,
      MaximumMessageSize: 1_048_576,
      RedrivePolicy: {
        deadLetterTargetArn: getAtt(stack.getLogicalId(runner.deadLetterQueue('default').node.defaultChild as never)),
        maxReceiveCount: 3,
      },
    });
    expect(resources(t, 'AWS::SQS::Queue')[stack.getLogicalId(runner.deadLetterQueue('default').node.defaultChild as never)]).toMatchObject(
      {
        MaximumMessageSize: 1_048_576,
      },
    );
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: stack.getLogicalId(runner.queue('default').node.defaultChild as never) }],
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });
});

describe('CeleriacStack passes the new props through', () => {
  it('runner.workerFunctionProps reaches the workers of a CeleriacStack', () => {
    const t = Template.fromStack(
      new CeleriacStack(new App(), 'Shop', {
        topology: shop,
        runner: { ...inlineRunner(), workerFunctionProps: { tracing: lambda.Tracing.ACTIVE } },
      }),
    );
    expect(workers(t).map((w) => w.TracingConfig)).toEqual([{ Mode: 'Active' }, { Mode: 'Active' }]);
  });
});

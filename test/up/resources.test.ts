/**
 * `celeriac up`, one resource type at a time: a template fragment in, the local resource's
 * behaviour out.
 */
import { DescribeTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { EMULATOR_CLIENT_CONFIG, emulatorS3Config } from '../../lib/adapters/aws/provision';
import { type RunningStack, startStack } from '../../lib/up/index';
import { eventually, type FixtureAssembly, lambda, writeAssembly } from './assembly-fixture';

let assembly: FixtureAssembly | undefined;
let running: RunningStack | undefined;
const logs: string[] = [];

afterEach(async () => {
  await running?.stop();
  assembly?.remove();
  running = undefined;
  assembly = undefined;
  logs.length = 0;
});

async function up(...args: Parameters<typeof writeAssembly>): Promise<RunningStack> {
  assembly = writeAssembly(...args);
  running = await startStack({ app: assembly.dir, log: (l) => logs.push(l), ttlSweepMs: 100 });
  return running;
}

const sqsOf = (s: RunningStack) => new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: s.endpoints.AWS_ENDPOINT_URL_SQS });
const queueUrl = (s: RunningStack, logicalId: string) => s.resolved.Outputs?.[logicalId]?.Value as string;

describe('AWS::SQS::Queue', () => {
  it('is created with the template visibility timeout, delay, maximum size and a redrive policy to its DLQ', async () => {
    const s = await up(
      {
        Dlq: { Type: 'AWS::SQS::Queue', Properties: {} },
        Work: {
          Type: 'AWS::SQS::Queue',
          Properties: {
            VisibilityTimeout: 7,
            DelaySeconds: 1,
            MaximumMessageSize: 2048,
            RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 1 },
          },
        },
      },
      { outputs: { Work: { Value: { Ref: 'Work' } }, Dlq: { Value: { Ref: 'Dlq' } } } },
    );
    const sqs = sqsOf(s);
    const { Attributes: a } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl(s, 'Work'), AttributeNames: ['All'] }));
    expect(a).toMatchObject({ VisibilityTimeout: '7', DelaySeconds: '1', MaximumMessageSize: '2048' });
    expect(JSON.parse(a?.RedrivePolicy ?? '{}')).toEqual({
      deadLetterTargetArn: 'arn:aws:sqs:us-east-1:000000000000:spec-Dlq',
      maxReceiveCount: 1,
    });

    // Received once (maxReceiveCount 1) and released: the next receive moves it to the DLQ.
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl(s, 'Work'), MessageBody: 'poison', DelaySeconds: 0 }));
    const got = await eventually(
      async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl(s, 'Work'), WaitTimeSeconds: 1 }))).Messages?.[0],
    );
    await sqs.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl(s, 'Work'), ReceiptHandle: got.ReceiptHandle, VisibilityTimeout: 0 }),
    );
    expect((await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl(s, 'Work'), WaitTimeSeconds: 1 }))).Messages ?? []).toEqual([]);
    const dead = await eventually(
      async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl(s, 'Dlq'), WaitTimeSeconds: 1 }))).Messages?.[0],
    );
    expect(dead.Body).toBe('poison');
    sqs.destroy();
  });
});

describe('AWS::DynamoDB::Table', () => {
  it('has the template key schema, and deletes items whose TTL attribute is past', async () => {
    const s = await up({
      T: {
        Type: 'AWS::DynamoDB::Table',
        Properties: {
          TableName: 'orders',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: 'pk', AttributeType: 'S' },
            { AttributeName: 'sk', AttributeType: 'N' },
          ],
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          TimeToLiveSpecification: { AttributeName: 'expires', Enabled: true },
        },
      },
    });
    const ddb = new DynamoDBClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: s.endpoints.AWS_ENDPOINT_URL_DYNAMODB });
    const d = await ddb.send(new DescribeTableCommand({ TableName: 'orders' }));
    expect(d.Table?.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    const past = String(Math.floor(Date.now() / 1000) - 10);
    const future = String(Math.floor(Date.now() / 1000) + 3600);
    await ddb.send(new PutItemCommand({ TableName: 'orders', Item: { pk: { S: 'old' }, sk: { N: '1' }, expires: { N: past } } }));
    await ddb.send(new PutItemCommand({ TableName: 'orders', Item: { pk: { S: 'new' }, sk: { N: '1' }, expires: { N: future } } }));
    await eventually(async () =>
      (await ddb.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'old' }, sk: { N: '1' } } }))).Item ? undefined : true,
    );
    expect((await ddb.send(new GetItemCommand({ TableName: 'orders', Key: { pk: { S: 'new' }, sk: { N: '1' } } }))).Item).toBeDefined();
    ddb.destroy();
  });
});

const COUNTER = `
let count = 0;
export const handler = async (event, context) => {
  count++;
  if (event.sleepMs) await new Promise((r) => setTimeout(r, event.sleepMs));
  process.env.TOUCHED = 'yes';
  return { count, queue: process.env.QUEUE_URL ?? null, other: process.env.TOUCHED_BY_OTHER ?? null, name: context.functionName, remaining: context.getRemainingTimeInMillis(), requestId: context.awsRequestId };
};`;

describe('AWS::Lambda::Function', () => {
  it('runs its bundled asset with the template environment resolved, its own module instance and a Lambda context', async () => {
    const s = await up(
      {
        Q: { Type: 'AWS::SQS::Queue', Properties: {} },
        A: lambda('asset.a', { FunctionName: 'fn-a', Timeout: 5, Environment: { Variables: { QUEUE_URL: { Ref: 'Q' } } } }),
        B: lambda('asset.b', { FunctionName: 'fn-b', Environment: { Variables: { TOUCHED_BY_OTHER: 'only-b' } } }),
      },
      { assets: { 'asset.a': COUNTER, 'asset.b': COUNTER } },
    );
    const a = s.functions.get('A');
    const b = s.functions.get('B');
    const first = await a?.invoke({});
    const second = await a?.invoke({});
    const other = await b?.invoke({});
    expect(first).toMatchObject({
      ok: true,
      result: { count: 1, queue: expect.stringMatching(/\/000000000000\/spec-Q$/), other: null, name: 'fn-a' },
    });
    expect((first as { result: { remaining: number } }).result.remaining).toBeGreaterThan(4_000);
    // A warm start keeps the module; the other function has its own module and environment.
    expect(second).toMatchObject({ ok: true, result: { count: 2 } });
    expect(other).toMatchObject({ ok: true, result: { count: 1, other: 'only-b', queue: null } });
  });

  it('ends an invocation at the template timeout (Sandbox.Timedout) and starts the next one cold', async () => {
    const s = await up({ A: lambda('asset.a', { Timeout: 1 }) }, { assets: { 'asset.a': COUNTER } });
    const a = s.functions.get('A');
    expect(await a?.invoke({ sleepMs: 5_000 })).toMatchObject({
      ok: false,
      error: { errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 1.00 seconds' },
    });
    expect(await a?.invoke({})).toMatchObject({ ok: true, result: { count: 1 } });
    expect(a?.coldStarts).toBe(2);
  });

  it('refuses a runtime that is not Node.js, naming the resource', async () => {
    await expect(up({ Py: lambda('asset.a', { Runtime: 'python3.13' }) }, { assets: { 'asset.a': COUNTER } })).rejects.toThrow(
      'resource Py: runtime python3.13 is not run by `celeriac up` (Node.js runtimes only)',
    );
  });

  it('refuses a function whose asset is missing from the assembly, naming the resource', async () => {
    await expect(up({ Gone: lambda('asset.gone') })).rejects.toThrow(
      /^resource Gone: its code asset .*asset\.gone is missing from the assembly/,
    );
  });
});

describe('AWS::Lambda::EventSourceMapping', () => {
  it('polls the queue with the template batch size and, with ReportBatchItemFailures, redelivers only the failed records (here: to the DLQ)', async () => {
    const s = await up(
      {
        Dlq: { Type: 'AWS::SQS::Queue', Properties: {} },
        Q: {
          Type: 'AWS::SQS::Queue',
          Properties: {
            VisibilityTimeout: 3,
            RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 1 },
          },
        },
        W: lambda('asset.w'),
        M: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: {
            EventSourceArn: { 'Fn::GetAtt': ['Q', 'Arn'] },
            FunctionName: { Ref: 'W' },
            BatchSize: 10,
            MaximumBatchingWindowInSeconds: 1,
            FunctionResponseTypes: ['ReportBatchItemFailures'],
            ScalingConfig: { MaximumConcurrency: 2 },
          },
        },
      },
      {
        outputs: { Q: { Value: { Ref: 'Q' } }, Dlq: { Value: { Ref: 'Dlq' } } },
        assets: {
          'asset.w': `export const handler = async (event) => {
            globalThis.sizes = [...(globalThis.sizes ?? []), event.Records.length];
            return { batchItemFailures: event.Records.filter((r) => r.body === 'bad').map((r) => ({ itemIdentifier: r.messageId })) };
          };`,
        },
      },
    );
    const sqs = sqsOf(s);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl(s, 'Q'),
        Entries: [
          { Id: '1', MessageBody: 'good' },
          { Id: '2', MessageBody: 'bad' },
          { Id: '3', MessageBody: 'good' },
        ],
      }),
    );
    const dead = await eventually(
      async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl(s, 'Dlq'), WaitTimeSeconds: 1 }))).Messages?.[0],
      15_000,
    );
    expect(dead.Body).toBe('bad');
    const { Attributes: a } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl(s, 'Q'),
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    expect(a).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
    // The batching window gathered the three sends into one invocation.
    expect(s.functions.get('W')?.invocations).toBe(1);
    sqs.destroy();
  }, 30_000);

  it('refuses a mapping whose queue visibility timeout is shorter than the function timeout, as CloudFormation does', async () => {
    await expect(
      up(
        {
          Q: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 10 } },
          W: lambda('asset.w', { Timeout: 30 }),
          M: {
            Type: 'AWS::Lambda::EventSourceMapping',
            Properties: { EventSourceArn: { 'Fn::GetAtt': ['Q', 'Arn'] }, FunctionName: { Ref: 'W' } },
          },
        },
        { assets: { 'asset.w': 'export const handler = async () => {};' } },
      ),
    ).rejects.toThrow('resource M: the visibility timeout of queue spec-Q (10 s) is less than the timeout of function spec-W (30 s)');
  });
});

describe('AWS::Events::Rule', () => {
  it('matches its pattern on its bus and delivers the input transformer output to a queue target, and the event to a function target', async () => {
    const s = await up(
      {
        Bus: { Type: 'AWS::Events::EventBus', Properties: { Name: 'orders' } },
        Q: { Type: 'AWS::SQS::Queue', Properties: {} },
        F: lambda('asset.f'),
        R: {
          Type: 'AWS::Events::Rule',
          Properties: {
            EventBusName: { Ref: 'Bus' },
            EventPattern: { source: ['shop'], detail: { kind: ['paid'] } },
            State: 'ENABLED',
            Targets: [
              {
                Id: 'q',
                Arn: { 'Fn::GetAtt': ['Q', 'Arn'] },
                InputTransformer: { InputPathsMap: { id: '$.detail.id' }, InputTemplate: '{"order":<id>,"rule":"<aws.events.rule-name>"}' },
              },
              { Id: 'f', Arn: { 'Fn::GetAtt': ['F', 'Arn'] } },
            ],
          },
        },
      },
      { outputs: { Q: { Value: { Ref: 'Q' } } }, assets: { 'asset.f': 'export const handler = async (e) => { globalThis.seen = e; };' } },
    );
    const eb = new EventBridgeClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: s.endpoints.AWS_ENDPOINT_URL_EVENTBRIDGE });
    await eb.send(
      new PutEventsCommand({
        Entries: [
          { EventBusName: 'orders', Source: 'shop', DetailType: 'x', Detail: JSON.stringify({ kind: 'unpaid', id: 'o-0' }) },
          { EventBusName: 'default', Source: 'shop', DetailType: 'x', Detail: JSON.stringify({ kind: 'paid', id: 'o-other-bus' }) },
          { EventBusName: 'orders', Source: 'shop', DetailType: 'x', Detail: JSON.stringify({ kind: 'paid', id: 'o-1' }) },
        ],
      }),
    );
    const sqs = sqsOf(s);
    const got = await eventually(
      async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl(s, 'Q'), WaitTimeSeconds: 1 }))).Messages?.[0],
    );
    expect(got.Body).toBe('{"order":"o-1","rule":"spec-R"}');
    await s.events.idle();
    expect(s.functions.get('F')?.invocations).toBe(1);
    eb.destroy();
    sqs.destroy();
  });
});

describe('AWS::Events::Rule target failures', () => {
  it('sends the event to the target DLQ at once, without retries, when the target does not exist', async () => {
    const gone = (arn: string) => ({
      Id: arn.split(':')[2] as string,
      Arn: arn,
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['Dlq', 'Arn'] } },
    });
    const s = await up(
      {
        Dlq: { Type: 'AWS::SQS::Queue', Properties: {} },
        R: {
          Type: 'AWS::Events::Rule',
          Properties: {
            EventPattern: { source: ['shop'] },
            State: 'ENABLED',
            Targets: [
              gone('arn:aws:sqs:us-east-1:000000000000:spec-Gone'),
              gone('arn:aws:lambda:us-east-1:000000000000:function:spec-Gone'),
            ],
          },
        },
      },
      { outputs: { Dlq: { Value: { Ref: 'Dlq' } } } },
    );
    const eb = new EventBridgeClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: s.endpoints.AWS_ENDPOINT_URL_EVENTBRIDGE });
    await eb.send(new PutEventsCommand({ Entries: [{ Source: 'shop', DetailType: 'x', Detail: JSON.stringify({ id: 'o-1' }) }] }));
    // With retries (185 by default, backing off) neither would reach the DLQ within a second.
    const started = Date.now();
    await s.events.idle();
    expect(Date.now() - started).toBeLessThan(1_000);
    const sqs = sqsOf(s);
    const dead = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl(s, 'Dlq'), MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    expect((dead.Messages ?? []).map((m) => (JSON.parse(m.Body ?? '{}') as { detail: unknown }).detail)).toEqual([
      { id: 'o-1' },
      { id: 'o-1' },
    ]);
    expect(logs.filter((l) => l.includes('not retried'))).toHaveLength(2);
    eb.destroy();
    sqs.destroy();
  });
});

describe('AWS::Scheduler::Schedule', () => {
  it('fires its expression and sends the target input to the target queue', async () => {
    const at = new Date(Date.now() + 1_500).toISOString().slice(0, 19);
    const s = await up(
      {
        G: { Type: 'AWS::Scheduler::ScheduleGroup', Properties: { Name: 'g' } },
        Q: { Type: 'AWS::SQS::Queue', Properties: {} },
        S: {
          Type: 'AWS::Scheduler::Schedule',
          Properties: {
            GroupName: 'g',
            ScheduleExpression: `at(${at})`,
            FlexibleTimeWindow: { Mode: 'OFF' },
            Target: { Arn: { 'Fn::GetAtt': ['Q', 'Arn'] }, Input: '{"task":"tick"}', RoleArn: 'arn:aws:iam::000000000000:role/r' },
          },
        },
      },
      { outputs: { Q: { Value: { Ref: 'Q' } } } },
    );
    const sqs = sqsOf(s);
    const got = await eventually(
      async () => (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl(s, 'Q'), WaitTimeSeconds: 1 }))).Messages?.[0],
    );
    expect(got.Body).toBe('{"task":"tick"}');
    sqs.destroy();
  });
});

const PAYLOADS = `
import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
const s3 = new S3Client({});
export const handler = async ({ op, key, keys }) => {
  const Bucket = process.env.BUCKET;
  try {
    if (op === 'put') await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: 'payload of ' + key }));
    if (op === 'get') return { ok: true, body: await (await s3.send(new GetObjectCommand({ Bucket, Key: key }))).Body.transformToString() };
    if (op === 'deleteMany') await s3.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
    return { ok: true };
  } catch (e) {
    return { ok: false, name: e.name, status: e.$metadata?.httpStatusCode };
  }
};`;

describe('AWS::S3::Bucket', () => {
  /** A bucket, and a function whose role may read, write and delete the keys under `shop/` only (CDK's prefix grant). */
  const bucketStack = () =>
    up(
      {
        Payloads: { Type: 'AWS::S3::Bucket', Properties: {} },
        Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: {} } },
        Policy: {
          Type: 'AWS::IAM::Policy',
          Properties: {
            PolicyName: 'payloads',
            Roles: [{ Ref: 'Role' }],
            PolicyDocument: {
              Statement: [
                {
                  Effect: 'Allow',
                  Action: ['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:PutObject', 's3:Abort*'],
                  Resource: [
                    { 'Fn::GetAtt': ['Payloads', 'Arn'] },
                    { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Payloads', 'Arn'] }, '/shop/*']] },
                  ],
                },
              ],
            },
          },
        },
        Fn: lambda('asset.s3', { Role: { 'Fn::GetAtt': ['Role', 'Arn'] }, Environment: { Variables: { BUCKET: { Ref: 'Payloads' } } } }),
      },
      { assets: { 'asset.s3': PAYLOADS } },
    );

  it('is created on the S3 emulator, lowercase-named as CloudFormation names buckets, and a function reaches it through its IAM gateway', async () => {
    const s = await bucketStack();
    expect(s.resolved.Resources.Fn?.Properties?.Environment).toEqual({ Variables: { BUCKET: 'spec-payloads' } });
    const fn = s.functions.get('Fn');
    expect(fn?.spec.environment.AWS_ENDPOINT_URL_S3).not.toBe(s.endpoints.AWS_ENDPOINT_URL_S3);
    expect(await fn?.invoke({ op: 'put', key: 'shop/a' })).toEqual({ ok: true, result: { ok: true } });
    expect(await fn?.invoke({ op: 'get', key: 'shop/a' })).toEqual({ ok: true, result: { ok: true, body: 'payload of shop/a' } });
    // The object is in the emulator's bucket, as seen from outside the stack.
    const outside = new S3Client(emulatorS3Config(s.endpoints.AWS_ENDPOINT_URL_S3 as string));
    const got = await outside.send(new GetObjectCommand({ Bucket: 'spec-payloads', Key: 'shop/a' }));
    expect(await got.Body?.transformToString()).toBe('payload of shop/a');
    outside.destroy();
    expect(logs.filter((l) => l.includes('AccessDenied'))).toEqual([]);
  });

  it("refuses, with S3's AccessDenied, a write, a read or a batch delete outside the granted prefix, and names the missing statement", async () => {
    const s = await bucketStack();
    const fn = s.functions.get('Fn');
    expect(await fn?.invoke({ op: 'put', key: 'other/a' })).toEqual({ ok: true, result: { ok: false, name: 'AccessDenied', status: 403 } });
    expect(logs.find((l) => l.startsWith('up: IAM: AccessDenied:'))).toMatch(
      /called s3:PutObject on arn:aws:s3:::spec-payloads\/other\/a, .*Missing statement: \{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::spec-payloads\/other\/a"\}/,
    );
    expect(await fn?.invoke({ op: 'get', key: 'other/a' })).toMatchObject({ ok: true, result: { ok: false, name: 'AccessDenied' } });
    await fn?.invoke({ op: 'put', key: 'shop/kept' });
    // One key of the batch outside the prefix refuses the whole request (S3 authorizes each key).
    expect(await fn?.invoke({ op: 'deleteMany', keys: ['shop/kept', 'other/b'] })).toMatchObject({
      ok: true,
      result: { ok: false, name: 'AccessDenied' },
    });
    expect(logs.some((l) => l.includes('called s3:DeleteObject on arn:aws:s3:::spec-payloads/other/b'))).toBe(true);
    expect(await fn?.invoke({ op: 'get', key: 'shop/kept' })).toMatchObject({ ok: true, result: { ok: true } });
    expect(await fn?.invoke({ op: 'deleteMany', keys: ['shop/kept'] })).toEqual({ ok: true, result: { ok: true } });
    expect(await fn?.invoke({ op: 'get', key: 'shop/kept' })).toMatchObject({ ok: true, result: { ok: false, name: 'NoSuchKey' } });
  });
});

describe('what up does not run', () => {
  it('lists the resource types it skips, once, with their counts', async () => {
    const s = await up({
      A1: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
      A2: { Type: 'AWS::CloudWatch::Alarm', Properties: {} },
      L: { Type: 'AWS::Logs::LogGroup', Properties: {} },
      Q: { Type: 'AWS::SQS::Queue', Properties: {} },
    });
    expect(s.skipped).toEqual([
      { type: 'AWS::CloudWatch::Alarm', count: 2 },
      { type: 'AWS::Logs::LogGroup', count: 1 },
    ]);
  });

  it('refuses an intrinsic it cannot resolve with one line naming the resource', async () => {
    await expect(up({ Q: { Type: 'AWS::SQS::Queue', Properties: { DelaySeconds: { 'Fn::ImportValue': 'elsewhere' } } } })).rejects.toThrow(
      /^resource Q: Fn::ImportValue is not supported by `celeriac up`/,
    );
  });
});

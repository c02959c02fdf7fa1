/**
 * The EventBridge Scheduler adapter for long delays, with the real SDK against a local stand-in of
 * the Scheduler API that records each CreateSchedule (EventBridge Scheduler has no emulator here):
 * the request it sends, its idempotency, and its errors.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { awsBackendFromEnv } from '../../lib/adapters/aws';
import { atExpression, queueArnFromUrl, SchedulerDelayedSender, scheduleName } from '../../lib/adapters/aws/scheduler-sender';
import { ErrorCodes } from '../../lib/errors';

interface Recorded {
  readonly path: string;
  readonly body: Record<string, unknown>;
}

/** Answers CreateSchedule like the service: 200 with an ARN, 409 ConflictException for a taken name. */
function schedulerStandIn() {
  const recorded: Recorded[] = [];
  const names = new Set<string>();
  let failNext: { status: number; type: string } | undefined;
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let data = '';
      req.on('data', (c: Buffer) => {
        data += c.toString();
      });
      req.on('end', () => resolve(data));
    });
  const server: Server = createServer(async (req, res) => {
    const body = JSON.parse((await read(req)) || '{}') as Record<string, unknown>;
    const path = req.url ?? '';
    recorded.push({ path, body });
    const name = decodeURIComponent(path.replace(/^\/schedules\//, '').split('?')[0] ?? '');
    const reply = (status: number, type: string | undefined, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', ...(type ? { 'x-amzn-errortype': type } : {}) });
      res.end(JSON.stringify(payload));
    };
    if (failNext) {
      const f = failNext;
      failNext = undefined;
      return reply(f.status, f.type, { message: `${f.type} from the stand-in` });
    }
    if (names.has(name)) return reply(409, 'ConflictException', { message: `Schedule ${name} already exists.` });
    names.add(name);
    reply(200, undefined, { ScheduleArn: `arn:aws:scheduler:eu-west-1:123456789012:schedule/${String(body.GroupName)}/${name}` });
  });
  return {
    recorded,
    failNextWith(status: number, type: string) {
      failNext = { status, type };
    },
    async start(): Promise<string> {
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const QUEUE_URLS = {
  default: 'https://sqs.eu-west-1.amazonaws.com/123456789012/shop-default',
  reports: 'https://sqs.eu-west-1.amazonaws.com/123456789012/shop-reports',
};
const ROLE = 'arn:aws:iam::123456789012:role/shop-SchedulerRole';

describe('SchedulerDelayedSender (EventBridge Scheduler one-time schedules)', () => {
  const standIn = schedulerStandIn();
  let client: SchedulerClient;
  let sender: SchedulerDelayedSender;

  beforeAll(async () => {
    const endpoint = await standIn.start();
    client = new SchedulerClient({
      endpoint,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    sender = new SchedulerDelayedSender({ client, group: 'shop-schedules', roleArn: ROLE, queueUrls: QUEUE_URLS });
  });
  afterAll(async () => {
    client?.destroy();
    await standIn.stop();
  });
  beforeEach(() => {
    standIn.recorded.length = 0;
  });

  it('creates one one-time schedule: at(…) in UTC, no flexible window, deleted after it fires, the queue as target, the body as input', async () => {
    const at = Date.parse('2026-12-01T08:30:00.250Z');
    const message = { queue: 'reports', id: 'task-1', body: '{"v":1,"id":"task-1"}' };
    await sender.sendAt(message, at);

    expect(standIn.recorded).toHaveLength(1);
    const [req] = standIn.recorded;
    expect(req?.path).toBe(`/schedules/${scheduleName(message, at)}`);
    expect(req?.body).toMatchObject({
      GroupName: 'shop-schedules',
      ScheduleExpression: 'at(2026-12-01T08:30:01)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Target: { Arn: 'arn:aws:sqs:eu-west-1:123456789012:shop-reports', RoleArn: ROLE, Input: message.body },
    });
  });

  it('a message with a group id (fairness key) reaches its queue in that group: the target carries SqsParameters.MessageGroupId', async () => {
    const at = Date.parse('2026-12-01T09:00:00Z');
    await sender.sendAt({ queue: 'reports', id: 'task-g', body: '{}', groupId: 'tenant-7' }, at);
    expect(standIn.recorded[0]?.body).toMatchObject({ Target: { SqsParameters: { MessageGroupId: 'tenant-7' } } });
    standIn.recorded.length = 0;
    await sender.sendAt({ queue: 'reports', id: 'task-n', body: '{}' }, at);
    expect(standIn.recorded[0]?.body).toMatchObject({ Target: { Input: '{}' } });
    expect(standIn.recorded[0]?.body).not.toHaveProperty('Target.SqsParameters');
  });

  it('asking twice for the same message and time is one schedule (the second CreateSchedule meets ConflictException)', async () => {
    const at = Date.parse('2026-12-02T00:00:00Z');
    const message = { queue: 'default', id: 'task-2', body: '{}' };
    await sender.sendAt(message, at);
    await sender.sendAt(message, at);

    expect(standIn.recorded.map((r) => r.path)).toEqual([
      `/schedules/${scheduleName(message, at)}`,
      `/schedules/${scheduleName(message, at)}`,
    ]);
  });

  it('schedule names are valid for the service (1-64 of [0-9A-Za-z-_.]) and differ by queue, id and time', () => {
    const m = { queue: 'default', id: 'a/b c"d', body: '{}' };
    const names = [
      scheduleName(m, 1),
      scheduleName(m, 2),
      scheduleName({ ...m, id: 'other' }, 1),
      scheduleName({ ...m, queue: 'reports' }, 1),
    ];

    for (const n of names) expect(n).toMatch(/^[0-9A-Za-z._-]{1,64}$/);
    expect(new Set(names).size).toBe(4);
  });

  it('throttling is a retryable PUBLISH_FAILED; a refused request is not retryable', async () => {
    standIn.failNextWith(429, 'ThrottlingException');
    await expect(sender.sendAt({ queue: 'default', id: 't-3', body: '{}' }, Date.parse('2026-12-03T00:00:00Z'))).rejects.toMatchObject({
      code: ErrorCodes.PUBLISH_FAILED,
      retryable: true,
    });
    standIn.failNextWith(400, 'ValidationException');
    await expect(sender.sendAt({ queue: 'default', id: 't-4', body: '{}' }, Date.parse('2026-12-03T00:00:00Z'))).rejects.toMatchObject({
      code: ErrorCodes.PUBLISH_FAILED,
      retryable: false,
    });
  });

  it('a queue the configuration does not know fails with NOT_CONFIGURED before any request', async () => {
    await expect(sender.sendAt({ queue: 'nowhere', id: 't-5', body: '{}' }, Date.now() + 3_600_000)).rejects.toMatchObject({
      code: ErrorCodes.NOT_CONFIGURED,
    });
    expect(standIn.recorded).toEqual([]);
  });

  it('the AWS backend has it exactly when the stack set the schedule group and role', () => {
    const env = {
      CELERIAC_TABLE: 't',
      CELERIAC_QUEUE_URLS: JSON.stringify(QUEUE_URLS),
      AWS_REGION: 'eu-west-1',
    };
    const without = awsBackendFromEnv(env);
    const withIt = awsBackendFromEnv({ ...env, CELERIAC_SCHEDULER_GROUP: 'shop-schedules', CELERIAC_SCHEDULER_ROLE_ARN: ROLE });

    expect(without.delayed).toBeUndefined();
    expect(withIt.delayed).toBeInstanceOf(SchedulerDelayedSender);
    without.destroy();
    withIt.destroy();
  });
});

describe('at() expressions and queue ARNs', () => {
  it('rounds the due time up to the next whole second, in UTC', () => {
    expect(atExpression(Date.parse('2026-12-01T08:30:00.000Z'))).toBe('at(2026-12-01T08:30:00)');
    expect(atExpression(Date.parse('2026-12-01T08:30:00.001Z'))).toBe('at(2026-12-01T08:30:01)');
  });

  it('derives the ARN from AWS, China and LocalStack queue URLs', () => {
    expect(queueArnFromUrl('https://sqs.us-east-2.amazonaws.com/111122223333/q1')).toBe('arn:aws:sqs:us-east-2:111122223333:q1');
    expect(queueArnFromUrl('https://sqs.cn-north-1.amazonaws.com.cn/111122223333/q1')).toBe('arn:aws-cn:sqs:cn-north-1:111122223333:q1');
    expect(queueArnFromUrl('http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/q1')).toBe(
      'arn:aws:sqs:us-east-1:000000000000:q1',
    );
    expect(queueArnFromUrl('http://localhost:4566/000000000000/q1', 'eu-west-1')).toBe('arn:aws:sqs:eu-west-1:000000000000:q1');
    expect(() => queueArnFromUrl('http://localhost:4566/000000000000/q1')).toThrow(/cannot tell the ARN/);
  });
});

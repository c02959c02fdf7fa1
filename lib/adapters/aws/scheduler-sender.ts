/**
 * {@link DelayedSender} on EventBridge Scheduler: a countdown or eta past SQS's 15 minutes becomes
 * one one-time schedule (`at(…)`, deleted after it fires) in the app's schedule group, whose target
 * is the task's queue and whose input is the message body. The CDK stack creates the group and the
 * role Scheduler assumes, and lets workers create schedules in that group and pass that role.
 */
import { createHash } from 'node:crypto';
import { CreateScheduleCommand, type SchedulerClient } from '@aws-sdk/client-scheduler';
import { CeleriacError, ErrorCodes } from '../../errors';
import type { DelayedSender, OutgoingMessage } from '../../ports';
import { SCHEDULE_INPUT_MAX_BYTES } from '../../protocol/limits';

export interface SchedulerSenderOptions {
  readonly client: SchedulerClient;
  /** The schedule group (CELERIAC_SCHEDULER_GROUP). */
  readonly group: string;
  /** The role Scheduler assumes to send to the queues (CELERIAC_SCHEDULER_ROLE_ARN). */
  readonly roleArn: string;
  /** Logical queue name → queue URL (CELERIAC_QUEUE_URLS). */
  readonly queueUrls: Readonly<Record<string, string>>;
  /** Region of the queues, for their ARNs when a URL does not say (LocalStack's `localhost:4566/…`). */
  readonly region?: string;
}

export class SchedulerDelayedSender implements DelayedSender {
  /** EventBridge Scheduler takes a target input of up to 256 KiB; a larger body goes the hop way. */
  readonly maxBodyBytes = SCHEDULE_INPUT_MAX_BYTES;
  readonly #o: SchedulerSenderOptions;

  constructor(options: SchedulerSenderOptions) {
    this.#o = options;
  }

  async sendAt(message: OutgoingMessage, at: number): Promise<void> {
    const url = this.#o.queueUrls[message.queue];
    if (url === undefined) {
      throw new CeleriacError(ErrorCodes.NOT_CONFIGURED, `no URL for queue "${message.queue}" in CELERIAC_QUEUE_URLS; redeploy the stack`);
    }
    try {
      await this.#o.client.send(
        new CreateScheduleCommand({
          Name: scheduleName(message, at),
          GroupName: this.#o.group,
          ScheduleExpression: atExpression(at),
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          Description: `celeriac: ${message.id} on queue ${message.queue}`,
          Target: {
            Arn: queueArnFromUrl(url, this.#o.region),
            RoleArn: this.#o.roleArn,
            Input: message.body,
            // A long countdown arrives in its tenant's group too (Scheduler's SqsParameters).
            ...(message.groupId !== undefined ? { SqsParameters: { MessageGroupId: message.groupId } } : {}),
          },
        }),
      );
    } catch (e) {
      // The same name is the same message at the same time: a redelivered hop or a retried publish.
      if ((e as { name?: unknown }).name === 'ConflictException') return;
      const name = (e as { name?: unknown }).name;
      const throttled = name === 'ThrottlingException' || name === 'ServiceQuotaExceededException' || name === 'InternalServerException';
      throw new CeleriacError(
        ErrorCodes.PUBLISH_FAILED,
        `could not schedule ${message.id} for ${new Date(at).toISOString()}: ${String((e as Error).message ?? e)}`,
        {
          retryable: throttled,
          cause: e,
        },
      );
    }
  }
}

/**
 * `at(yyyy-mm-ddThh:mm:ss)` in UTC, rounded up to the next second (Scheduler fires within the
 * minute; a message that arrives early is delayed the rest of the way on SQS by the worker).
 */
export function atExpression(at: number): string {
  return `at(${new Date(Math.ceil(at / 1000) * 1000).toISOString().slice(0, 19)})`;
}

/**
 * A deterministic schedule name (1–64 of `[0-9A-Za-z-_.]`): the same message, queue and time give
 * the same name, so CreateSchedule is its own duplicate check.
 */
export function scheduleName(message: OutgoingMessage, at: number): string {
  const digest = createHash('sha256').update(`${message.queue}\n${message.id}\n${at}`).digest('hex');
  return `celeriac-${digest.slice(0, 48)}`;
}

/**
 * The ARN of the queue behind a queue URL: `https://sqs.<region>.amazonaws.com/<account>/<name>`
 * (or `…amazonaws.com.cn`, or an emulator's `http://host:4566/<account>/<name>`, whose region is
 * `region`).
 */
export function queueArnFromUrl(url: string, region?: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CeleriacError(ErrorCodes.NOT_CONFIGURED, `queue URL "${url}" is not a URL`);
  }
  const [account, name] = parsed.pathname.split('/').filter(Boolean);
  const fromHost = /^sqs[.-]([a-z0-9-]+)\./.exec(parsed.hostname)?.[1];
  const r = fromHost && fromHost !== 'localhost' ? fromHost : region;
  if (account === undefined || name === undefined || r === undefined) {
    throw new CeleriacError(
      ErrorCodes.NOT_CONFIGURED,
      `cannot tell the ARN of queue URL "${url}" (expected …/<account>/<name> and a region)`,
    );
  }
  const partition = r.startsWith('cn-') ? 'aws-cn' : r.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
  return `arn:${partition}:sqs:${r}:${account}:${name}`;
}

/**
 * `celeriac up`'s rule delivery (lib/up/events.ts) on its own: a rule from template properties,
 * recording ports instead of the emulators.
 */
import { describe, expect, it } from 'vitest';
import type { CapturedEvent } from '../../lib/local/emulators';
import { LocalEvents, ruleFromTemplate, TargetNotFoundError } from '../../lib/up/events';

const QUEUE = 'arn:aws:sqs:us-east-1:000000000000:stack-Q';

function rule(target: Record<string, unknown>) {
  const r = ruleFromTemplate('R', 'stack-R', 'arn:aws:events:us-east-1:000000000000:rule/stack-R', {
    EventPattern: { source: ['celeriac.shop'] },
    Targets: [{ Id: 'T', Arn: QUEUE, ...target }],
  });
  if (r === undefined) throw new Error('the rule is disabled');
  return r;
}

const entry: CapturedEvent = { Source: 'celeriac.shop', DetailType: 'task-succeeded', Detail: '{"id":"a"}', EventId: 'e1' };

describe('<aws.events.event.ingestion-time>', () => {
  it('is the time the event was received, not the entry’s own Time', async () => {
    const bodies: string[] = [];
    const events = new LocalEvents(
      [
        rule({
          InputTransformer: { InputPathsMap: { time: '$.time' }, InputTemplate: '{"at":<aws.events.event.ingestion-time>,"time":<time>}' },
        }),
      ],
      { deliver: async (_arn, body) => void bodies.push(body), deadLetter: async () => {}, onError: () => {} },
      'us-east-1',
    );
    const before = Math.floor(Date.now() / 1000) * 1000;
    events.ingest([{ ...entry, Time: Date.UTC(2001, 0, 1) / 1000 }]);
    await events.idle();
    const body = JSON.parse(bodies[0] ?? '{}') as { at: string; time: string };
    expect(body.time).toBe('2001-01-01T00:00:00Z');
    expect(body.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(body.at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(body.at)).toBeLessThanOrEqual(Date.now());
  });
});

describe('a delivery that fails because', () => {
  const DLQ = 'arn:aws:sqs:us-east-1:000000000000:stack-EventsDlq';

  /** A rule whose one target fails every delivery with `error`; its DLQ and the attempts are recorded. */
  function failing(error: unknown, retryPolicy?: { MaximumRetryAttempts: number }) {
    let attempts = 0;
    const dead: string[] = [];
    const logs: string[] = [];
    const events = new LocalEvents(
      [rule({ DeadLetterConfig: { Arn: DLQ }, ...(retryPolicy === undefined ? {} : { RetryPolicy: retryPolicy }) })],
      {
        deliver: async () => {
          attempts++;
          throw error;
        },
        deadLetter: async (arn) => void dead.push(arn),
        onError: (m) => void logs.push(m),
      },
      'us-east-1',
      0, // no delay between attempts: the policy is under test, not the clock
    );
    return { events, attempts: () => attempts, dead, logs };
  }

  // EventBridge: "for errors that result from missing permissions to a target, or a target resource
  // that no longer exists … Rather than retrying, EventBridge sends these events directly to the DLQ".
  const permanent: [string, unknown][] = [
    [
      'the queue does not exist (SQS QueueDoesNotExist)',
      Object.assign(new Error('The specified queue does not exist.'), {
        name: 'QueueDoesNotExist',
        Code: 'AWS.SimpleQueueService.NonExistentQueue',
        $metadata: { httpStatusCode: 400 },
      }),
    ],
    [
      'the function does not exist (Lambda ResourceNotFoundException)',
      Object.assign(new Error('Function not found'), { name: 'ResourceNotFoundException' }),
    ],
    [
      'the target ARN is no queue or function of the stack',
      new TargetNotFoundError(`target ${QUEUE} is not a queue or function of this stack`),
    ],
    ['access is denied (SQS AccessDenied)', Object.assign(new Error('Access to the resource is denied.'), { name: 'AccessDenied' })],
    ['access is denied (AccessDeniedException)', Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' })],
  ];
  for (const [what, error] of permanent) {
    it(`${what} is not retried: one attempt, then the DLQ`, async () => {
      const s = failing(error);
      s.events.ingest([entry]);
      await s.events.idle();
      expect(s.attempts()).toBe(1);
      expect(s.dead).toEqual([DLQ]);
      expect(s.logs[0]).toContain('not retried');
    });
  }

  it('of anything else is retried by the target’s retry policy: the first attempt and MaximumRetryAttempts more, then the DLQ', async () => {
    const s = failing(Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } }), {
      MaximumRetryAttempts: 3,
    });
    s.events.ingest([entry]);
    await s.events.idle();
    expect(s.attempts()).toBe(4);
    expect(s.dead).toEqual([DLQ]);
  });
});

/**
 * `celeriac up`'s rule delivery (lib/up/events.ts) on its own: a rule from template properties,
 * recording ports instead of the emulators.
 */
import { describe, expect, it } from 'vitest';
import type { CapturedEvent } from '../../lib/local/emulators';
import { LocalEvents, ruleFromTemplate } from '../../lib/up/events';

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

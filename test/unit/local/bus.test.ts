import { describe, expect, it } from 'vitest';
import { LocalBus } from '../../../lib/local/bus';
import type { OutgoingMessage } from '../../../lib/ports';
import { buildTopology, type Topology } from '../../../lib/routing';

/** A topology with one rule whose input transformer renders `template`, and a bus recording what it sends. */
function busWith(template: string, clock?: { now(): number }) {
  const base = buildTopology({
    app: 'shop',
    tasks: [{ name: 'a', queue: 'default', events: true }],
    links: [],
    subscribers: [],
    periodic: [],
    queues: [],
  });
  const topology: Topology = {
    ...base,
    queueOf: base.queueOf,
    queueOwners: base.queueOwners,
    rules: [
      {
        name: 'r',
        description: 'r',
        eventPattern: { source: ['celeriac.shop'], 'detail-type': ['task-succeeded'] },
        target: { kind: 'queue', queue: 'default', task: 'a' },
        inputTransformer: { inputPathsMap: { time: '$.time' }, inputTemplate: template },
      },
    ],
  };
  const sent: OutgoingMessage[] = [];
  const bus = new LocalBus({
    topology,
    broker: { send: async (m) => void sent.push(...m) },
    loadSubscriber: async () => undefined,
    onError: () => {},
    ...(clock === undefined ? {} : { clock }),
  });
  return { bus, sent };
}

const old = Date.UTC(2001, 0, 1);
const entry = { id: 'e1', source: 'celeriac.shop', detailType: 'task-succeeded', detail: { id: 'x' }, time: old };

describe('LocalBus: <aws.events.event.ingestion-time>', () => {
  it('is the time the bus received the event, not the event’s own time', async () => {
    const { bus, sent } = busWith('{"at":<aws.events.event.ingestion-time>,"time":<time>}');
    const before = Math.floor(Date.now() / 1000) * 1000;
    bus.ingest([entry]);
    await bus.idle();
    const body = JSON.parse(sent[0]?.body ?? '{}') as { at: string; time: string };
    expect(body.time).toBe('2001-01-01T00:00:00Z');
    expect(body.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(body.at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(body.at)).toBeLessThanOrEqual(Date.now());
  });

  it('reads the bus’s clock (local time, which tick() moves), taken when the event comes in', async () => {
    let now = Date.UTC(2030, 5, 1, 12, 0, 0, 750);
    const { bus, sent } = busWith('"<aws.events.event.ingestion-time>"', { now: () => now });
    bus.ingest([entry]);
    now += 3_600_000; // later, while the delivery is under way
    await bus.idle();
    expect(sent[0]?.body).toBe('"2030-06-01T12:00:00Z"');
  });
});

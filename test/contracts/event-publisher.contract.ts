/**
 * The EventPublisher contract: every event reaches the bus once, in batches the bus accepts,
 * held by the memory publisher and by the EventBridge publisher against the capture endpoint.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BusEvent, EventPublisher } from '../../lib/ports';

export interface EventPublisherHarness {
  readonly publisher: EventPublisher;
  /** Every event the bus has accepted so far, oldest first, in the port's shape. */
  received(): readonly BusEvent[];
}

const event = (detail: BusEvent['detail'], detailType = 'task.succeeded'): BusEvent => ({
  source: 'celeriac.shop',
  detailType,
  detail,
  time: 1_700_000_000_000,
});

export function eventPublisherContract(name: string, setup: () => EventPublisherHarness | Promise<EventPublisherHarness>): void {
  describe(`EventPublisher contract: ${name}`, () => {
    let h: EventPublisherHarness;
    beforeAll(async () => {
      h = await setup();
    });
    /** Events of this test only: the bus is shared by the whole suite. */
    const mine = (run: string) => h.received().filter((e) => e.detail.run === run);

    it('publishes an event with its source, detail type, detail and time', async () => {
      const run = randomUUID();
      const e: BusEvent = {
        ...event({ run, id: 't1', task: 'add', state: 'SUCCESS', result: { total: 5 }, attempt: 0 }),
        resources: ['arn:aws:sqs:x'],
      };
      await h.publisher.publish([e]);
      expect(mine(run)).toEqual([e]);
    });

    it('publishes nothing for an empty list', async () => {
      const before = h.received().length;
      await h.publisher.publish([]);
      expect(h.received()).toHaveLength(before);
    });

    // EventBridge promises no order between entries, so neither does the port.
    const ids = (run: string) =>
      mine(run)
        .map((e) => String(e.detail.id))
        .sort();

    it('publishes more than 10 events in one call, each once', async () => {
      const run = randomUUID();
      const events = Array.from({ length: 25 }, (_, i) => event({ run, id: `t${i}` }));
      await h.publisher.publish(events);
      expect(ids(run)).toEqual(events.map((e) => String(e.detail.id)).sort());
    });

    it('publishes events of many concurrent calls, each once', async () => {
      const run = randomUUID();
      await Promise.all(Array.from({ length: 30 }, (_, i) => h.publisher.publish([event({ run, id: `c${i}` })])));
      expect(ids(run)).toEqual(Array.from({ length: 30 }, (_, i) => `c${i}`).sort());
    });

    it('publishes large events that together exceed one request (5 × 100 KB)', async () => {
      const run = randomUUID();
      const events = Array.from({ length: 5 }, (_, i) => event({ run, id: `big${i}`, pad: 'p'.repeat(100_000) }));
      await h.publisher.publish(events);
      expect(ids(run)).toEqual(['big0', 'big1', 'big2', 'big3', 'big4']);
    });

    it('refuses an event over 256 KB with MESSAGE_TOO_LARGE, publishing nothing of that call', async () => {
      const run = randomUUID();
      const err = await h.publisher
        .publish([event({ run, id: 'ok' }), event({ run, id: 'huge', pad: 'p'.repeat(300_000) })])
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'MESSAGE_TOO_LARGE', retryable: false });
      expect((err as Error).message).toMatch(/task huge.*262144 bytes/);
      expect(mine(run)).toEqual([]);
    });
  });
}

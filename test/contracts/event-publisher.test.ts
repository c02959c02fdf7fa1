import { randomUUID } from 'node:crypto';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { awsBackend, awsBackendFromEnv, EventBridgePublisher } from '../../lib/adapters/aws';
import { MemoryEventPublisher } from '../../lib/adapters/memory';
import { type CapturedEvent, type EventBridgeEndpoint, startEventBridgeEndpoint } from '../../lib/local/emulators';
import type { BusEvent } from '../../lib/ports';
import { clientConfig, fastRetry, testConfig } from './aws-helpers';
import { eventPublisherContract } from './event-publisher.contract';

const event = (detail: BusEvent['detail']): BusEvent => ({
  source: 'celeriac.shop',
  detailType: 'task.succeeded',
  detail,
  time: 1_700_000_000_000,
});

// ── memory ───────────────────────────────────────────────────────────────────────────────────

eventPublisherContract('memory', () => {
  const publisher = new MemoryEventPublisher();
  return { publisher, received: () => publisher.events };
});

describe('MemoryEventPublisher specifics', () => {
  it('hands each published batch to subscribers and awaits them, until unsubscribed', async () => {
    const publisher = new MemoryEventPublisher();
    const batches: string[][] = [];
    const off = publisher.subscribe(async (events) => {
      await new Promise((r) => setTimeout(r, 5));
      batches.push(events.map((e) => String(e.detail.id)));
    });
    await publisher.publish([event({ id: 'a' }), event({ id: 'b' })]);
    expect(batches).toEqual([['a', 'b']]);
    off();
    await publisher.publish([event({ id: 'c' })]);
    expect(batches).toHaveLength(1);
  });

  it('never fails a publish because a subscriber failed (as EventBridge targets)', async () => {
    const errors: unknown[] = [];
    const publisher = new MemoryEventPublisher({ onListenerError: (e) => errors.push(e) });
    publisher.subscribe(() => {
      throw new Error('sync boom');
    });
    publisher.subscribe(async () => {
      throw new Error('async boom');
    });
    await publisher.publish([event({ id: 'a' })]);
    expect(errors.map((e) => (e as Error).message).sort()).toEqual(['async boom', 'sync boom']);
    expect(publisher.events).toHaveLength(1);
  });

  it('records copies: mutating a published event afterwards changes nothing', async () => {
    const publisher = new MemoryEventPublisher();
    const e = event({ id: 'a', list: [1] });
    await publisher.publish([e]);
    (e.detail.list as number[]).push(2);
    expect(publisher.events[0]?.detail.list).toEqual([1]);
  });

  it('keeps only recent events past `keep`, so long runs stay bounded', async () => {
    const publisher = new MemoryEventPublisher({ keep: 10 });
    for (let i = 0; i < 100; i++) await publisher.publish([event({ id: i })]);
    expect(publisher.events.length).toBeGreaterThanOrEqual(10);
    expect(publisher.events.length).toBeLessThanOrEqual(20);
    expect(publisher.events.at(-1)?.detail.id).toBe(99);
  });
});

// ── EventBridge via the capture endpoint ─────────────────────────────────────────────────────

/** The port's view of a captured entry. */
const toBusEvent = (c: CapturedEvent): BusEvent => ({
  source: c.Source,
  detailType: c.DetailType,
  detail: JSON.parse(c.Detail) as BusEvent['detail'],
  time: Math.round((c.Time ?? 0) * 1000),
  ...(c.Resources === undefined ? {} : { resources: c.Resources }),
});

describe('EventBridge (capture endpoint)', () => {
  let bus: EventBridgeEndpoint;
  beforeAll(async () => {
    bus = await startEventBridgeEndpoint();
  });
  afterAll(async () => {
    await bus?.stop();
  });
  afterEach(() => bus.setFailures(undefined));

  eventPublisherContract('EventBridgePublisher on the capture endpoint', () => {
    const backend = awsBackend(testConfig(), { endpoints: { eventbridge: bus.endpoint }, clientConfig, retry: fastRetry });
    return { publisher: backend.events, received: () => bus.events.map(toBusEvent) };
  });

  describe('capture endpoint specifics', () => {
    const raw = () => new EventBridgeClient({ ...clientConfig, endpoint: bus.endpoint, maxAttempts: 1 });
    const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

    it('gives every accepted event a version 4 UUID as its id, as EventBridge does', async () => {
      const client = raw();
      const out = await client.send(
        new PutEventsCommand({
          Entries: [
            { Source: 'celeriac.shop', DetailType: 'task-succeeded', Detail: '{"id":"a"}' },
            { Source: 'celeriac.shop', DetailType: 'task-succeeded', Detail: '{"id":"b"}' },
          ],
        }),
      );
      client.destroy();
      const ids = (out.Entries ?? []).map((e) => e.EventId);
      for (const id of ids) expect(id).toMatch(UUID_V4);
      expect(new Set(ids).size).toBe(2);
      expect(bus.events.slice(-2).map((e) => e.EventId)).toEqual(ids);
    });

    it('refuses an entry whose source begins with "aws." (reserved for AWS services), accepting the others of the request', async () => {
      const run = randomUUID();
      const client = raw();
      const out = await client.send(
        new PutEventsCommand({
          Entries: [
            { Source: 'aws.ec2', DetailType: 'x', Detail: JSON.stringify({ run, id: 'reserved' }) },
            { Source: 'celeriac.shop', DetailType: 'x', Detail: JSON.stringify({ run, id: 'fine' }) },
          ],
        }),
      );
      client.destroy();
      expect(out.FailedEntryCount).toBe(1);
      expect(out.Entries?.[0]).toEqual({ ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: expect.stringContaining('"aws."') });
      expect(out.Entries?.[1]?.EventId).toMatch(UUID_V4);
      expect(bus.events.filter((e) => e.Detail.includes(run)).map((e) => e.Source)).toEqual(['celeriac.shop']);
    });
  });

  describe('EventBridgePublisher specifics', () => {
    const publisher = (retry = fastRetry) =>
      new EventBridgePublisher({ client: new EventBridgeClient({ ...clientConfig, endpoint: bus.endpoint }), bus: 'celeriac-bus', retry });
    const mine = (run: string) => bus.events.filter((e) => (JSON.parse(e.Detail) as { run?: string }).run === run);

    it('sends every entry to the configured bus, at most 10 entries per PutEvents request', async () => {
      const run = randomUUID();
      const before = bus.requests;
      await publisher().publish(Array.from({ length: 25 }, (_, i) => event({ run, id: `e${i}` })));
      expect(bus.requests - before).toBe(3);
      expect(mine(run)).toHaveLength(25);
      expect(new Set(mine(run).map((e) => e.EventBusName))).toEqual(new Set(['celeriac-bus']));
    });

    it('keeps each PutEvents request under 256 KB', async () => {
      const run = randomUUID();
      const sizes: number[] = [];
      const sized = await startEventBridgeEndpoint({ onEvents: (es) => void sizes.push(es.reduce((n, e) => n + e.Detail.length, 0)) });
      try {
        const p = new EventBridgePublisher({
          client: new EventBridgeClient({ ...clientConfig, endpoint: sized.endpoint }),
          retry: fastRetry,
        });
        await p.publish(Array.from({ length: 5 }, (_, i) => event({ run, id: `big${i}`, pad: 'p'.repeat(100_000) })));
        expect(sized.events).toHaveLength(5);
        expect(sizes.length).toBeGreaterThanOrEqual(3);
        for (const s of sizes) expect(s).toBeLessThanOrEqual(262_144);
      } finally {
        await sized.stop();
      }
    });

    it('resends entries PutEvents reports as failed, and only those', async () => {
      const run = randomUUID();
      bus.setFailures({
        entry: (e, { attempt }) => (e.Detail.includes('flaky') && attempt === 1 ? { errorCode: 'InternalFailure' } : undefined),
      });
      await publisher().publish([event({ run, id: 'steady' }), event({ run, id: 'flaky' })]);
      expect(mine(run).map((e) => (JSON.parse(e.Detail) as { id: string }).id)).toEqual(['steady', 'flaky']);
    });

    it('retries a request that failed with HTTP 500', async () => {
      const run = randomUUID();
      const first = bus.requests + 1;
      bus.setFailures({ request: (n) => (n === first ? 'server' : undefined) });
      await publisher().publish([event({ run, id: 'after-500' })]);
      expect(mine(run)).toHaveLength(1);
      expect(bus.requests).toBeGreaterThan(first);
    });

    it('retries a throttled request', async () => {
      const run = randomUUID();
      const first = bus.requests + 1;
      bus.setFailures({ request: (n) => (n <= first + 1 ? 'throttle' : undefined) });
      await publisher().publish([event({ run, id: 'after-throttle' })]);
      expect(mine(run)).toHaveLength(1);
    });

    it('rejects with PUBLISH_FAILED (retryable) after the bounded retries of an entry that keeps failing', async () => {
      const run = randomUUID();
      bus.setFailures({ entry: (e) => (e.Detail.includes('doomed') ? { errorCode: 'InternalFailure', errorMessage: 'nope' } : undefined) });
      const err = await publisher()
        .publish([event({ run, id: 'fine' }), event({ run, id: 'doomed' })])
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PUBLISH_FAILED', retryable: true, details: { failed: [{ code: 'InternalFailure' }] } });
      expect((err as Error).message).toContain('task.succeeded doomed');
      expect(mine(run).map((e) => (JSON.parse(e.Detail) as { id: string }).id)).toEqual(['fine']);
    });

    it.each([
      'MalformedDetail',
      'InvalidArgument',
      'AccessDeniedException',
      'InvalidAccountIdException',
      'RedactionFailure',
      'NotAuthorizedForSourceException',
      'NotAuthorizedForDetailTypeException',
    ])(
      'does not retry an entry rejected for good (%s, non-retryable in the PutEvents reference): PUBLISH_FAILED, not retryable',
      async (errorCode) => {
        const run = randomUUID();
        let seen = 0;
        bus.setFailures({
          entry: (e) => {
            if (!e.Detail.includes(run)) return undefined;
            seen++;
            return { errorCode };
          },
        });
        await expect(publisher().publish([event({ run, id: 'bad' })])).rejects.toMatchObject({ code: 'PUBLISH_FAILED', retryable: false });
        expect(seen).toBe(1);
      },
    );

    it('rejects with PUBLISH_FAILED (retryable) when every request fails', async () => {
      bus.setFailures({ request: () => 'server' });
      await expect(publisher({ attempts: 2, baseMs: 1, capMs: 2 }).publish([event({ id: 'x' })])).rejects.toMatchObject({
        code: 'PUBLISH_FAILED',
        retryable: true,
      });
    });

    it('publishes nothing when CELERIAC_EVENTS=off', async () => {
      const before = bus.requests;
      const backend = awsBackend(testConfig({ CELERIAC_EVENTS: 'off' }), { endpoints: { eventbridge: bus.endpoint }, clientConfig });
      await backend.events.publish([event({ id: 'silent' })]);
      expect(bus.requests).toBe(before);
      backend.destroy();
    });

    it('honours AWS_ENDPOINT_URL_EVENTBRIDGE from the env map, and from process.env via the SDK', async () => {
      const run = randomUUID();
      const fromMap = awsBackendFromEnv(
        { CELERIAC_TABLE: 't', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint },
        { clientConfig },
      );
      await fromMap.events.publish([event({ run, id: 'map' })]);
      fromMap.destroy();
      const saved = process.env.AWS_ENDPOINT_URL_EVENTBRIDGE;
      process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = bus.endpoint;
      try {
        const fromProcess = awsBackend(testConfig(), { clientConfig });
        await fromProcess.events.publish([event({ run, id: 'process' })]);
        fromProcess.destroy();
      } finally {
        if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_EVENTBRIDGE;
        else process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = saved;
      }
      expect(mine(run).map((e) => (JSON.parse(e.Detail) as { id: string }).id)).toEqual(['map', 'process']);
    });
  });
});

import { randomUUID } from 'node:crypto';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsBackend, awsBackendFromEnv, SqsBroker } from '../../lib/adapters/aws';
import { escapeNonBmpInJson } from '../../lib/adapters/aws/sqs-broker';
import { fakeClock, MemoryBroker } from '../../lib/adapters/memory';
import { type Emulator, ensureQueue, startFauxqs } from '../../lib/local/emulators';
import { clientConfig, countCommands, fastRetry, sdkError, stubClient, testConfig } from './aws-helpers';
import { brokerContract } from './broker.contract';

let n = 0;
const msg = (queue: string, body: string) => ({ queue, id: randomUUID(), body });

// ── memory ───────────────────────────────────────────────────────────────────────────────────

brokerContract('memory', () => {
  const clock = fakeClock();
  const broker = new MemoryBroker({ clock });
  return {
    broker,
    async newQueue(opts) {
      const name = `q${++n}`;
      if (opts?.maxReceiveCount === undefined) return { name };
      broker.configureQueue(name, { redrive: { queue: `${name}-dlq`, maxReceiveCount: opts.maxReceiveCount } });
      return { name, dlq: `${name}-dlq` };
    },
    elapse: (ms) => clock.advance(ms),
    now: () => clock.now(),
  };
});

describe('MemoryBroker specifics', () => {
  describe('fair receive across message groups (SQS fair queues)', () => {
    const take = async (broker: MemoryBroker, max = 1) =>
      (await broker.receive('q', { max, visibilityTimeoutSeconds: 30, waitMs: 0 })).map((m) => m.body);
    const sendAll = (broker: MemoryBroker, bodies: string[], groupId?: string) =>
      broker.send(bodies.map((body) => ({ ...msg('q', body), ...(groupId === undefined ? {} : { groupId }) })));

    it('a quiet tenant’s message is received before a noisy tenant’s backlog, once the noisy one has messages in flight', async () => {
      const broker = new MemoryBroker();
      await sendAll(
        broker,
        Array.from({ length: 100 }, (_, i) => `noisy-${i}`),
        'noisy',
      );
      await sendAll(broker, ['quiet-0', 'quiet-1'], 'quiet');
      // Oldest first while nobody has anything in flight; then the tenant with fewer in flight.
      expect(await take(broker, 4)).toEqual(['noisy-0', 'quiet-0', 'noisy-1', 'quiet-1']);
      expect(await take(broker, 2)).toEqual(['noisy-2', 'noisy-3']);
    });

    it('takes from the tenant with the fewest messages in flight; a delete frees its share', async () => {
      const broker = new MemoryBroker();
      await sendAll(broker, ['a0', 'a1', 'a2'], 'a');
      const [first] = await broker.receive('q', { max: 1, visibilityTimeoutSeconds: 30, waitMs: 0 });
      await sendAll(broker, ['b0', 'b1'], 'b');
      // a has 1 in flight, b none: b first; once a's is deleted, a has none in flight again.
      expect(await take(broker)).toEqual(['b0']);
      await broker.delete('q', [first?.receiptHandle as string]);
      expect(await take(broker)).toEqual(['a1']);
      // Both have 1 in flight: the oldest (a2) first; then b has fewer.
      expect(await take(broker, 2)).toEqual(['a2', 'b1']);
    });

    it('a message without a group id counts as a tenant of its own (none in flight), as on SQS', async () => {
      const broker = new MemoryBroker();
      await sendAll(broker, ['n0', 'n1', 'n2'], 'noisy');
      await take(broker, 2);
      await sendAll(broker, ['plain']);
      expect(await take(broker)).toEqual(['plain']);
    });

    it('without group ids the order is unchanged (oldest first)', async () => {
      const broker = new MemoryBroker();
      await sendAll(broker, ['1', '2', '3']);
      expect(await take(broker, 3)).toEqual(['1', '2', '3']);
    });

    it('a message whose visibility ran out counts out of flight and comes back in its group, with its group id as an attribute', async () => {
      const clock = fakeClock();
      const broker = new MemoryBroker({ clock });
      await sendAll(broker, ['a0', 'a1'], 'a');
      await broker.receive('q', { max: 2, visibilityTimeoutSeconds: 1, waitMs: 0 });
      await sendAll(broker, ['b0'], 'b');
      await clock.advance(1_000);
      const got = await broker.receive('q', { max: 3, visibilityTimeoutSeconds: 30, waitMs: 0 });
      // b0 became visible before a0 and a1 came back: it is older, and b has none in flight.
      expect(got.map((m) => m.body)).toEqual(['b0', 'a0', 'a1']);
      expect(got.map((m) => m.attributes?.MessageGroupId)).toEqual(['b', 'a', 'a']);
      expect(await broker.depth('q')).toEqual({ visible: 0, inFlight: 3, delayed: 0 });
    });
  });

  it('tells onSend listeners how many messages landed in which queue, until unsubscribed', async () => {
    const broker = new MemoryBroker();
    const seen: [string, number][] = [];
    const off = broker.onSend((q, count) => seen.push([q, count]));
    await broker.send([msg('a', '1'), msg('b', '2'), msg('a', '3')]);
    off();
    await broker.send([msg('a', '4')]);
    expect(seen).toEqual([
      ['a', 2],
      ['b', 1],
    ]);
  });

  it('waitForMessage resolves true when a message arrives, false when the wait ends', async () => {
    const clock = fakeClock();
    const broker = new MemoryBroker({ clock });
    const arrives = broker.waitForMessage('q', 10_000);
    await broker.send([msg('q', 'x')]);
    expect(await arrives).toBe(true);
    expect(await broker.waitForMessage('q', 10_000)).toBe(true);
    const times = broker.waitForMessage('empty', 5_000);
    await clock.advance(5_000);
    expect(await times).toBe(false);
  });

  it('waitForMessage wakes when a delayed message becomes visible', async () => {
    const clock = fakeClock();
    const broker = new MemoryBroker({ clock });
    await broker.send([{ ...msg('q', 'later'), delaySeconds: 3 }]);
    const woke = broker.waitForMessage('q', 60_000);
    await clock.advance(3_000);
    expect(await woke).toBe(true);
  });

  it('keeps memory bounded when messages are received and deleted at volume', async () => {
    const broker = new MemoryBroker();
    for (let round = 0; round < 50; round++) {
      await broker.send(Array.from({ length: 1_000 }, (_, i) => msg('hot', String(i))));
      for (;;) {
        const got = await broker.receive('hot', { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
        if (got.length === 0) break;
        await broker.delete(
          'hot',
          got.map((m) => m.receiptHandle),
        );
      }
    }
    expect(await broker.depth('hot')).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    // 50,000 deleted deliveries left at most a bounded number of stale timeout entries.
    const timers = (broker as unknown as { queues: Map<string, { timers: { size: number } }> }).queues.get('hot')?.timers.size ?? 0;
    expect(timers).toBeLessThanOrEqual(1_024);
  });
});

// ── SQS on fauxqs ────────────────────────────────────────────────────────────────────────────

describe('SQS (fauxqs)', () => {
  let fauxqs: Emulator;
  beforeAll(async () => {
    fauxqs = await startFauxqs();
  });
  afterAll(async () => {
    await fauxqs?.stop();
  });

  const newQueue = async (opts?: { maxReceiveCount?: number }) => {
    const name = `celeriac-${++n}-${randomUUID().slice(0, 8)}`;
    if (opts?.maxReceiveCount === undefined) {
      await ensureQueue(fauxqs.endpoint, name);
      return { name };
    }
    await ensureQueue(fauxqs.endpoint, name, { dlqName: `${name}-dlq`, maxReceiveCount: opts.maxReceiveCount });
    return { name, dlq: `${name}-dlq` };
  };

  brokerContract('SqsBroker on fauxqs', () => {
    // fauxqs refuses characters beyond U+FFFF that SQS accepts; emulated mode escapes them.
    const backend = awsBackend(testConfig(), {
      endpoints: { sqs: fauxqs.endpoint },
      clientConfig,
      retry: fastRetry,
      escapeNonBmpInJson: true,
    });
    return {
      broker: backend.broker,
      newQueue,
      elapse: (ms) => new Promise((r) => setTimeout(r, ms)),
      now: () => Date.now(),
    };
  });

  describe('SqsBroker specifics', () => {
    it('coalesces concurrent sends into SendMessageBatch requests of at most 10', async () => {
      const backend = awsBackend(testConfig(), { endpoints: { sqs: fauxqs.endpoint }, clientConfig });
      const calls = countCommands(backend.clients.sqs as never);
      const { name } = await newQueue();
      await Promise.all(Array.from({ length: 25 }, (_, i) => backend.broker.send([msg(name, `m${i}`)])));
      expect(calls.filter((c) => c === 'SendMessageBatchCommand')).toHaveLength(3);
      expect(calls).not.toContain('SendMessageCommand');
      expect(await backend.broker.depth(name)).toEqual({ visible: 25, inFlight: 0, delayed: 0 });
      backend.destroy();
    });

    it('uses CELERIAC_QUEUE_URLS when a queue is listed, GetQueueUrl (once, cached) when not', async () => {
      const listed = await newQueue();
      const other = await newQueue();
      const { url } = await ensureQueue(fauxqs.endpoint, listed.name);
      const backend = awsBackend(testConfig({ CELERIAC_QUEUE_URLS: JSON.stringify({ orders: url }) }), {
        endpoints: { sqs: fauxqs.endpoint },
        clientConfig,
      });
      const calls = countCommands(backend.clients.sqs as never);
      await backend.broker.send([msg('orders', 'via map')]);
      await backend.broker.send([msg(other.name, 'via lookup')]);
      await backend.broker.send([msg(other.name, 'cached')]);
      expect(calls.filter((c) => c === 'GetQueueUrlCommand')).toHaveLength(1);
      expect((await backend.broker.depth(listed.name)).visible).toBe(1);
      expect((await backend.broker.depth(other.name)).visible).toBe(2);
      backend.destroy();
    });

    it('rejects a send to a queue that does not exist with PUBLISH_FAILED (not retryable), naming the queue', async () => {
      const backend = awsBackend(testConfig(), { endpoints: { sqs: fauxqs.endpoint }, clientConfig, retry: fastRetry });
      const err = await backend.broker.send([msg('no-such-queue', 'x')]).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'PUBLISH_FAILED', retryable: false });
      expect((err as Error).message).toContain('no-such-queue');
      backend.destroy();
    });

    it('ensureQueue is idempotent and updates the attributes of an existing queue', async () => {
      const name = `ensure-${randomUUID().slice(0, 8)}`;
      const first = await ensureQueue(fauxqs.endpoint, name, { visibilityTimeoutSeconds: 5 });
      const again = await ensureQueue(fauxqs.endpoint, name, { visibilityTimeoutSeconds: 7, dlqName: `${name}-dlq`, maxReceiveCount: 3 });
      expect(again.url).toBe(first.url);
      expect(again.dlqUrl).toContain(`${name}-dlq`);
      const client = new SQSClient({ ...clientConfig, endpoint: fauxqs.endpoint, useQueueUrlAsEndpoint: false });
      const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: again.url, AttributeNames: ['All'] }));
      client.destroy();
      expect(Attributes?.VisibilityTimeout).toBe('7');
      expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toMatchObject({ maxReceiveCount: expect.anything() });
      expect(String(JSON.parse(Attributes?.RedrivePolicy ?? '{}').deadLetterTargetArn)).toContain(`${name}-dlq`);
    });

    it('honours AWS_ENDPOINT_URL_SQS from the env map (awsBackendFromEnv)', async () => {
      const { name } = await newQueue();
      const backend = awsBackendFromEnv(
        {
          CELERIAC_TABLE: 'unused',
          AWS_REGION: 'us-east-1',
          AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
          AWS_ENDPOINT_URL_SQS: fauxqs.endpoint,
        },
        { clientConfig },
      );
      await backend.broker.send([msg(name, 'env')]);
      expect((await backend.broker.depth(name)).visible).toBe(1);
      backend.destroy();
    });

    it('honours AWS_ENDPOINT_URL_SQS set in process.env (read by the SDK itself)', async () => {
      const { name } = await newQueue();
      const saved = process.env.AWS_ENDPOINT_URL_SQS;
      process.env.AWS_ENDPOINT_URL_SQS = fauxqs.endpoint;
      try {
        const backend = awsBackend(testConfig(), { clientConfig });
        await backend.broker.send([msg(name, 'sdk env')]);
        expect((await backend.broker.depth(name)).visible).toBe(1);
        backend.destroy();
      } finally {
        if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SQS;
        else process.env.AWS_ENDPOINT_URL_SQS = saved;
      }
    });
  });

  describe('SqsBroker failure handling (stub client)', () => {
    const url = 'https://sqs.us-east-1.amazonaws.com/123456789012/tasks';
    const ok = (entries: { Id: string }[]) => ({ Successful: entries.map((e) => ({ Id: e.Id, MessageId: randomUUID() })), Failed: [] });
    const brokerWith = (handler: Parameters<typeof stubClient>[0]) => {
      const { client, calls } = stubClient<SQSClient>(handler);
      return { broker: new SqsBroker({ client, queueUrls: { tasks: url }, retry: fastRetry }), calls };
    };

    it('resends only the entries SQS failed for a transient reason, then resolves', async () => {
      const { broker, calls } = brokerWith((cmd, call) => {
        const entries = cmd.input.Entries as { Id: string; MessageBody: string }[];
        if (call === 1) {
          return {
            Successful: [{ Id: '0', MessageId: 'a' }],
            Failed: [{ Id: '1', Code: 'InternalError', SenderFault: false, Message: 'try again' }],
          };
        }
        return ok(entries);
      });
      await broker.send([msg('tasks', 'first'), msg('tasks', 'second')]);
      expect(calls).toHaveLength(2);
      expect((calls[1]?.input.Entries as { MessageBody: string }[] | undefined)?.map((e) => e.MessageBody)).toEqual(['second']);
    });

    it('sends a group id as the entry’s MessageGroupId (fair queues), and none for a message without one', async () => {
      const { broker, calls } = brokerWith((cmd) => ok(cmd.input.Entries as { Id: string }[]));
      await broker.send([{ ...msg('tasks', 'a'), groupId: 'tenant-a' }, msg('tasks', 'b')]);
      const entries = calls[0]?.input.Entries as { MessageBody: string; MessageGroupId?: string }[];
      expect(entries.map((e) => [e.MessageBody, e.MessageGroupId])).toEqual([
        ['a', 'tenant-a'],
        ['b', undefined],
      ]);
    });

    it('retries a whole batch that failed with throttling after the SDK’s own retries', async () => {
      const { broker, calls } = brokerWith((cmd, call) => {
        if (call === 1) throw sdkError('RequestThrottled', 400);
        return ok(cmd.input.Entries as { Id: string }[]);
      });
      await broker.send([msg('tasks', 'x')]);
      expect(calls).toHaveLength(2);
    });

    it('gives up after the bounded attempts with PUBLISH_FAILED (retryable), naming the failed ids', async () => {
      const { broker, calls } = brokerWith((cmd) => ({
        Successful: [],
        Failed: (cmd.input.Entries as { Id: string }[]).map((e) => ({ Id: e.Id, Code: 'ServiceUnavailable', SenderFault: false })),
      }));
      const m = msg('tasks', 'never');
      const err = await broker.send([m]).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: 'PUBLISH_FAILED',
        retryable: true,
        details: { failed: [{ id: m.id, code: 'ServiceUnavailable' }] },
      });
      expect((err as Error).message).toContain(m.id);
      expect(calls).toHaveLength(fastRetry.attempts);
    });

    it('does not retry an entry SQS refused as the sender’s fault', async () => {
      const { broker, calls } = brokerWith(() => ({
        Successful: [],
        Failed: [{ Id: '0', Code: 'InvalidMessageContents', SenderFault: true }],
      }));
      await expect(broker.send([msg('tasks', 'bad')])).rejects.toMatchObject({ code: 'PUBLISH_FAILED', retryable: false });
      expect(calls).toHaveLength(1);
    });

    it('splits batches at 1 MiB total, not only at 10 entries', async () => {
      const { broker, calls } = brokerWith((cmd) => ok(cmd.input.Entries as { Id: string }[]));
      await broker.send(Array.from({ length: 6 }, (_, i) => msg('tasks', String(i).repeat(300_000))));
      expect(calls.map((c) => (c.input.Entries as unknown[]).length)).toEqual([3, 3]);
    });

    it('swallows stale receipt handles on delete and changeVisibility', async () => {
      const { broker } = brokerWith((cmd) => {
        if (cmd.constructor.name === 'ChangeMessageVisibilityCommand') throw sdkError('MessageNotInflight', 400);
        return { Successful: [], Failed: [{ Id: '0', Code: 'ReceiptHandleIsInvalid', SenderFault: true }] };
      });
      await expect(broker.delete('tasks', ['stale'])).resolves.toBeUndefined();
      await expect(broker.changeVisibility('tasks', 'stale', 0)).resolves.toBeUndefined();
    });

    it('maps a throttled receive to a retryable BACKEND_UNAVAILABLE', async () => {
      const { broker } = brokerWith(() => {
        throw sdkError('RequestThrottled', 400);
      });
      await expect(broker.receive('tasks', { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 })).rejects.toMatchObject({
        code: 'BACKEND_UNAVAILABLE',
        retryable: true,
      });
    });
  });
});

describe('escapeNonBmpInJson', () => {
  it('escapes astral characters of JSON bodies as surrogate pairs, leaving other bodies alone', () => {
    expect(escapeNonBmpInJson('{"s":"🥕 é"}')).toBe('{"s":"\\ud83e\\udd55 é"}');
    expect(JSON.parse(escapeNonBmpInJson('["𝄞"]'))).toEqual(['𝄞']);
    expect(escapeNonBmpInJson('not json 🥕')).toBe('not json 🥕');
    expect(escapeNonBmpInJson('{"plain":"ascii"}')).toBe('{"plain":"ascii"}');
  });
});

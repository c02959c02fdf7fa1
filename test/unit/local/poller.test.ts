/**
 * The local poller against the memory broker: what a Lambda SQS event source mapping does with
 * batches, windows, concurrency and the function's answer.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBroker } from '../../../lib/adapters/memory';
import { type PollerSettings, QueuePoller, type SqsHandler } from '../../../lib/local/poller';

const settings: PollerSettings = {
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  maxConcurrency: 1,
  visibilityTimeoutSeconds: 30,
  functionTimeoutSeconds: 5,
};

const pollers: QueuePoller[] = [];
afterEach(async () => {
  for (const p of pollers.splice(0)) {
    await p.stop();
    await p.closed();
  }
});

function poll(
  broker: MemoryBroker,
  handler: SqsHandler,
  s: Partial<PollerSettings> = {},
  extra: { failedItemVisibilitySeconds?: number } = {},
) {
  const errors: string[] = [];
  const p = new QueuePoller({
    queue: 'q',
    arnQueueName: 'app-q',
    consumer: broker,
    handler,
    settings: { ...settings, ...s },
    waitMs: 50,
    onError: (m) => errors.push(m),
    ...extra,
  });
  pollers.push(p);
  p.start();
  return { poller: p, errors };
}

async function send(broker: MemoryBroker, ...bodies: string[]) {
  await broker.send(bodies.map((body, i) => ({ queue: 'q', body, id: `m${i}` })));
}

async function until(cond: () => boolean | Promise<boolean>, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const empty = async (b: MemoryBroker) => {
  const d = await b.depth('q');
  return d.visible + d.inFlight + d.delayed === 0;
};

describe('local poller (Lambda SQS event source mapping)', () => {
  it('invokes the handler with SQS records naming the queue ARN, then deletes what succeeded', async () => {
    const broker = new MemoryBroker();
    const events: SQSEvent[] = [];
    await send(broker, 'a', 'b');
    poll(broker, async (e) => {
      events.push(e);
      return { batchItemFailures: [] };
    });
    await until(() => empty(broker));

    const records = events.flatMap((e) => e.Records);
    expect(records.map((r) => r.body).sort()).toEqual(['a', 'b']);
    expect(records[0]?.eventSourceARN).toBe('arn:aws:sqs:us-east-1:000000000000:app-q');
    expect(records[0]?.attributes.ApproximateReceiveCount).toBe('1');
  });

  it('redelivers only the records named in batchItemFailures', async () => {
    const broker = new MemoryBroker();
    const seen: string[] = [];
    await send(broker, 'ok', 'flaky');
    let failedOnce = false;
    poll(broker, async (e): Promise<SQSBatchResponse> => {
      for (const r of e.Records) seen.push(`${r.body}#${r.attributes.ApproximateReceiveCount}`);
      const flaky = e.Records.find((r) => r.body === 'flaky');
      if (flaky && !failedOnce) {
        failedOnce = true;
        return { batchItemFailures: [{ itemIdentifier: flaky.messageId }] };
      }
      return { batchItemFailures: [] };
    });
    await until(() => empty(broker));

    expect(seen.sort()).toEqual(['flaky#1', 'flaky#2', 'ok#1']);
  });

  it('a handler that throws, or names a record not in the batch, fails the whole batch', async () => {
    for (const misbehave of [
      async (): Promise<SQSBatchResponse> => {
        throw new Error('crash');
      },
      async (): Promise<SQSBatchResponse> => ({ batchItemFailures: [{ itemIdentifier: 'not-in-this-batch' }] }),
    ]) {
      const broker = new MemoryBroker();
      await send(broker, 'a', 'b');
      let calls = 0;
      const counts: string[] = [];
      const { errors } = poll(broker, async (e) => {
        calls++;
        if (calls === 1) return misbehave();
        for (const r of e.Records) counts.push(r.attributes.ApproximateReceiveCount);
        return { batchItemFailures: [] };
      });
      await until(() => empty(broker));
      expect(counts).toEqual(['2', '2']);
      expect(errors).toHaveLength(1);
    }
  });

  it('an invocation running past the function timeout fails the whole batch, as Lambda kills it', async () => {
    const broker = new MemoryBroker();
    await send(broker, 'slow');
    let calls = 0;
    const { errors } = poll(
      broker,
      async () => {
        if (++calls === 1) await new Promise((r) => setTimeout(r, 1_500));
        return { batchItemFailures: [] };
      },
      { functionTimeoutSeconds: 1 },
    );
    await until(() => empty(broker));
    expect(calls).toBe(2);
    expect(errors[0]).toMatch(/function timeout/);
  });

  it('with AWS timing, a failed record waits for the rest of its visibility timeout', async () => {
    const broker = new MemoryBroker();
    await send(broker, 'x');
    let calls = 0;
    poll(
      broker,
      async (e) => {
        calls++;
        return { batchItemFailures: e.Records.map((r) => ({ itemIdentifier: r.messageId })) };
      },
      {},
      { failedItemVisibilitySeconds: 30 },
    );
    await until(() => calls === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(calls).toBe(1);
    expect(await broker.depth('q')).toMatchObject({ visible: 0, inFlight: 1 });
  });

  it('gathers up to batchSize records within the batching window', async () => {
    const broker = new MemoryBroker();
    const sizes: number[] = [];
    poll(
      broker,
      async (e) => {
        sizes.push(e.Records.length);
        return { batchItemFailures: [] };
      },
      { batchSize: 25, maxBatchingWindowSeconds: 1 },
    );
    for (let i = 0; i < 30; i++) {
      await send(broker, `m${i}`);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 20));
    }
    await until(() => empty(broker));
    expect(sizes[0]).toBe(25);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(30);
  });

  it('runs at most maxConcurrency batches of a queue at once', async () => {
    const broker = new MemoryBroker();
    let running = 0;
    let peak = 0;
    poll(
      broker,
      async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        return { batchItemFailures: [] };
      },
      { batchSize: 1, maxConcurrency: 3 },
    );
    await send(broker, ...Array.from({ length: 12 }, (_, i) => `m${i}`));
    await until(() => empty(broker));
    expect(peak).toBe(3);
  });
});

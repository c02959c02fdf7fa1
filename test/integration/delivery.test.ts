/**
 * Delivery as a Lambda SQS event source mapping does it, on every target: at-least-once delivery
 * (every batch delivered twice) with exactly-once effects, partial batch responses, redelivery,
 * and a poison message moved to the dead-letter queue after maxReceiveCount.
 */
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain, chord, createApp, group, Reject, States } from '../../lib/index';
import { type LocalRuntime, startLocal } from '../../lib/local';
import { recordingLogger, targets } from './targets';

describe.each(targets())('duplicate delivery on $name', (target) => {
  const logger = recordingLogger();
  const app = createApp({ name: `dup-${target.name}`, logger });
  /** Every run of a task body. */
  const bodies: string[] = [];
  const add = app.task('add', (x: number, y: number) => {
    bodies.push(`add(${x},${y})`);
    return x + y;
  });
  const sum = app.task('sum', (xs: number[]) => {
    bodies.push(`sum(${xs.join(',')})`);
    return xs.reduce((a, b) => a + b, 0);
  });
  const deliveries: SQSEvent[] = [];
  let local: LocalRuntime;

  beforeAll(async () => {
    local = await startLocal(app, {
      ...target.options,
      // At-least-once: every batch reaches the handler twice, the second time after the first
      // has finished (a redelivery), both answers reported to the event source mapping.
      wrapHandler: (handler) => async (event, context) => {
        deliveries.push(event);
        const first = await handler(event, context);
        const second = await handler(event, context);
        return { batchItemFailures: [...(first?.batchItemFailures ?? []), ...(second?.batchItemFailures ?? [])] };
      },
    });
  });
  afterAll(async () => {
    await local?.stop();
  });

  it('a chain and a chord delivered twice run each step once, and events are published once per task', async () => {
    const events: string[] = [];
    const off = local.subscribe((e) => {
      events.push(`${e['detail-type']} ${String(e.detail.task)}`);
    });
    const c = await chain(add.s(1, 2), add.s(3)).applyAsync();
    const ch = await chord(group(add.s(10, 10), add.s(20, 20)), sum.s()).applyAsync();

    expect(await c.get({ timeoutMs: 10_000 })).toBe(6);
    expect(await ch.get({ timeoutMs: 10_000 })).toBe(60);
    await local.drain();
    off();

    expect(deliveries.length).toBeGreaterThan(0);
    expect(bodies.sort()).toEqual(['add(1,2)', 'add(10,10)', 'add(20,20)', 'add(3,3)', 'sum(20,40)']);
    expect(events.sort()).toEqual([
      'task-succeeded add',
      'task-succeeded add',
      'task-succeeded add',
      'task-succeeded add',
      'task-succeeded sum',
    ]);
  });

  it('reported no errors', () => {
    expect(logger.errors).toEqual([]);
  });
});

describe.each(targets())('partial batch failure on $name', (target) => {
  const logger = recordingLogger();
  const app = createApp({ name: `poison-${target.name}`, logger });
  // Batches of up to 5 records; a DLQ after 3 receives.
  app.queue('fragile', { batchSize: 5, maxReceiveCount: 3 });
  const handled: string[] = [];
  const parse = app.task(
    'parse',
    (text: string) => {
      // A message this task can never handle: requeued on every delivery (Reject with requeue).
      if (text === 'poison') throw new Reject('cannot parse this, ever', { requeue: true });
      handled.push(text);
      return text.toUpperCase();
    },
    { queue: 'fragile' },
  );
  const batches: SQSEvent[] = [];
  let local: LocalRuntime;

  beforeAll(async () => {
    local = await startLocal(app, {
      ...target.options,
      // One poller, so the five messages of the group (one SendMessageBatch) land in one batch.
      maxLocalConcurrency: 1,
      wrapHandler: (handler) => async (event, context) => {
        batches.push(event);
        return handler(event, context);
      },
    });
  });
  afterAll(async () => {
    await local?.stop();
  });

  it('the poison message is redelivered until maxReceiveCount, then moved to the DLQ; its batch neighbours succeed once', async () => {
    const g = await group(parse.s('a'), parse.s('b'), parse.s('poison'), parse.s('c'), parse.s('d')).applyAsync();
    await local.drain({ timeoutMs: 20_000 });

    // The first invocation had the whole batch: the neighbours were in it with the poison.
    expect(batches[0]?.Records.map((r) => JSON.parse(r.body).args[0]).sort()).toEqual(['a', 'b', 'c', 'd', 'poison']);
    // Only the poison came back, with ApproximateReceiveCount counting up.
    const poison = batches.flatMap((b) => b.Records).filter((r) => JSON.parse(r.body).args[0] === 'poison');
    expect(poison.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1', '2', '3']);
    expect(handled.sort()).toEqual(['a', 'b', 'c', 'd']);

    const states = await g.states();
    expect(states).toEqual([States.SUCCESS, States.SUCCESS, States.PENDING, States.SUCCESS, States.SUCCESS]);
    const dead = await local.deadLetters('fragile');
    expect(dead.map((b) => JSON.parse(b).args)).toEqual([['poison']]);
    const [fragile] = await local.queues();
    expect(fragile).toMatchObject({ name: 'fragile', visible: 0, inFlight: 0, deadLetters: 1 });
  });

  it('reported no errors', () => {
    expect(logger.errors).toEqual([]);
  });
});

/**
 * Countdowns and etas past SQS's 15 minutes: with a scheduler in the backend (EventBridge Scheduler
 * on AWS) the message is scheduled once for its due time; without one it hops through 900 s
 * delays, and the worker sends it on until it is due.
 */
import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../../lib/adapters/memory';
import { createApp } from '../../lib/app';
import { sqsEvent } from '../../lib/local/poller';
import type { DelayedSender, OutgoingMessage } from '../../lib/ports';
import { decodeEnvelope } from '../../lib/protocol/envelope';
import { createWorker } from '../../lib/worker';
import { quietLogger } from '../helpers/harness';

/** Records what it is asked to schedule; `maxBodyBytes` as given. */
function fakeScheduler(maxBodyBytes = 256 * 1024) {
  const calls: { message: OutgoingMessage; at: number }[] = [];
  const sender: DelayedSender = {
    maxBodyBytes,
    async sendAt(message, at) {
      calls.push({ message, at });
    },
  };
  return { sender, calls };
}

function setup(delayed?: DelayedSender) {
  const memory = memoryBackend({ pollIntervalMs: 1 });
  const backend = delayed === undefined ? memory : { ...memory, delayed };
  const app = createApp({ name: 'delays', backend, logger: quietLogger });
  const ping = app.task('ping', (x: string) => `pong ${x}`);
  const sent: OutgoingMessage[] = [];
  const send = memory.broker.send.bind(memory.broker);
  memory.broker.send = async (msgs) => {
    sent.push(...msgs);
    return send(msgs);
  };
  return { memory, app, ping, sent, handler: createWorker(app) };
}

const HOUR = 3_600_000;

describe('long delays', () => {
  it('with a scheduler: a 2-hour countdown is one schedule for its due time, nothing on the queue', async () => {
    const s = fakeScheduler();
    const { ping, sent, memory } = setup(s.sender);
    const before = memory.clock.now();
    const r = await ping.applyAsync(['later'], { countdown: 7_200 });

    expect(sent).toEqual([]);
    expect(s.calls).toHaveLength(1);
    const [call] = s.calls;
    expect(call?.message).toMatchObject({ queue: 'default', id: r.id });
    expect(call?.message.delaySeconds).toBeUndefined();
    expect(call?.at).toBeGreaterThanOrEqual(before + 2 * HOUR);
    expect(call?.at).toBeLessThanOrEqual(memory.clock.now() + 2 * HOUR);
    const decoded = decodeEnvelope(call?.message.body ?? '', { messageId: 'm' });
    expect(decoded).toMatchObject({ ok: true, envelope: { id: r.id, task: 'ping', args: ['later'] } });
  });

  it('with a scheduler: a countdown within 15 minutes still goes straight to the queue with DelaySeconds', async () => {
    const s = fakeScheduler();
    const { ping, sent } = setup(s.sender);
    await ping.applyAsync(['soon'], { countdown: 600 });

    expect(s.calls).toEqual([]);
    expect(sent.map((m) => m.delaySeconds)).toEqual([600]);
  });

  it('with a scheduler: a body larger than it takes goes the hop way', async () => {
    const s = fakeScheduler(100);
    const { ping, sent } = setup(s.sender);
    await ping.applyAsync(['x'.repeat(200)], { countdown: 7_200 });

    expect(s.calls).toEqual([]);
    expect(sent.map((m) => m.delaySeconds)).toEqual([900]);
  });

  it('with a scheduler: a hop that arrives early (sent before the scheduler existed) is scheduled for the rest', async () => {
    const s = fakeScheduler();
    const { ping, handler, memory } = setup(s.sender);
    // A message already in flight: due in 3 hours, delivered now.
    const eta = new Date(memory.clock.now() + 3 * HOUR).toISOString();
    const body = JSON.stringify({
      v: 1,
      id: 'early-1',
      task: ping.name,
      args: ['x'],
      headers: { rootId: 'early-1', parentId: null, retries: 0, queue: 'default', eta },
    });
    const res = await handler(
      sqsEvent('default', [
        { messageId: 'm-1', receiptHandle: 'r-1', body, receiveCount: 1, sentAt: memory.clock.now(), firstReceivedAt: memory.clock.now() },
      ]),
    );

    expect(res.batchItemFailures).toEqual([]);
    expect(s.calls.map((c) => [c.message.id, new Date(c.at).toISOString()])).toEqual([['early-1', eta]]);
    expect(await memory.store.get('early-1')).toBeUndefined(); // not run: not due
  });

  it('without a scheduler: the message hops through 900 s delays and runs only when due', async () => {
    const { ping, sent } = setup();
    await ping.applyAsync(['later'], { countdown: 7_200 });

    expect(sent.map((m) => m.delaySeconds)).toEqual([900]);
  });
});

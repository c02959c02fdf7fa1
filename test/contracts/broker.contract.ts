/**
 * The Broker / QueueConsumer / QueueAdmin contract: SQS standard-queue semantics, held by the
 * memory adapter and by the SQS adapter against fauxqs.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Broker, QueueAdmin, QueueConsumer, ReceivedMessage } from '../../lib/ports';

export type FullBroker = Broker & QueueConsumer & QueueAdmin;

export interface BrokerHarness {
  readonly broker: FullBroker;
  /** Creates a fresh, empty queue (with a dead-letter queue when asked) and returns logical names. */
  newQueue(opts?: { readonly maxReceiveCount?: number }): Promise<{ readonly name: string; readonly dlq?: string }>;
  /** Lets `ms` of queue time pass: a fake clock advances, a real emulator is waited on. */
  elapse(ms: number): Promise<void>;
  /** The queue's clock (epoch ms). */
  now(): number;
}

const MiB = 1_048_576;
const realDelay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Receives until `count` messages arrived or the queue stays empty; hides them for 30 s. */
async function receiveAll(broker: FullBroker, queue: string, count: number): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  for (let empty = 0; out.length < count && empty < 3; ) {
    const got = await broker.receive(queue, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
    if (got.length === 0) empty++;
    out.push(...got);
  }
  return out;
}

export function brokerContract(name: string, setup: () => BrokerHarness | Promise<BrokerHarness>): void {
  describe(`Broker contract: ${name}`, () => {
    let h: BrokerHarness;
    let broker: FullBroker;
    beforeAll(async () => {
      h = await setup();
      broker = h.broker;
    });
    const queue = async (opts?: { maxReceiveCount?: number }) => (await h.newQueue(opts)).name;
    const msg = (q: string, body: string, delaySeconds?: number) => ({
      queue: q,
      id: randomUUID(),
      body,
      ...(delaySeconds === undefined ? {} : { delaySeconds }),
    });

    it('delivers a sent message with its body, a receipt handle and receive count 1', async () => {
      const q = await queue();
      const before = h.now();
      await broker.send([msg(q, '{"task":"add","args":[2,3]}')]);
      const [m, ...rest] = await broker.receive(q, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
      expect(rest).toEqual([]);
      expect(m?.body).toBe('{"task":"add","args":[2,3]}');
      expect(m?.messageId).toEqual(expect.any(String));
      expect(m?.receiptHandle).toEqual(expect.any(String));
      expect(m?.receiveCount).toBe(1);
      expect(m?.sentAt).toBeGreaterThanOrEqual(before - 1_000);
      expect(m?.sentAt).toBeLessThanOrEqual(h.now() + 1_000);
      expect(m?.firstReceivedAt).toBeGreaterThanOrEqual(m?.sentAt ?? Number.POSITIVE_INFINITY);
    });

    it('sends nothing for an empty batch', async () => {
      await expect(broker.send([])).resolves.toBeUndefined();
    });

    it('hides a received message for its visibility timeout, then redelivers it with receive count 2', async () => {
      const q = await queue();
      await broker.send([msg(q, 'again')]);
      const [first] = await broker.receive(q, { max: 1, visibilityTimeoutSeconds: 1, waitMs: 0 });
      expect(first?.body).toBe('again');
      expect(await broker.receive(q, { max: 10, visibilityTimeoutSeconds: 1, waitMs: 0 })).toEqual([]);
      await h.elapse(1_100);
      const [second] = await broker.receive(q, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
      expect(second?.messageId).toBe(first?.messageId);
      expect(second?.receiveCount).toBe(2);
      expect(second?.receiptHandle).not.toBe(first?.receiptHandle);
      expect(second?.firstReceivedAt).toBe(first?.firstReceivedAt);
    });

    it('never redelivers a deleted message', async () => {
      const q = await queue();
      await broker.send([msg(q, 'once')]);
      const [m] = await broker.receive(q, { max: 1, visibilityTimeoutSeconds: 1, waitMs: 0 });
      await broker.delete(q, [m?.receiptHandle ?? '']);
      await h.elapse(1_100);
      expect(await broker.receive(q, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 })).toEqual([]);
      expect(await broker.depth(q)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    });

    it('deletes many messages in one call (more than 10 handles)', async () => {
      const q = await queue();
      await broker.send(Array.from({ length: 23 }, (_, i) => msg(q, `m${i}`)));
      const got = await receiveAll(broker, q, 23);
      expect(got).toHaveLength(23);
      await broker.delete(
        q,
        got.map((m) => m.receiptHandle),
      );
      expect(await broker.depth(q)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    });

    it('makes an in-flight message visible at once with changeVisibility(0)', async () => {
      const q = await queue();
      await broker.send([msg(q, 'retry me')]);
      const [m] = await broker.receive(q, { max: 1, visibilityTimeoutSeconds: 300, waitMs: 0 });
      await broker.changeVisibility(q, m?.receiptHandle ?? '', 0);
      const [again] = await broker.receive(q, { max: 1, visibilityTimeoutSeconds: 300, waitMs: 0 });
      expect(again?.body).toBe('retry me');
      expect(again?.receiveCount).toBe(2);
    });

    it('ignores a stale receipt handle once the message was received again', async () => {
      const q = await queue();
      await broker.send([msg(q, 'redelivered')]);
      const [first] = await broker.receive(q, { max: 1, visibilityTimeoutSeconds: 1, waitMs: 0 });
      await h.elapse(1_100);
      const [second] = await broker.receive(q, { max: 1, visibilityTimeoutSeconds: 300, waitMs: 0 });
      expect(second?.receiveCount).toBe(2);
      await broker.delete(q, [first?.receiptHandle ?? '']);
      await broker.changeVisibility(q, first?.receiptHandle ?? '', 0);
      // The second delivery still owns the message: not deleted, not made visible.
      expect(await broker.depth(q)).toEqual({ visible: 0, inFlight: 1, delayed: 0 });
      await broker.delete(q, [second?.receiptHandle ?? '']);
      expect(await broker.depth(q)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    });

    it('holds a delayed message back for delaySeconds, counting it as delayed', async () => {
      const q = await queue();
      await broker.send([msg(q, 'later', 1)]);
      expect(await broker.receive(q, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 })).toEqual([]);
      expect(await broker.depth(q)).toEqual({ visible: 0, inFlight: 0, delayed: 1 });
      await h.elapse(1_100);
      const [m] = await broker.receive(q, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
      expect(m?.body).toBe('later');
    });

    it('reports depth as visible, in flight and delayed', async () => {
      const q = await queue();
      await broker.send([msg(q, 'a'), msg(q, 'b'), msg(q, 'c'), msg(q, 'd', 600)]);
      await broker.receive(q, { max: 1, visibilityTimeoutSeconds: 300, waitMs: 0 });
      expect(await broker.depth(q)).toEqual({ visible: 2, inFlight: 1, delayed: 1 });
    });

    it('receives at most `max` messages per call', async () => {
      const q = await queue();
      await broker.send(Array.from({ length: 5 }, (_, i) => msg(q, `m${i}`)));
      const got = await broker.receive(q, { max: 3, visibilityTimeoutSeconds: 30, waitMs: 0 });
      expect(got.length).toBeGreaterThan(0);
      expect(got.length).toBeLessThanOrEqual(3);
    });

    it('purges every message: visible, in flight and delayed', async () => {
      const q = await queue();
      await broker.send([msg(q, 'a'), msg(q, 'b'), msg(q, 'c', 600)]);
      await broker.receive(q, { max: 1, visibilityTimeoutSeconds: 300, waitMs: 0 });
      await broker.purge(q);
      expect(await broker.depth(q)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      expect(await broker.receive(q, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 })).toEqual([]);
    });

    it('delivers each of more than 10 messages sent in one call exactly once', async () => {
      const q = await queue();
      const bodies = Array.from({ length: 25 }, (_, i) => `n${i}`);
      await broker.send(bodies.map((b) => msg(q, b)));
      const got = await receiveAll(broker, q, 25);
      expect(got.map((m) => m.body).sort()).toEqual([...bodies].sort());
    });

    it('delivers each message of many concurrent sends exactly once, across queues', async () => {
      const [q1, q2] = [await queue(), await queue()];
      const sends = Array.from({ length: 30 }, (_, i) => broker.send([msg(i % 2 === 0 ? q1 : q2, `c${i}`)]));
      await Promise.all(sends);
      const got1 = await receiveAll(broker, q1, 15);
      const got2 = await receiveAll(broker, q2, 15);
      expect(got1.map((m) => m.body).sort()).toEqual(Array.from({ length: 15 }, (_, i) => `c${2 * i}`).sort());
      expect(got2.map((m) => m.body).sort()).toEqual(Array.from({ length: 15 }, (_, i) => `c${2 * i + 1}`).sort());
    });

    it('accepts a message of exactly 1 MiB, and large messages whose sum exceeds a batch', async () => {
      const q = await queue();
      const big = (c: string, n: number) => c.repeat(n);
      await broker.send([msg(q, big('x', MiB))]);
      await Promise.all([broker.send([msg(q, big('a', 400_000))]), broker.send([msg(q, big('b', 400_000)), msg(q, big('c', 400_000))])]);
      const got = await receiveAll(broker, q, 4);
      expect(got.map((m) => `${m.body[0]}${m.body.length}`).sort()).toEqual(['a400000', 'b400000', 'c400000', `x${MiB}`]);
    });

    it('refuses a message over 1 MiB with MESSAGE_TOO_LARGE, sending nothing of that call', async () => {
      const q = await queue();
      // Multi-byte characters: the limit is in UTF-8 bytes, not string length.
      const tooBig = 'é'.repeat(MiB / 2 + 1);
      const err = await broker.send([msg(q, 'fine'), msg(q, tooBig)]).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'MESSAGE_TOO_LARGE', retryable: false });
      expect(String((err as Error).message)).toMatch(/1048578 bytes.*1048576/);
      expect(await broker.depth(q)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    });

    it('refuses a body SQS cannot carry: empty, or with a character outside its allowed set', async () => {
      const q = await queue();
      await expect(broker.send([msg(q, '')])).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
      await expect(broker.send([msg(q, 'nul \u0000 byte')])).rejects.toMatchObject({
        code: 'INVALID_UNICODE',
        message: expect.stringContaining('U+0000 at offset 4'),
      });
      await expect(broker.send([msg(q, 'lone \uD800 surrogate')])).rejects.toMatchObject({ code: 'INVALID_UNICODE' });
      await broker.send([msg(q, 'tab\tnewline\n céleri 芹菜 ok')]);
      const [m] = await broker.receive(q, { max: 1, visibilityTimeoutSeconds: 30, waitMs: 0 });
      expect(m?.body).toBe('tab\tnewline\n céleri 芹菜 ok');
    });

    it('carries characters beyond U+FFFF in a JSON body: the received body is the same JSON value', async () => {
      const q = await queue();
      const value = { task: 'greet', args: ['🥕 carrot', '𝄞'] };
      await broker.send([msg(q, JSON.stringify(value))]);
      const [m] = await broker.receive(q, { max: 1, visibilityTimeoutSeconds: 30, waitMs: 0 });
      expect(JSON.parse(m?.body ?? 'null')).toEqual(value);
    });

    it('takes a group id (SQS MessageGroupId, a fairness key) on a standard queue and delivers the message', async () => {
      const q = await queue();
      await broker.send([{ ...msg(q, 'tenant a'), groupId: 'tenant-a' }, msg(q, 'no tenant')]);
      const got = await broker.receive(q, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
      expect(got.map((m) => m.body).sort()).toEqual(['no tenant', 'tenant a']);
    });

    it('refuses a group id SQS would refuse (a space, over 128 characters) with INVALID_OPTIONS, sending nothing of that call', async () => {
      const q = await queue();
      for (const groupId of ['tenant a', 'x'.repeat(129), '', 'é']) {
        await expect(broker.send([msg(q, 'fine'), { ...msg(q, 'bad'), groupId }])).rejects.toMatchObject({
          code: 'INVALID_OPTIONS',
          message: expect.stringContaining('1-128 characters'),
        });
      }
      expect(await broker.depth(q)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    });

    it('refuses delaySeconds outside 0…900 with INVALID_OPTIONS', async () => {
      const q = await queue();
      await expect(broker.send([msg(q, 'x', 901)])).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
      await expect(broker.send([msg(q, 'x', -1)])).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
      await expect(broker.send([msg(q, 'x', 1.5)])).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    });

    it('long-polls: a receive waiting on an empty queue returns a message sent meanwhile', async () => {
      const q = await queue();
      const started = Date.now();
      const waiting = broker.receive(q, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 5_000 });
      await realDelay(100);
      await broker.send([msg(q, 'wake up')]);
      const got = await waiting;
      expect(got.map((m) => m.body)).toEqual(['wake up']);
      expect(Date.now() - started).toBeLessThan(3_000);
    });

    it('long-polls: returns nothing when the wait ends on an empty queue', async () => {
      const q = await queue();
      const waiting = broker.receive(q, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 1_000 });
      await h.elapse(1_000);
      expect(await waiting).toEqual([]);
    });

    it('moves a message received maxReceiveCount times to the dead-letter queue on the next receive', async () => {
      const { name: q, dlq } = await h.newQueue({ maxReceiveCount: 2 });
      await broker.send([msg(q, 'poison')]);
      for (let i = 1; i <= 2; i++) {
        const [m] = await broker.receive(q, { max: 1, visibilityTimeoutSeconds: 0, waitMs: 0 });
        expect(m?.receiveCount).toBe(i);
      }
      expect(await broker.receive(q, { max: 1, visibilityTimeoutSeconds: 0, waitMs: 0 })).toEqual([]);
      const [dead] = await broker.receive(dlq ?? '', { max: 1, visibilityTimeoutSeconds: 30, waitMs: 0 });
      expect(dead?.body).toBe('poison');
      expect(await broker.depth(q)).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    });
  });
}

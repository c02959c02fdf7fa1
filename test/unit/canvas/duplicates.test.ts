/**
 * Exactly-once effects under at-least-once delivery (design §3; celery-semantics §14 says Celery's
 * chord counters are NOT idempotent — celeriac's must be). The group/chord/composition/map specs
 * already run with every batch delivered twice; these add scale and late redelivery.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { chain, chord, group } from '../../../lib/index';
import type { OutgoingMessage } from '../../../lib/ports';
import { type CanvasFixture, canvasFixture } from './fixtures';

/** Records every message the app publishes, so a spec can deliver them all again later. */
function captureSends(f: CanvasFixture): OutgoingMessage[] {
  const sent: OutgoingMessage[] = [];
  const broker = f.h.backend.broker;
  const send = broker.send.bind(broker);
  broker.send = async (messages) => {
    sent.push(...messages);
    return send(messages);
  };
  return sent;
}

/** Sends copies of messages again, as SQS does after a visibility timeout (new message ids). */
async function redeliver(f: CanvasFixture, messages: readonly OutgoingMessage[]): Promise<void> {
  const copies = messages.map(({ delaySeconds: _d, ...m }) => m);
  for (let i = 0; i < copies.length; i += 10) await f.h.backend.broker.send(copies.slice(i, i + 10));
}

/**
 * Redelivers `messages` ten minutes later (past any visibility timeout or worker lease), so the
 * spec is about exactly-once effects, not about how soon a duplicate is recognised.
 */
async function redeliverLater(f: CanvasFixture, messages: readonly OutgoingMessage[]): Promise<void> {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(Date.now() + 10 * 60_000);
  await redeliver(f, messages);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('exactly-once effects', () => {
  it('[§14, CHORD-01] a chord of 1,000 members with every batch delivered twice runs its body once, with every result in order', async () => {
    const f = canvasFixture({ duplicate: true });
    const n = 1_000;
    const r = await chord(
      Array.from({ length: n }, (_, i) => f.add.s(i, 0)),
      f.sum.s(),
    ).applyAsync();
    await f.drain();
    expect(await r.get()).toBe((n * (n - 1)) / 2);
    const body = f.calls('sum');
    expect(body).toHaveLength(1);
    expect(body[0]?.args[0]).toEqual(Array.from({ length: n }, (_, i) => i));
  }, 20_000);

  it('[§14] header parts redelivered (late) after the chord fired do not run the body again', async () => {
    const f = canvasFixture();
    const sent = captureSends(f);
    const r = await chord([f.add.s(1, 1), f.add.s(2, 2), f.add.s(3, 3)], f.sum.s().link(f.collect.s('cb'))).applyAsync();
    await f.drain();
    expect(await r.get()).toBe(12);
    await redeliverLater(f, sent);
    await f.drain();
    expect(f.count('sum')).toBe(1);
    expect(f.count('collect')).toBe(1);
    expect(await f.app.asyncResult(r.id).get()).toBe(12);
  });

  it('[§14] every message of a nested workflow delivered again (late) after it finished changes nothing', async () => {
    const f = canvasFixture({ duplicate: true });
    const sent = captureSends(f);
    const r = await chain(
      f.add.s(1, 1),
      // a nested group flattens into the header [CHORD-14]; its typing is checked in test/types/canvas.test-d.ts
      chord([f.add.s(1), chain(f.add.s(2), f.mul.s(2)), group(f.add.s(3), f.add.s(4))], f.app.signature<number>('sum')).link(
        f.collect.s('chord done'),
      ),
      group(f.identity.s(), f.add.s(1000)),
    )
      .linkError(f.onError.s())
      .applyAsync();
    await f.drain();
    const first = await r.get();
    const counts = () => Object.fromEntries(['add', 'mul', 'sum', 'identity', 'collect', 'onError'].map((t) => [t, f.count(t)]));
    const before = counts();
    // 2 → header [2+1, (2+2)*2, 2+3, 2+4] = [3, 8, 5, 6] → 22 → [22, 22+1000]
    expect(first).toEqual([22, 1022]);
    expect(f.calls('collect').map((c) => c.args)).toEqual([[22, 'chord done']]);
    expect(before).toEqual({ add: 6, mul: 1, sum: 1, identity: 1, collect: 1, onError: 0 });
    await redeliverLater(f, [...sent]);
    await f.drain();
    expect(counts()).toEqual(before);
    expect(await r.get()).toEqual(first);
  });

  it('[§14, CHORD-03] a failed chord delivered again (late): the body stays FAILURE and its errbacks fire once', async () => {
    const f = canvasFixture({ duplicate: true });
    const sent = captureSends(f);
    const r = await chord([f.fail.s('x'), f.add.s(1, 1)], f.sum.s().linkError(f.onError.s()).linkError(f.onErrorInline.s())).applyAsync();
    await f.drain();
    await redeliverLater(f, [...sent]);
    await f.drain();
    expect(await r.state()).toBe('FAILURE');
    expect(f.count('sum')).toBe(0);
    expect(f.count('onError')).toBe(1);
    expect(f.count('onErrorInline')).toBe(1);
  });

  it('[§14, GROUP-07/08] group link and linkError fire once each even when redelivered (late)', async () => {
    const f = canvasFixture({ duplicate: true });
    const sent = captureSends(f);
    const g = await group(f.add.s(1, 1), f.fail.s('a'), f.fail.s('b')).link(f.collect.s('linked')).linkError(f.onError.s()).applyAsync();
    await f.drain();
    await redeliverLater(f, [...sent]);
    await f.drain();
    expect(await g.completedCount()).toBe(1);
    expect(f.count('collect')).toBe(1);
    expect(f.count('onError')).toBe(2);
  });

  it('[design §3] a header part redelivered right after its chord fired is acknowledged at once, not bounced back to the queue', async () => {
    // A bounced duplicate costs a receive each visibility timeout and can reach the DLQ
    // (maxReceiveCount) although its work is done.
    const f = canvasFixture();
    const sent = captureSends(f);
    const r = await chord([f.add.s(1, 1), f.add.s(2, 2)], f.sum.s()).applyAsync();
    await f.drain();
    expect(await r.get()).toBe(6);
    const header = sent.filter((m) => JSON.parse(m.body).task === 'add');
    expect(header).toHaveLength(2);
    await redeliver(f, header);
    const res = await f.h.deliver('default');
    expect(res).toEqual({ delivered: 2, failed: 0 });
    expect(await f.drain()).toBe(0);
    expect(f.count('sum')).toBe(1);
  });
});

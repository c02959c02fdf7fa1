/**
 * Idempotency keys at the producer and at admission (README, "Call once: idempotency keys"): what
 * a key is checked against, what it costs a call without one, what a failed publish leaves
 * behind, and how a keyed queue message behaves across its own retries.
 */
import { describe, expect, it, vi } from 'vitest';
import { fakeClock, memoryBackend } from '../../lib/adapters/memory';
import { createApp as createCoreApp } from '../../lib/app';
import { CeleriacError, chain, ErrorCodes, group, Retry, States } from '../../lib/index';
import type { Envelope } from '../../lib/protocol/envelope';
import { callKeyOf } from '../../lib/runtime/idempotency';
import { harness, quietLogger } from '../helpers/harness';

describe('idempotency keys at the producer', () => {
  it('refuses an empty or overlong key and a ttl that is not a positive number, before claiming or publishing', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const claims = vi.spyOn(h.backend.store, 'claimCall');
    await expect(add.applyAsync([1, 2], { idempotencyKey: '' })).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTIONS });
    await expect(add.applyAsync([1, 2], { idempotencyKey: 'k'.repeat(257) })).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTIONS });
    for (const ttl of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(add.applyAsync([1, 2], { idempotencyKey: 'k', idempotencyTtl: ttl })).rejects.toMatchObject({
        code: ErrorCodes.INVALID_OPTIONS,
      });
    }
    expect(claims).not.toHaveBeenCalled();
    expect((await h.backend.broker.depth('default')).visible).toBe(0);
  });

  it('refuses invalid arguments before claiming: a bad call never takes the key', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    // @ts-expect-error: add needs two numbers
    await expect(add.applyAsync([1], { idempotencyKey: 'k' })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGS });
    const r = await add.applyAsync([1, 2], { idempotencyKey: 'k' });
    await h.drain();
    expect(await r.get()).toBe(3);
  });

  it('makes no store call for a call without a key', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const claims = vi.spyOn(h.backend.store, 'claimCall');
    await add.delay(1, 2);
    await chain(add.s(1, 2), add.s(3)).applyAsync();
    expect(claims).not.toHaveBeenCalled();
  });

  it('claims once per keyed call and keeps the key out of the message: the producer already holds it', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const claims = vi.spyOn(h.backend.store, 'claimCall');
    const sent: Envelope[] = [];
    h.app.signals.beforeTaskPublish.connect((e) => {
      sent.push(e.body);
    });
    await add.applyAsync([1, 2], { idempotencyKey: 'k' });
    expect(claims).toHaveBeenCalledTimes(1);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.headers.idempotencyKey).toBeUndefined();
    expect(JSON.stringify(sent[0])).not.toContain('idempotency');
  });

  it('does not compare arguments: a later call with the key gets the first call and its result', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const first = await add.applyAsync([1, 2], { idempotencyKey: 'k' });
    const later = await add.applyAsync([5, 5], { idempotencyKey: 'k' });
    expect(later.id).toBe(first.id);
    await h.drain();
    expect(await later.get()).toBe(3);
  });

  it('fails with IDEMPOTENCY_CONFLICT when the key is held by a call of another shape', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    await chain(add.s(1, 2), add.s(3)).applyAsync([], { idempotencyKey: 'k' });
    await expect(chain(add.s(1, 2), add.s(3), add.s(4)).applyAsync([], { idempotencyKey: 'k' })).rejects.toMatchObject({
      code: ErrorCodes.IDEMPOTENCY_CONFLICT,
    });
    await add.applyAsync([1, 2], { idempotencyKey: 'j', taskId: 'mine' });
    await expect(add.applyAsync([1, 2], { idempotencyKey: 'j', taskId: 'yours' })).rejects.toMatchObject({
      code: ErrorCodes.IDEMPOTENCY_CONFLICT,
    });
  });

  it('frees the key when the publish fails, so the caller retrying with it publishes', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const send = vi
      .spyOn(h.backend.broker, 'send')
      .mockRejectedValueOnce(new CeleriacError(ErrorCodes.PUBLISH_FAILED, 'SQS said no', { retryable: true }));
    await expect(add.applyAsync([1, 2], { idempotencyKey: 'k' })).rejects.toMatchObject({ code: ErrorCodes.PUBLISH_FAILED });
    const r = await add.applyAsync([1, 2], { idempotencyKey: 'k' });
    expect(send).toHaveBeenCalledTimes(2);
    await h.drain();
    expect(await r.get()).toBe(3);
  });

  it('keeps the key when a publish failed part-way: a later caller gets the call, and what was sent is not sent again', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const partly = new CeleriacError(ErrorCodes.PUBLISH_FAILED, 'SQS took 1 of 2', {
      retryable: true,
      details: { failed: [{ id: 'x', queue: 'default', code: 'InternalError', message: 'try later' }] },
    });
    const send = vi.spyOn(h.backend.broker, 'send').mockRejectedValueOnce(partly);
    await expect(group(add.s(1, 1), add.s(2, 2)).applyAsync([], { idempotencyKey: 'k' })).rejects.toBe(partly);
    await group(add.s(1, 1), add.s(2, 2)).applyAsync([], { idempotencyKey: 'k' });
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('a producer that died between its claim and its publish leaves the handle PENDING until the key expires', async () => {
    const clock = fakeClock();
    const backend = memoryBackend({ clock, pollIntervalMs: 1 });
    const app = createCoreApp({ name: 'test', backend, logger: quietLogger });
    const add = app.task('add', (x: number, y: number) => x + y);
    // The first producer's publish and its release both fail: what a crash right after the claim leaves.
    vi.spyOn(backend.broker, 'send').mockRejectedValueOnce(new Error('process died'));
    vi.spyOn(backend.store, 'releaseCall').mockRejectedValueOnce(new Error('process died'));
    await expect(add.applyAsync([1, 2], { idempotencyKey: 'k', idempotencyTtl: 60 })).rejects.toThrow('process died');

    const second = await add.applyAsync([1, 2], { idempotencyKey: 'k', idempotencyTtl: 60 });
    expect((await backend.broker.depth('default')).visible).toBe(0);
    expect(await second.state()).toBe(States.PENDING);

    await clock.advance(60_000);
    const third = await add.applyAsync([1, 2], { idempotencyKey: 'k', idempotencyTtl: 60 });
    expect(third.id).not.toBe(second.id);
    expect((await backend.broker.depth('default')).visible).toBe(1);
  });
});

describe('idempotency keys on admission (a keyed queue message)', () => {
  it('a keyed message whose task retries runs its retries: each attempt finds its own claim', async () => {
    const h = harness();
    let attempts = 0;
    h.app.task('flaky', (x: number) => {
      attempts++;
      if (attempts < 3) throw new Retry({ countdown: 0 });
      return x * 2;
    });
    await h.backend.broker.send([
      { queue: 'default', id: 'm1', body: JSON.stringify({ task: 'flaky', args: [21], id: 'call-1', idempotencyKey: 'k' }) },
    ]);
    await h.drain();
    expect(attempts).toBe(3);
    expect(await h.app.asyncResult('call-1').get()).toBe(42);
  });

  it('refuses a message whose key is not a string of 1-256 characters: BAD_ENVELOPE, its body never run', async () => {
    const h = harness();
    let runs = 0;
    h.app.task('add', (x: number, y: number) => {
      runs++;
      return x + y;
    });
    const refused: string[] = [];
    h.app.signals.taskRejected.connect((e) => {
      refused.push((e.exc as CeleriacError).code);
    });
    for (const key of ['', 'k'.repeat(257), 7]) {
      await h.backend.broker.send([
        { queue: 'default', id: 'm', body: JSON.stringify({ task: 'add', args: [1, 2], id: 'call-1', idempotencyKey: key }) },
      ]);
    }
    await h.drain();
    expect(refused).toEqual([ErrorCodes.BAD_ENVELOPE, ErrorCodes.BAD_ENVELOPE, ErrorCodes.BAD_ENVELOPE]);
    expect(runs).toBe(0);
    expect(await h.app.asyncResult('call-1').state()).toBe(States.PENDING);
  });

  it('a duplicate is stored through the one outcome path: its revoked event and signal go out once', async () => {
    const h = harness();
    h.app.task('add', (x: number, y: number) => x + y);
    const revoked: string[] = [];
    h.app.signals.taskRevoked.connect((e) => {
      revoked.push(e.request.id);
    });
    const body = (id: string) => JSON.stringify({ task: 'add', args: [1, 2], id, idempotencyKey: 'k' });
    await h.backend.broker.send([{ queue: 'default', id: 'm1', body: body('call-1') }]);
    await h.drain();
    await h.backend.broker.send([{ queue: 'default', id: 'm2', body: body('call-2') }]);
    await h.drain({ duplicate: true });
    expect(revoked).toEqual(['call-2']);
    const rec = await h.backend.store.get('call-2');
    expect(rec).toMatchObject({ state: States.REVOKED, revokedBy: 'duplicate', error: { details: { duplicateOf: 'call-1' } } });
  });
});

describe('the store key of an idempotency key', () => {
  it('keeps app, scope and key apart whatever the names, and stays within a DynamoDB key when they are long', () => {
    const task = (t: string) => ({ kind: 'task', task: t }) as const;
    expect(callKeyOf('a', task('b:c'), 'd')).not.toBe(callKeyOf('a', task('b'), 'c:d'));
    expect(callKeyOf('a', task('chain'), 'k')).not.toBe(callKeyOf('a', { kind: 'chain' }, 'k'));
    expect(callKeyOf('a', task('t'), 'k')).not.toBe(callKeyOf('b', task('t'), 'k'));
    const long = callKeyOf('a', task('\u0001'.repeat(256)), '\u0002'.repeat(256));
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(1_024);
    expect(long).not.toBe(callKeyOf('a', task('\u0001'.repeat(256)), '\u0003'.repeat(256)));
  });
});

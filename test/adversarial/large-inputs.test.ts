/**
 * Large inputs against the bad-input promise: a bad message ends in one stored FAILURE (or the
 * DLQ), never runs a body repeatedly, never touches another task's records or payloads, never takes
 * its batch down — however large the value it carries, the key it names or the error it raises.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CeleriacError, chain, ErrorCodes } from '../../lib/index';
import { idSegment } from '../../lib/protocol/payload';
import { harness } from '../helpers/harness';
import { advHarness, big } from './payload-harness';

const KiB = 1024;

describe('an error as large as its input', () => {
  it('a body that fails quoting its 500 KiB input is one stored FAILURE: its body runs once, not once per redelivery', async () => {
    const h = advHarness({ name: 'throws' });
    let runs = 0;
    const parse = h.app.task('parse', (s: string) => {
      runs++;
      throw new Error(`not a valid order: ${s}`);
    });
    const r = await parse.applyAsync([big(500 * KiB, 'o')]);
    for (let i = 0; i < 3; i++) await h.deliver('default');
    const info = await r.info();
    expect(`${info.state}:${runs}`).toBe('FAILURE:1');
    expect(info.traceback?.length).toBeLessThan(9_000);
  });

  it('retried on that error, max 2 retries is 3 runs and one stored FAILURE, never a retry sent twice', async () => {
    const h = advHarness({ name: 'throws-retry' });
    let runs = 0;
    const parse = h.app.task(
      'parse',
      (s: string) => {
        runs++;
        throw new Error(`not a valid order: ${s}`);
      },
      { retry: { on: [Error], max: 2, delay: 0 } },
    );
    const r = await parse.applyAsync([big(500 * KiB, 'o')]);
    for (let i = 0; i < 12; i++) await h.deliver('default');
    expect(`${(await r.info()).state}:${runs}`).toBe('FAILURE:3');
  });

  it('a failure whose details do not fit a record (no payload store) is still its one stored FAILURE, saying what was dropped', async () => {
    const h = harness({ name: 'huge-details' });
    let runs = 0;
    const t = h.app.task('t', () => {
      runs++;
      throw new CeleriacError(ErrorCodes.TASK_ERROR, 'too much', { details: { blob: big(500 * KiB) } });
    });
    const r = await t.delay();
    for (let i = 0; i < 3; i++) await h.deliver('default');
    const info = await r.info();
    expect(`${info.state}:${runs}`).toBe('FAILURE:1');
    expect(info.serializedError?.message).toContain('did not fit the result record');
  });

  it.each([
    ['another prefix (PAYLOAD_FOREIGN)', 'elsewhere/'],
    ["the app's prefix, never written (PAYLOAD_NOT_FOUND)", 'long/x/'],
  ])('a forged reference with 500 KiB of key into %s is one stored FAILURE; its neighbour runs', async (_n, prefix) => {
    const h = advHarness({ name: 'long' });
    let runs = 0;
    h.app.task('echo', (x: unknown) => {
      runs++;
      return typeof x;
    });
    const key = `${prefix}${'k'.repeat(500 * KiB)}`;
    await h.send([
      { id: 'm1', body: { task: 'echo', id: 'long-1', args: [{ $payload: { key, bytes: 1, sha256: 'AAAA' } }] } },
      { id: 'm2', body: { task: 'echo', id: 'long-ok', args: [1] } },
    ]);
    expect((await h.deliver('default')).failed).toEqual([]);
    expect((await h.app.asyncResult('long-1').info()).serializedError?.code).toMatch(/^PAYLOAD_(FOREIGN|NOT_FOUND)$/);
    expect(await h.app.asyncResult('long-ok').get({ timeoutMs: 1_000 })).toBe('number');
    expect(runs).toBe(1);
  });

  it.each([
    ['a lone surrogate under a 500 KiB key', (k: string) => `{"task":"add","args":[{"${k}":"\\ud800"}]}`],
    ['a prototype key under a 500 KiB key', (k: string) => `{"task":"add","args":[{"${k}":{"__proto__":1}}]}`],
  ])('a refused message whose reason names %s is stored once and acked, not redelivered', async (_n, bodyOf) => {
    const h = harness({ name: 'refused-long' });
    let runs = 0;
    h.app.task('add', () => ++runs);
    const rejected: string[] = [];
    h.app.signals.taskRejected.connect((e) => void rejected.push((e.exc as { code?: string }).code ?? '?'));
    await h.backend.broker.send([{ queue: 'default', id: 'm', body: bodyOf('k'.repeat(500 * KiB)) }]);
    expect(await h.deliver('default')).toEqual({ delivered: 1, failed: 0 });
    expect(rejected).toHaveLength(1);
    expect(runs).toBe(0);
  });
});

describe("another task's payloads", () => {
  it("an envelope reusing a pending step's id with a large inline argument, hopped for a later eta, leaves that step's argument alone", async () => {
    const h = advHarness({ name: 'hop' });
    const seen: number[] = [];
    const first = h.app.task('first', (n: number) => n);
    const second = h.app.task('second', (prev: number, blob: string) => {
      seen.push(blob.length);
      return blob.length + prev;
    });
    const r = await chain(first.s(1), second.s(big(100 * KiB, 'v'))).applyAsync();
    const eta = new Date(Date.now() + 3_600_000).toISOString();
    await h.send([
      {
        id: 'other-1',
        body: {
          v: 1,
          id: r.id,
          task: 'second',
          args: [big(100 * KiB, 'x'), 0],
          headers: { rootId: 'other', parentId: null, retries: 0, eta },
        },
      },
    ]);
    await h.drain();
    const info = await r.info();
    expect(`${info.state}:${info.serializedError?.code ?? ''}`).toBe('SUCCESS:');
    expect(seen).toEqual([100 * KiB]);
  });

  it('forget() of an id shaped like a hashed folder ("h-<sha256 of a long id>") leaves the long-id task alone', async () => {
    const h = advHarness({ name: 'hashed' });
    const ran: number[] = [];
    const t = h.app.task('t', (blob: string) => {
      ran.push(blob.length);
      return 1;
    });
    const longId = 'é'.repeat(121); // encodes to more than 300 characters: its folder is hashed
    const lookalike = `h-${createHash('sha256').update(longId).digest('hex')}`;
    expect(idSegment(lookalike)).not.toBe(idSegment(longId));
    await t.applyAsync([big(100 * KiB)], { taskId: longId });
    await h.app.asyncResult(lookalike).forget();
    await h.drain();
    expect((await h.app.asyncResult(longId).info()).state).toBe('SUCCESS');
    expect(ran).toEqual([100 * KiB]);
  });

  it('a kwargs reference that names a list (another call’s stored argument) is a stored FAILURE, not kwargs', async () => {
    const h = advHarness({ name: 'kwlist' });
    const got: unknown[] = [];
    h.app.task('kw', (...xs: unknown[]) => {
      got.push(xs);
      return xs.length;
    });
    const ref = await h.store.put('other-task/args-0-0', JSON.stringify([0, 1, 2]));
    await h.send([{ id: 'kw-1', body: { task: 'kw', id: 'kw-1', args: [], kwargs: { $payload: ref } } }]);
    await h.drain();
    expect(got).toEqual([]);
    expect((await h.app.asyncResult('kw-1').info()).serializedError?.code).toBe(ErrorCodes.PAYLOAD_CORRUPT);
  });
});

describe('ignoreResult keeps nothing, however large the result', () => {
  it('with a payload store: nothing is put', async () => {
    const h = advHarness({ name: 'quiet' });
    const t = h.app.task('quiet', (n: number) => big(n, 'q'), { ignoreResult: true });
    const r = await t.applyAsync([100 * KiB]);
    await h.drain();
    expect(h.store.keys().filter((k) => k.startsWith(`quiet/${idSegment(r.id)}/`))).toEqual([]);
    expect(await r.state()).toBe('PENDING');
  });

  it("without one: a result over a record's limit is not a RESULT_TOO_LARGE failure", async () => {
    const h = harness({ name: 'quiet-nostore' });
    let runs = 0;
    const t = h.app.task('t', () => big(500 * KiB, String(++runs)), { ignoreResult: true });
    const r = await t.delay();
    await h.drain();
    expect(`${(await r.info()).state}:${runs}`).toBe('PENDING:1');
  });
});

describe('idempotencyTtl has a bound every store can write', () => {
  it('on the queue, a TTL past 10 years is a refused BAD_ENVELOPE (stored once, never run), not a claim no store can write', async () => {
    const h = harness({ name: 'ttl' });
    let runs = 0;
    h.app.task('add', () => ++runs);
    const rejected: string[] = [];
    h.app.signals.taskRejected.connect((e) => void rejected.push((e.exc as { code?: string }).code ?? '?'));
    for (const ttl of [1e200, 315_360_001]) {
      await h.backend.broker.send([
        { queue: 'default', id: `m-${ttl}`, body: JSON.stringify({ task: 'add', args: [], idempotencyKey: 'K', idempotencyTtl: ttl }) },
      ]);
      expect(await h.deliver('default')).toEqual({ delivered: 1, failed: 0 });
    }
    expect(rejected).toEqual([ErrorCodes.BAD_ENVELOPE, ErrorCodes.BAD_ENVELOPE]);
    expect(runs).toBe(0);
  });

  it('from a producer, a TTL past 10 years is INVALID_OPTIONS, and nothing is published', async () => {
    const h = harness({ name: 'ttl-producer' });
    const t = h.app.task('t', () => 1);
    await expect(t.applyAsync([], { idempotencyKey: 'K', idempotencyTtl: 1e200 })).rejects.toMatchObject({
      code: ErrorCodes.INVALID_OPTIONS,
      message: expect.stringContaining('at most 315360000'),
    });
    expect((await h.backend.broker.depth('default')).visible).toBe(0);
    const ok = await t.applyAsync([], { idempotencyKey: 'K', idempotencyTtl: 315_360_000 });
    await h.drain();
    expect(await ok.get({ timeoutMs: 1_000 })).toBe(1);
  });
});

/**
 * chord — celery-semantics §4.3. Every spec runs twice: messages delivered once, and every
 * batch delivered twice; bodies and callbacks must still run exactly once.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type AsyncResult, chain, chord, ErrorCodes, GroupResult, group } from '../../../lib/index';
import { canvasFixture, MODES, rejection } from './fixtures';

/** The chord header's GroupResult, reached through the body handle's local parent (as Celery). */
function headerOf(r: AsyncResult<unknown>): GroupResult<readonly unknown[]> {
  const p = r.parent;
  if (!(p instanceof GroupResult)) throw new Error('chord result has no header GroupResult as parent');
  return p;
}

function idAt(g: GroupResult<readonly unknown[]>, i: number): string {
  const r = g.results[i];
  if (!r) throw new Error(`no header member ${i}`);
  return r.id;
}

describe.each(MODES)('chord ($mode)', ({ duplicate }) => {
  it('[CHORD-01/02] body runs once, after all header parts, with results in header order', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([f.add.s(1, 1).set({ queue: 'late' }), f.add.s(2, 2), f.add.s(3, 3)], f.sum.s()).applyAsync();
    const header = headerOf(r);
    await f.drainOnly('default'); // parts 2 and 3 finish; part 1 still waits
    expect(f.count('sum')).toBe(0);
    expect(await r.state()).toBe('PENDING');
    await f.drain();
    expect(await r.get()).toBe(12);
    expect(f.calls('sum').map((c) => c.args)).toEqual([[[2, 4, 6]]]);
    // the body is started by the header part that completed the chord, in the same workflow
    const body = f.calls('sum')[0];
    expect(header.results.map((x) => x.id)).toContain(body?.parentId);
    expect(new Set(f.log.map((c) => c.rootId)).size).toBe(1);
  });

  it('[CHORD-01] chord(group(...), body) and chord([...], body) are the same chord', async () => {
    const f = canvasFixture({ duplicate });
    const a = await chord(group(f.add.s(1, 1), f.add.s(2, 2)), f.sum.s()).applyAsync();
    const b = await chord([f.add.s(1, 1), f.add.s(2, 2)], f.sum.s()).applyAsync();
    await f.drain();
    expect(await a.get()).toBe(6);
    expect(await b.get()).toBe(6);
    expect(f.count('sum')).toBe(2);
  });

  it('[CHAIN-18] a taskId names what stands for the result at any depth: a chord whose body is a chain, a chain nested in a chain', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([f.add.s(1, 1), f.add.s(2, 2)], chain(f.sum.s(), f.mul.s(10))).applyAsync([], { taskId: 'the-total' });
    expect(r.id).toBe('the-total');
    const nested = await chain(f.add.s(1, 2), chain(f.add.s(3), f.mul.s(2)).set({ taskId: 'inner-last' }), f.add.s(1)).applyAsync();
    await f.drain();
    expect(await r.get()).toBe(60);
    expect(f.calls('mul').find((c) => c.id === 'the-total')?.args).toEqual([6, 10]);
    expect(f.calls('mul').find((c) => c.id === 'inner-last')?.args).toEqual([6, 2]);
    expect(await nested.get()).toBe(13);
  });

  it('[CHORD-01] call args are prepended to every header part', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([f.add.s(1), f.add.s(2)], f.sum.s()).applyAsync([10]);
    await f.drain();
    expect(await r.get()).toBe(23);
  });

  it('[CHORD-10] a chain in the header counts once, by its last task', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([chain(f.add.s(1, 1), f.add.s(10), f.mul.s(2)), f.add.s(5, 5)], f.collect.s()).applyAsync();
    const header = headerOf(r);
    expect(header.results).toHaveLength(2);
    await f.drain();
    expect(await r.get()).toEqual([[24, 10]]);
    expect(f.count('collect')).toBe(1);
  });

  it('[CHORD-09/14] a nested chord in the header counts by its body; nested groups flatten', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord(
      [chord([f.add.s(1, 1), f.add.s(2, 2)], f.sum.s()), group(f.add.s(3, 3), group(f.add.s(4, 4))), f.add.s(5, 5)],
      f.collect.s(),
    ).applyAsync();
    await f.drain();
    expect(await r.get()).toEqual([[6, 6, 8, 10]]);
    expect(f.count('collect')).toBe(1);
    expect(f.count('sum')).toBe(1);
  });

  it('[CHORD-06] an empty header applies the body at once with []', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([], f.collect.s()).applyAsync();
    await f.drain();
    expect(await r.get()).toEqual([[]]);
    expect(f.calls('collect').map((c) => c.args)).toEqual([[[]]]);
  });

  it('[CHORD-07] an immutable body gets nothing from the header', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([f.add.s(1, 1), f.add.s(2, 2)], f.collect.si('only')).applyAsync();
    await f.drain();
    expect(await r.get()).toEqual(['only']);
    expect(f.count('collect')).toBe(1);
    expect(f.count('add')).toBe(2);
  });

  it('[CHORD-03/04/05, P-CHORD-01] header failure: body never runs, stored FAILURE with ChordError naming the first failed dependency in header order', async () => {
    const f = canvasFixture({ duplicate });
    // 'second' fails first in time; the ChordError still names 'first' (header order).
    const r = await chord(
      [f.add.s(1, 1), f.fail.s('first').set({ queue: 'late' }), f.add.s(2, 2), f.fail.s('second')],
      f.sum.s().linkError(f.onError.s()),
    ).applyAsync();
    const header = headerOf(r);
    await f.drainOnly('default');
    expect(await r.state()).toBe('PENDING'); // only decided after the last part finished
    expect(f.count('onError')).toBe(0);
    await f.drain();

    expect(f.count('sum')).toBe(0);
    // the other header parts still ran
    expect(f.count('add')).toBe(2);
    expect(f.count('fail')).toBe(2);
    expect(await header.states()).toEqual(['SUCCESS', 'FAILURE', 'SUCCESS', 'FAILURE']);

    expect(await r.state()).toBe('FAILURE');
    const e = await rejection(f.app.asyncResult(r.id).get());
    expect(e.name).toBe('ChordError');
    expect(e.code).toBe(ErrorCodes.CHORD_ERROR);
    expect(e.message).toMatch(new RegExp(`^Dependency ${idAt(header, 1)} raised `));
    expect(e.message).toContain('first');
    expect(e.message).not.toContain(idAt(header, 3));

    // the body's errbacks fire exactly once, for the body
    expect(f.calls('onError').map((c) => c.args)).toEqual([[r.id]]);
  });

  it('[CHORD-03/13] the returned result raises the ORIGINAL header error; a fresh handle on the body raises ChordError', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([f.add.s(1, 1), f.fail.s('original')], f.sum.s()).applyAsync();
    await f.drain();
    const local = await rejection(r.get());
    expect(local.name).toBe('Error');
    expect(local.message).toBe('original');
    const fresh = await rejection(f.app.asyncResult(r.id).get());
    expect(fresh.name).toBe('ChordError');
    expect(fresh.code).toBe(ErrorCodes.CHORD_ERROR);
    const info = await f.app.asyncResult(r.id).info();
    expect(info.state).toBe('FAILURE');
    expect(info.error?.name).toBe('ChordError');
  });

  it('[CHORD-04] a new-style body errback gets the body id as request, the ChordError, and no traceback', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([f.fail.s('boom'), f.add.s(1, 1)], f.sum.s().linkError(f.onErrorInline.s())).applyAsync();
    const header = headerOf(r);
    await f.drain();
    const calls = f.calls('onErrorInline');
    expect(calls).toHaveLength(1);
    const [requestId, , errorName, message, traceback] = calls[0]?.args ?? [];
    expect(requestId).toBe(r.id);
    expect(errorName).toBe('ChordError');
    expect(message).toMatch(new RegExp(`^Dependency ${idAt(header, 0)} raised .*boom`));
    expect(traceback).toBeNull();
  });

  it('[CHORD-13] a failing chain inside the header marks its tail FAILURE and counts it, so the chord does not hang', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([chain(f.fail.s('in chain'), f.add.s(1), f.add.s(2)), f.add.s(1, 1)], f.sum.s()).applyAsync();
    const header = headerOf(r);
    await f.drain();
    const tail = f.app.asyncResult(idAt(header, 0));
    expect(await tail.state()).toBe('FAILURE');
    expect((await rejection(tail.get())).message).toBe('in chain');
    expect(f.count('add')).toBe(1); // only the other header part; the chain tail never ran
    expect(f.count('sum')).toBe(0);
    const e = await rejection(f.app.asyncResult(r.id).get());
    expect(e.name).toBe('ChordError');
    expect(e.message).toMatch(new RegExp(`^Dependency ${idAt(header, 0)} raised .*in chain`));
    expect((await rejection(r.get())).message).toBe('in chain');
  });

  it('[CHORD-12] body failure fires the body errbacks once, with the body request', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord(
      [f.add.s(1, 1), f.add.s(2, 2)],
      f.failList.s().linkError(f.onError.s()).linkError(f.onErrorInline.s()),
    ).applyAsync();
    await f.drain();
    const e = await rejection(r.get());
    expect(e.message).toBe('body failed on [2,4]');
    expect(f.count('failList')).toBe(1);
    expect(f.calls('onError').map((c) => c.args)).toEqual([[r.id]]);
    const inline = f.calls('onErrorInline');
    expect(inline).toHaveLength(1);
    expect(inline[0]?.args.slice(0, 4)).toEqual([r.id, 'failList', 'Error', 'body failed on [2,4]']);
    expect(typeof inline[0]?.args[4]).toBe('string'); // a real failure has a traceback
  });

  it('[§13, CHORD-03] a revoked header part counts as failed: body FAILURE with ChordError naming it', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([f.add.s(1, 1), f.add.s(2, 2), f.add.s(3, 3)], f.sum.s().linkError(f.onError.s())).applyAsync();
    const header = headerOf(r);
    await header.results[1]?.revoke();
    await f.drain();
    expect(f.count('add')).toBe(2);
    expect(f.count('sum')).toBe(0);
    expect(await header.states()).toEqual(['SUCCESS', 'REVOKED', 'SUCCESS']);
    const e = await rejection(f.app.asyncResult(r.id).get());
    expect(e.name).toBe('ChordError');
    expect(e.message).toMatch(new RegExp(`^Dependency ${idAt(header, 1)} raised .*[Rr]evoked`));
    // the local handle raises the header's own error first
    expect((await rejection(r.get())).name).toBe('TaskRevokedError');
    // header failure → the body's errbacks fire once (revoke itself calls no errbacks)
    expect(f.calls('onError').map((c) => c.args)).toEqual([[r.id]]);
  });

  it('[§4.3] chord.link goes to the body: fires once with the body result', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([f.add.s(1, 1), f.add.s(2, 2)], f.sum.s())
      .link(f.collect.s('after'))
      .applyAsync();
    await f.drain();
    expect(await r.get()).toBe(6);
    const cb = f.calls('collect');
    expect(cb.map((c) => c.args)).toEqual([[6, 'after']]);
    expect(cb[0]?.parentId).toBe(r.id);
  });

  it('[§4.3] chord.linkError goes to the body only: fires once for a header failure, not per failing header task', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([f.fail.s('a'), f.fail.s('b'), f.add.s(1, 1)], f.sum.s())
      .linkError(f.onError.s())
      .applyAsync();
    await f.drain();
    expect(await r.state()).toBe('FAILURE');
    expect(f.calls('onError').map((c) => c.args)).toEqual([[r.id]]);
  });

  it('[§4.3, CHORD-12] chord.linkError fires once when the body itself fails', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([f.add.s(1, 1)], f.failList.s())
      .linkError(f.onError.s())
      .applyAsync();
    await f.drain();
    expect(f.calls('onError').map((c) => c.args)).toEqual([[r.id]]);
  });

  it('[§4.3] a body that is a chain runs once and returns its last result', async () => {
    const f = canvasFixture({ duplicate });
    const r = await chord([f.add.s(1, 1), f.add.s(2, 2)], chain(f.sum.s(), f.mul.s(10))).applyAsync();
    await f.drain();
    expect(await r.get()).toBe(60);
    expect(f.count('sum')).toBe(1);
    expect(f.count('mul')).toBe(1);
  });
});

describe.each(MODES)('chord deadline ($mode)', ({ duplicate }) => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('[§4.3 chord deadline] a chord whose member never finishes fails with CHORD_TIMEOUT, once; the late member does not start the body', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.now();
    const f = canvasFixture({ duplicate, app: { chordDeadlineSeconds: 1 } });
    // The second part is held back for 10 minutes: it cannot finish before the 1 s deadline.
    const body = f.sum.s().linkError(f.onError.s()).linkError(f.onErrorInline.s());
    const r = await chord([f.add.s(1, 1), f.add.s(2, 2).set({ countdown: 600 })], body).applyAsync();
    await f.drain();
    expect(f.count('add')).toBe(1);
    expect(await r.state()).toBe('PENDING');

    vi.setSystemTime(t0 + 2_000);
    await f.drain();
    expect(await r.state()).toBe('FAILURE');
    expect((await r.info()).serializedError?.code).toBe(ErrorCodes.CHORD_TIMEOUT); // as stored
    const e = await rejection(f.app.asyncResult(r.id).get());
    expect(e.name).toBe('ChordError');
    expect(e.code).toBe(ErrorCodes.CHORD_TIMEOUT); // as raised to the caller
    expect((await rejection(r.get())).code).toBe(ErrorCodes.CHORD_TIMEOUT);
    // the body's errbacks fire exactly once (old-style published, new-style inline)
    expect(f.calls('onError').map((c) => c.args)).toEqual([[r.id]]);
    expect(f.calls('onErrorInline').map((c) => c.args[0])).toEqual([r.id]);

    vi.setSystemTime(t0 + 601_000);
    await f.drain();
    expect(f.count('add')).toBe(2); // the late part runs...
    expect(f.count('sum')).toBe(0); // ...but the body never does
    expect(f.count('onError')).toBe(1);
    expect(f.count('onErrorInline')).toBe(1);
    expect((await rejection(f.app.asyncResult(r.id).get())).code).toBe(ErrorCodes.CHORD_TIMEOUT);
  });

  it('[§4.3 chord deadline] a chord that finishes in time is not failed by its deadline', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.now();
    const f = canvasFixture({ duplicate, app: { chordDeadlineSeconds: 1 } });
    const r = await chord([f.add.s(1, 1), f.add.s(2, 2)], f.sum.s()).applyAsync();
    await f.drain();
    expect(await r.get()).toBe(6);
    vi.setSystemTime(t0 + 2_000);
    await f.drain(); // the deadline message arrives and finds the chord complete
    expect(await f.app.asyncResult(r.id).get()).toBe(6);
    expect(f.count('sum')).toBe(1);
  });

  it('[§4.3 chord deadline] the per-call chordDeadline option overrides the app setting', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.now();
    const f = canvasFixture({ duplicate });
    const r = await chord([f.add.s(1, 1), f.add.s(2, 2).set({ countdown: 600 })], f.sum.s()).applyAsync([], { chordDeadline: 1 });
    await f.drain();
    vi.setSystemTime(t0 + 2_000);
    await f.drain();
    expect((await rejection(f.app.asyncResult(r.id).get())).code).toBe(ErrorCodes.CHORD_TIMEOUT);
  });
});

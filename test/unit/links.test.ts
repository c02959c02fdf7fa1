import { describe, expect, it } from 'vitest';
import { type AsyncResult, chain, currentTask, type ErrbackRequest, ErrorCodes, group } from '../../lib/index';
import { harness } from '../helpers/harness';

describe('link and linkError', () => {
  it('link: the callback gets the result prepended and runs only on success [LINK-01]', async () => {
    const h = harness();
    const seen: unknown[][] = [];
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const sub = h.app.task('sub', (x: number, y: number) => {
      seen.push([x, y]);
      return x - y;
    });
    const r = await add.applyAsync([2, 2], { link: sub.s(1) });
    await h.drain();
    expect(await r.get()).toBe(4);
    expect(seen).toEqual([[4, 1]]);
    const [child] = await r.children();
    expect(child).toBeDefined();
    expect(await h.app.asyncResult(child as string).get()).toBe(3);
    const rec = await h.app.asyncResult(child as string).record();
    expect(rec?.parentId).toBe(r.id);
  });

  it('several callbacks each get the result; an immutable one gets nothing', async () => {
    const h = harness();
    const calls: unknown[][] = [];
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const rec = h.app.task('rec', (...a: unknown[]) => {
      calls.push(a);
      return a.length;
    });
    await add.applyAsync([1, 2], { link: [rec.s('a'), rec.si('b')] });
    await h.drain();
    expect(calls).toContainEqual([3, 'a']);
    expect(calls).toContainEqual(['b']);
    expect(calls).toHaveLength(2);
  });

  it('link does not fire on failure; linkError does not fire on success', async () => {
    const h = harness();
    const hits: string[] = [];
    const ok = h.app.task('ok', () => 1);
    const bad = h.app.task('bad', () => {
      throw new Error('x');
    });
    const cb = h.app.task('cb', (_v: unknown) => void hits.push('cb'));
    const eb = h.app.task('eb', (_id: string) => void hits.push('eb'));
    await ok.applyAsync([], { link: cb.s(), linkError: eb.s() });
    await bad.applyAsync([], { link: cb.s() });
    await h.drain();
    expect(hits).toEqual(['cb']);
  });

  it('old-style errback (one parameter) is published as a task with the failed task id [LINK-04]', async () => {
    const h = harness();
    const got: string[] = [];
    const bad = h.app.task('bad', () => {
      throw new RangeError('nope');
    });
    const onErr = h.app.task('onErr', (failedId: string) => {
      got.push(failedId);
      return 'handled';
    });
    const r = await bad.applyAsync([], { linkError: onErr.s() });
    await h.drain();
    expect(got).toEqual([r.id]);
  });

  it('new-style errback (request, error, traceback) runs inline in the failing worker [LINK-03]', async () => {
    const h = harness();
    const got: { id: string; name: string; message: string; tb: unknown; extra: unknown }[] = [];
    const bad = h.app.task('bad', (_n: number) => {
      throw new RangeError('nope');
    });
    const onErr = h.app.errback('onErr', (request, error, traceback, extra: string) => {
      got.push({ id: request.id, name: error.name, message: error.message, tb: traceback, extra });
    });
    const r = await bad.applyAsync([7], { linkError: onErr.s('tag') });
    const published: string[] = [];
    h.app.signals.afterTaskPublish.connect((e) => void published.push(e.sender));
    await h.drain();
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ id: r.id, name: 'RangeError', message: 'nope', extra: 'tag' });
    expect(String(got[0]?.tb)).toContain('nope');
    expect(published).not.toContain('onErr'); // inline: no message
  });

  it('an errback is new-style when it declares more than one parameter as Celery counts them: defaults count, a rest parameter counts [LINK-03]', async () => {
    const h = harness();
    const firsts: Record<string, unknown> = {};
    const bad = h.app.task('bad', () => {
      throw new RangeError('nope');
    });
    const withDefaults = h.app.task('with-defaults', (request: unknown, _exc: unknown = null, _tb: unknown = null) => {
      firsts.withDefaults = request;
    });
    const rest = h.app.task('rest', (...args: unknown[]) => {
      firsts.rest = args[0];
    });
    const oneWithDefault = h.app.task('one-default', (failed: unknown = 'none') => {
      firsts.oneWithDefault = failed;
    });
    const r = await bad.applyAsync([], { linkError: [withDefaults.s(), rest.s(), oneWithDefault.s()] });
    await h.drain();
    expect(firsts.withDefaults).toMatchObject({ id: r.id, task: 'bad' });
    expect(firsts.rest).toMatchObject({ id: r.id, task: 'bad' });
    // One parameter, with a default or not, is old-style: published with the failed id.
    expect(firsts.oneWithDefault).toBe(r.id);
  });

  it('a new-style errback’s request is the failed call’s: kwargs, retries, rootId, parentId and groupId too', async () => {
    const h = harness();
    const requests: ErrbackRequest[] = [];
    const bad = h.app.task(
      'bad-kw',
      (_n: number, _opts: { mode: string }) => {
        if (currentTask().retries < 1) currentTask().retry({ countdown: 0 });
        throw new RangeError('nope');
      },
      { retry: { delay: 0 } },
    );
    const onErr = h.app.errback('on-err-request', (request) => {
      requests.push(request);
    });
    const g = await group(bad.s(1, { mode: 'strict' }).linkError(onErr.s())).applyAsync();
    await h.drain();
    const member = g.results[0] as AsyncResult<unknown>;
    expect(requests).toEqual([
      {
        id: member.id,
        task: 'bad-kw',
        args: [1, { mode: 'strict' }],
        kwargs: undefined,
        retries: 1,
        rootId: member.id,
        parentId: null,
        groupId: g.id,
      },
    ]);
  });

  it('errbacks fire after FAILURE is stored and before onFailure / taskFailure [P-HOOK-02]', async () => {
    const order: string[] = [];
    const h = harness();
    const eb = h.app.task('eb', (_req: unknown, _e: unknown, _tb: unknown) => {
      order.push('errback');
    });
    const bad = h.app.task(
      'bad',
      () => {
        throw new Error('x');
      },
      {
        onFailure: async () => {
          order.push(`onFailure:${await h.app.asyncResult(id).state()}`);
        },
      },
    );
    h.app.signals.taskFailure.connect(() => void order.push('taskFailure'));
    const r = await bad.applyAsync([], { linkError: eb.s() });
    const id = r.id;
    await h.drain();
    expect(order).toEqual(['errback', 'onFailure:FAILURE', 'taskFailure']);
  });
});

describe('chain', () => {
  it('error mid-chain: remaining steps are stored FAILURE with the same error and never run [CHAIN-05]', async () => {
    const h = harness();
    let ranAfter = 0;
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const fail = h.app.task('fail', (_x: number): number => {
      throw new TypeError('mid');
    });
    const after = h.app.task('after', (x: number) => {
      ranAfter++;
      return x;
    });
    const r = await chain(add.s(1, 2), fail.s(), after.s(), after.s()).applyAsync();
    await h.drain();
    expect(ranAfter).toBe(0);
    const e = await r.get().catch((x) => x);
    expect(e.name).toBe('TypeError');
    expect(e.message).toBe('mid');
    const states: string[] = [];
    for (let n: typeof r.parent | typeof r | undefined = r; n; n = n.parent) states.unshift(await (n as typeof r).state());
    expect(states).toEqual(['SUCCESS', 'FAILURE', 'FAILURE', 'FAILURE']);
    // The steps that never ran are stored under their task names, as the one that failed.
    expect((await r.info()).task).toBe('after');
    expect((await (r.parent as typeof r).info()).task).toBe('after');
  });

  it('chain.link fires once on the last step; chain.linkError fires once for the failing step [CHAIN-06/08]', async () => {
    const h = harness();
    const got: unknown[] = [];
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const fail = h.app.task('fail', (_x: number): number => {
      throw new Error('boom');
    });
    const cb = h.app.task('cb', (v: unknown) => void got.push(['cb', v]));
    const eb = h.app.task('eb', (id: string) => void got.push(['eb', id]));
    await chain(add.s(1, 1), add.s(1)).link(cb.s()).applyAsync();
    const failing = await chain(add.s(1, 1), fail.s(), add.s(1)).linkError(eb.s()).applyAsync();
    await h.drain();
    expect(got).toContainEqual(['cb', 3]);
    const failedStep = failing.parent as { id: string };
    expect(got.filter((g) => (g as unknown[])[0] === 'eb')).toEqual([['eb', failedStep.id]]);
    expect(got).toHaveLength(2);
  });

  it('chain.applyAsync args go to the first task only; taskId names the last [CHAIN-03/18]', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const r = await chain(add.s(1), add.s(10)).applyAsync([5], { taskId: 'last-one' });
    await h.drain();
    expect(r.id).toBe('last-one');
    expect(await r.get()).toBe(16);
  });

  it('a callback or errback given a taskId runs under it, as Celery keeps it; an unnamed one under an id derived from its task', async () => {
    const h = harness();
    const ok = h.app.task('ok', () => 2);
    const bad = h.app.task('bad-named', () => {
      throw new RangeError('nope');
    });
    const double = h.app.task('double', (x: number) => x * 2);
    const noted = h.app.task('noted', (failedId: string) => `noted ${failedId}`);
    const ran: string[] = [];
    h.app.signals.taskPrerun.connect((e) => {
      if (e.sender === 'double') ran.push(e.taskId);
    });
    const named = await ok.applyAsync([], { link: double.s().set({ taskId: 'my-callback' }) });
    const f = await bad.applyAsync([], { linkError: noted.s().set({ taskId: 'my-errback' }) });
    const unnamed = await ok.applyAsync([], { link: double.s() });
    await h.drain({ duplicate: true });
    expect(await h.app.asyncResult('my-callback').get({ timeoutMs: 1_000 })).toBe(4);
    expect(await h.app.asyncResult('my-errback').get({ timeoutMs: 1_000 })).toBe(`noted ${f.id}`);
    // Each callback ran once, though every message was delivered twice.
    expect(ran).toHaveLength(2);
    expect(ran).toContain('my-callback');
    const records = await Promise.all(ran.map((id) => h.app.asyncResult(id).record()));
    expect(records.map((x) => x?.parentId).sort()).toEqual([named.id, unnamed.id].sort());
  });

  it('[SIG-01] clone(args, options) is partial: args prepended, options merged, the original untouched; an immutable clone keeps its args', async () => {
    const h = harness();
    const sub = h.app.task('sub', (x: number, y: number) => x - y);
    const base = sub.s(10).set({ queue: 'default' });
    const partial = base.clone([30], { countdown: 0 });
    expect(partial.args).toEqual([30, 10]);
    expect(partial.options).toMatchObject({ queue: 'default', countdown: 0 });
    expect(base.args).toEqual([10]);
    expect(base.options).not.toHaveProperty('countdown');
    const fixed = sub.si(5, 1).clone([99]);
    expect(fixed.args).toEqual([5, 1]);
    const r = await partial.delay();
    await h.drain();
    expect(await r.get({ timeoutMs: 1_000 })).toBe(20);
  });

  it('an immutable step ignores the previous result', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const r = await chain(add.s(1, 1), add.si(10, 10)).applyAsync();
    await h.drain();
    expect(await r.get()).toBe(20);
  });

  it('a chain of errors stores every tail id with the original error code', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const r = await chain(add.s(1, 1), h.app.signature<number>('missing-task'), add.s(1)).applyAsync();
    await h.drain();
    await expect(r.get()).rejects.toMatchObject({ code: ErrorCodes.TASK_NOT_REGISTERED });
  });
});

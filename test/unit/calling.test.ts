import { describe, expect, it } from 'vitest';
import { chain, ErrorCodes, isCeleriacError } from '../../lib/index';
import { harness } from '../helpers/harness';

describe('delay / applyAsync / get', () => {
  it('runs a task and returns its result through get()', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const r = await add.delay(2, 3);
    expect(await r.state()).toBe('PENDING');
    await h.drain();
    expect(await r.state()).toBe('SUCCESS');
    expect(await r.get({ timeoutMs: 1000 })).toBe(5);
    expect(await r.ready()).toBe(true);
    expect(await r.successful()).toBe(true);
    expect(await r.failed()).toBe(false);
  });

  it('refuses a call with too few arguments before publishing (Celery typing=True)', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    // @ts-expect-error: add needs two numbers
    await expect(add.delay(1)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGS });
    expect((await h.backend.broker.depth('default')).visible).toBe(0);
  });

  it('refuses a call with too many arguments before publishing, as too few', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    // @ts-expect-error: add takes two numbers
    await expect(add.delay(1, 2, 3)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGS });
    expect((await h.backend.broker.depth('default')).visible).toBe(0);
  });

  it("[add_to_parent] a task called inside a running task is recorded in the caller's children; addToParent: false opts out", async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const ids: string[] = [];
    const fanout = h.app.task('fanout', async (n: number) => {
      for (let i = 0; i < n; i++) ids.push((await add.delay(i, i)).id);
      await add.applyAsync([9, 9], { addToParent: false });
      return n;
    });
    const r = await fanout.delay(2);
    await h.drain();
    expect(await r.get()).toBe(2);
    expect(ids).toHaveLength(2);
    expect(await r.children()).toEqual(ids);
    expect((await r.info()).children).toEqual(ids);
    for (const id of ids) expect(await h.app.asyncResult(id).get()).toBe(Number(ids.indexOf(id)) * 2);
  });

  it('stores FAILURE with the error type, message and code; get() re-raises it', async () => {
    const h = harness();
    const boom = h.app.task('boom', () => {
      throw new TypeError('bad thing');
    });
    const r = await boom.delay();
    await h.drain();
    expect(await r.state()).toBe('FAILURE');
    const err = await r.get().catch((e) => e);
    expect(err.name).toBe('TypeError');
    expect(err.message).toBe('bad thing');
    expect(err.code).toBe(ErrorCodes.TASK_ERROR);
    const info = await r.info();
    expect(info.traceback).toContain('bad thing');
    await expect(r.get({ propagate: false })).resolves.toBeInstanceOf(Error);
  });

  it('times out get() without affecting the task', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const r = await add.delay(1, 1);
    const e: unknown = await r.get({ timeoutMs: 20, intervalMs: 5 }).catch((x: unknown) => x);
    expect(isCeleriacError(e, ErrorCodes.TIMEOUT)).toBe(true);
    await h.drain();
    expect(await r.get()).toBe(2);
  });

  it('uses a given taskId verbatim and never overwrites a stored SUCCESS', async () => {
    const h = harness();
    let calls = 0;
    const inc = h.app.task('inc', (x: number) => {
      calls++;
      return x + 1;
    });
    await inc.applyAsync([1], { taskId: 'fixed-id' });
    await h.drain();
    await inc.applyAsync([100], { taskId: 'fixed-id' });
    await h.drain();
    expect(calls).toBe(1); // the duplicate id is recognised as done work
    expect(await h.app.asyncResult('fixed-id').get()).toBe(2);
  });

  it('sendTask calls a task by name; app.asyncResult rebuilds a handle', async () => {
    const h = harness();
    h.app.task('mul', (x: number, y: number) => x * y);
    const r = await h.app.sendTask<number>('mul', [6, 7]);
    await h.drain();
    expect(await h.app.asyncResult<number>(r.id).get()).toBe(42);
  });

  it('stores TASK_NOT_REGISTERED for an unknown task name', async () => {
    const h = harness();
    const r = await h.app.sendTask('nope', [1]);
    await h.drain();
    await expect(r.get()).rejects.toMatchObject({ code: ErrorCodes.TASK_NOT_REGISTERED });
  });

  it('chain passes each result as the next first argument; ids, rootId and parentId are frozen', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const report = h.app.task('report', (total: number) => `total=${total}`);
    const r = await chain(add.s(2, 3), add.s(4), report.s()).applyAsync();
    expect(r.parent).toBeDefined();
    await h.drain();
    expect(await r.get()).toBe('total=9');
    const first = r.parent?.parent;
    const second = r.parent;
    if (!first || !second || !('record' in first) || !('record' in second)) throw new Error('parents missing');
    const [a, b, c] = [await first.record(), await second.record(), await r.record()];
    expect(a?.rootId).toBe(first.id);
    expect(b?.rootId).toBe(first.id);
    expect(c?.rootId).toBe(first.id);
    expect(a?.parentId).toBeNull();
    expect(b?.parentId).toBe(first.id);
    expect(c?.parentId).toBe(second.id);
    expect(a?.children).toEqual([second.id]);
  });
});

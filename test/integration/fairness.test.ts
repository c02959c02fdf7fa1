/**
 * Per-tenant fairness (README, "Fairness"), on every target: a call's fairness key travels in its
 * message (`headers.fairnessKey`, sent as the SQS MessageGroupId) and is kept by what the call
 * causes — the next chain steps, retries, calls made inside it, static links — unless a step sets its own; a
 * task's `fairnessKey` function is the default; a plain JSON message carries one too; a key SQS
 * would refuse is refused before anything is sent. On memory mode, whose queues deliver fairly
 * across groups as SQS fair queues do, a noisy tenant's 1,000 messages delay a quiet tenant's 10
 * by a bounded number of messages, where without keys they wait behind the whole backlog.
 * (Emulated mode's SQS emulator, fauxqs, accepts the group id but delivers in arrival order, so
 * the bound is asserted on memory mode only.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memoryBackend } from '../../lib/adapters/memory';
import { chain, chord, createApp, currentTask, Retry } from '../../lib/index';
import { type LocalRuntime, linkCallId, startLocal } from '../../lib/local';
import { recordingLogger, targets } from './targets';

describe.each(targets())('fairness keys on $name', (target) => {
  const app = createApp({ name: `fair-${target.name}`, logger: recordingLogger() });
  /** The key each run of a body saw, by task id: `[task, key]` per attempt. */
  const seen = new Map<string, (string | undefined)[]>();
  const note = (): void => {
    const c = currentTask();
    seen.set(c.id, [...(seen.get(c.id) ?? []), c.fairnessKey]);
  };
  const keysOf = (id: string) => seen.get(id) ?? [];
  const add = app.task('add', (x: number, y: number) => {
    note();
    return x + y;
  });
  const order = app.task(
    'order',
    (_customer: string, amount: number) => {
      note();
      return amount;
    },
    { fairnessKey: (customer) => `customer-${customer}` },
  );
  const badKey = app.task('badKey', () => 0, { fairnessKey: () => 'has a space' });
  const flaky = app.task('flaky', () => {
    note();
    if (currentTask().retries === 0) throw new Retry({ countdown: 0 });
    return 'ok';
  });
  const source = app.task('source', (x: number) => {
    note();
    return x;
  });
  const linked = app.task('linked', (x: number) => {
    note();
    return x;
  });
  app.link(source, linked);
  const sum = app.task('sum', (xs: number[]) => {
    note();
    return xs.reduce((a, b) => a + b, 0);
  });
  const fails = app.task('fails', () => {
    throw new Error('no');
  });
  /** The key each errback ran under, by the failed task's id. */
  const errbackKeys = new Map<string, string | undefined>();
  const onError = app.task('onError', (failedId: string) => {
    errbackKeys.set(failedId, currentTask().fairnessKey);
  });
  const single = app.task(
    'single',
    async () => {
      note();
      await new Promise((r) => setTimeout(r, 200));
    },
    { concurrency: 1 },
  );
  let childId: string | undefined;
  const parent = app.task('parent', async () => {
    note();
    childId = (await add.delay(1, 1)).id;
    return 'parent';
  });
  let local: LocalRuntime;
  beforeAll(async () => {
    local = await startLocal(app, target.options);
  }, 60_000);
  afterAll(async () => {
    await local?.stop();
  });

  it('applyAsync({ fairnessKey }) reaches the worker; a task’s fairnessKey function is the default, and a key on the call wins over it', async () => {
    const given = await add.applyAsync([1, 2], { fairnessKey: 'tenant-a' });
    const byDefault = await order.delay('c42', 10);
    const overridden = await order.applyAsync(['c42', 11], { fairnessKey: 'tenant-b' });
    const none = await add.delay(2, 2);
    const viaSendTask = await app.sendTask('add', [3, 3], { fairnessKey: 'tenant-c' });
    await local.drain();
    expect(keysOf(given.id)).toEqual(['tenant-a']);
    expect(keysOf(byDefault.id)).toEqual(['customer-c42']);
    expect(keysOf(overridden.id)).toEqual(['tenant-b']);
    expect(keysOf(none.id)).toEqual([undefined]);
    expect(keysOf(viaSendTask.id)).toEqual(['tenant-c']);
  }, 30_000);

  it('a chain’s steps inherit the call’s key; a step that sets its own key is sent under it, and what follows inherits that one', async () => {
    const r = await chain(add.s(1, 1), add.s(1), add.s(1).set({ fairnessKey: 'step-own' }), add.s(1)).applyAsync([], {
      fairnessKey: 'tenant-chain',
    });
    expect(await r.get({ timeoutMs: 20_000 })).toBe(5);
    const ids = [r.parent?.parent?.parent?.id, r.parent?.parent?.id, r.parent?.id, r.id] as string[];
    expect(ids.map((id) => keysOf(id)[0])).toEqual(['tenant-chain', 'tenant-chain', 'step-own', 'step-own']);
  }, 30_000);

  it('a chain without a key: a step inherits the key its previous step was sent under (from that task’s default)', async () => {
    const r = await chain(order.s('c7', 5), add.s(1)).applyAsync();
    expect(await r.get({ timeoutMs: 20_000 })).toBe(6);
    expect(keysOf(r.id)).toEqual(['customer-c7']);
  }, 30_000);

  it('a chord’s body and an errback inherit the key of the task that set them off', async () => {
    const c = await chord([add.s(1, 1), add.s(2, 2)], sum.s()).applyAsync([], { fairnessKey: 'tenant-chord' });
    expect(await c.get({ timeoutMs: 20_000 })).toBe(6);
    expect(keysOf(c.id)).toEqual(['tenant-chord']);
    const f = await fails.applyAsync([], { fairnessKey: 'tenant-err', linkError: onError.s() });
    await expect(f.get({ timeoutMs: 20_000 })).rejects.toThrow('no');
    await local.drain();
    expect(errbackKeys.get(f.id)).toBe('tenant-err');
  }, 30_000);

  it('a call that waits for a concurrency slot (sent back to its queue) keeps its key', async () => {
    const a = await single.applyAsync([], { fairnessKey: 'tenant-w1' });
    const b = await single.applyAsync([], { fairnessKey: 'tenant-w2' });
    await Promise.all([a.get({ timeoutMs: 20_000 }), b.get({ timeoutMs: 20_000 })]);
    expect(keysOf(a.id)).toEqual(['tenant-w1']);
    expect(keysOf(b.id)).toEqual(['tenant-w2']);
  }, 30_000);

  it('a retry keeps the key, and a call made inside a task inherits the calling task’s', async () => {
    const retried = await flaky.applyAsync([], { fairnessKey: 'tenant-r' });
    expect(await retried.get({ timeoutMs: 20_000 })).toBe('ok');
    expect(keysOf(retried.id)).toEqual(['tenant-r', 'tenant-r']);
    const p = await parent.applyAsync([], { fairnessKey: 'tenant-p' });
    expect(await p.get({ timeoutMs: 20_000 })).toBe('parent');
    await local.drain();
    expect(keysOf(childId as string)).toEqual(['tenant-p']);
  }, 30_000);

  it('a static link’s call (built by an EventBridge rule from the source’s event) inherits the source’s key', async () => {
    const r = await source.applyAsync([3], { fairnessKey: 'tenant-l' });
    const plain = await source.delay(4);
    await local.drain();
    expect(keysOf(linkCallId(r.id, 'linked'))).toEqual(['tenant-l']);
    expect(keysOf(linkCallId(plain.id, 'linked'))).toEqual([undefined]);
  }, 30_000);

  it('a plain JSON message carries a key as "fairnessKey"; an empty one (a transformer slot with nothing to fill) is none', async () => {
    await local.backend.broker.send([
      {
        queue: 'default',
        id: 'raw-1',
        body: JSON.stringify({ task: 'add', args: [5, 5], id: `raw-${target.name}-1`, fairnessKey: 'from-python' }),
      },
      { queue: 'default', id: 'raw-2', body: JSON.stringify({ task: 'add', args: [6, 6], id: `raw-${target.name}-2`, fairnessKey: '' }) },
    ]);
    await local.drain();
    expect(keysOf(`raw-${target.name}-1`)).toEqual(['from-python']);
    expect(keysOf(`raw-${target.name}-2`)).toEqual([undefined]);
  }, 30_000);

  it('a key SQS would refuse (a space, over 128 characters, not ASCII) fails the call with INVALID_OPTIONS before anything is sent', async () => {
    await local.drain();
    const queued = async () => (await local.queues()).reduce((n, q) => n + q.visible + q.inFlight + q.delayed, 0);
    const before = await queued();
    for (const fairnessKey of ['tenant a', 'x'.repeat(129), 'clé', '']) {
      await expect(add.applyAsync([1, 1], { fairnessKey })).rejects.toMatchObject({
        code: 'INVALID_OPTIONS',
        message: expect.stringContaining('1-128 characters'),
      });
    }
    await expect(add.s(1, 1).set({ fairnessKey: 'a b' }).applyAsync()).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(badKey.delay()).rejects.toMatchObject({ code: 'INVALID_OPTIONS', message: expect.stringContaining('task badKey') });
    expect(await queued()).toBe(before);
  }, 30_000);
});

describe('the fairness key is the message’s SQS group id', () => {
  it('publishes a keyed call with MessageGroupId = its key, an unkeyed one without', async () => {
    const backend = memoryBackend();
    const app = createApp({ name: 'fair-wire', backend, logger: recordingLogger() });
    const add = app.task('add', (x: number, y: number) => x + y);
    await add.applyAsync([1, 2], { fairnessKey: 'tenant-a' });
    await add.delay(3, 4);
    const got = await backend.broker.receive('default', { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
    expect(got.map((m) => [JSON.parse(m.body).args, m.attributes?.MessageGroupId])).toEqual([
      [[1, 2], 'tenant-a'],
      [[3, 4], undefined],
    ]);
  });
});

describe('memory mode: a noisy tenant does not delay a quiet one', () => {
  /**
   * Sends 1,000 calls for one tenant, then 10 for another, and counts how many of the noisy
   * tenant's bodies start after the quiet calls were sent and before the last quiet body starts:
   * how long, in messages, the quiet tenant waited behind the noisy one.
   */
  async function quietWait(keyed: boolean): Promise<number> {
    const app = createApp({ name: `fair-bound-${keyed}`, logger: recordingLogger() });
    const starts: string[] = [];
    const work = app.task('work', async (tenant: string) => {
      starts.push(tenant);
      await new Promise((r) => setTimeout(r, 0));
    });
    const local = await startLocal(app, { mode: 'memory' });
    try {
      const opts = (tenant: string) => (keyed ? { fairnessKey: tenant } : {});
      await Promise.all(Array.from({ length: 1_000 }, () => work.applyAsync(['noisy'], opts('noisy'))));
      const sentAt = starts.length;
      await Promise.all(Array.from({ length: 10 }, () => work.applyAsync(['quiet'], opts('quiet'))));
      await local.drain({ timeoutMs: 60_000 });
      const after = starts.slice(sentAt);
      const lastQuiet = after.lastIndexOf('quiet');
      expect(after.filter((t) => t === 'quiet')).toHaveLength(10);
      return after.slice(0, lastQuiet).filter((t) => t === 'noisy').length;
    } finally {
      await local.stop();
    }
  }

  it('with fairness keys the quiet tenant’s 10 start within 50 of the noisy tenant’s messages; without, behind hundreds', async () => {
    const fair = await quietWait(true);
    const unfair = await quietWait(false);
    expect(fair).toBeLessThanOrEqual(50);
    expect(unfair).toBeGreaterThan(500);
  }, 120_000);
});

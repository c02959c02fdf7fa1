import { describe, expect, it } from 'vitest';
import { type AsyncResult, chain, currentTask, ErrorCodes, Ignore, Reject } from '../../lib/index';
import { isoTime } from '../../lib/signals/events';
import { retryCountdown } from '../../lib/task/retry';
import { harness } from '../helpers/harness';

class TransientError extends Error {
  override name = 'TransientError';
}

function tracer(h: ReturnType<typeof harness>, order: string[]) {
  const s = h.app.signals;
  s.taskReceived.connect(() => void order.push('taskReceived'));
  s.taskPrerun.connect(() => void order.push('taskPrerun'));
  s.taskSuccess.connect(() => void order.push('taskSuccess'));
  s.taskFailure.connect(() => void order.push('taskFailure'));
  s.taskRetry.connect(() => void order.push('taskRetry'));
  s.taskPostrun.connect((e) => void order.push(`taskPostrun:${e.state}`));
}

describe('hooks and signals fire in Celery order [P-HOOK-01/02/03]', () => {
  it('success: received → prerun → beforeStart → body → store → onSuccess → taskSuccess → afterReturn → postrun', async () => {
    const h = harness();
    const order: string[] = [];
    tracer(h, order);
    const state = async () => h.app.asyncResult(currentTask().id).state();
    const t = h.app.task(
      't',
      () => {
        order.push('body');
        return 1;
      },
      {
        beforeStart: () => void order.push('beforeStart'),
        onSuccess: async (result) => void order.push(`onSuccess:${result}:${await state()}`),
        afterReturn: (st, res) => void order.push(`afterReturn:${st}:${res}`),
      },
    );
    await t.delay();
    await h.drain();
    expect(order).toEqual([
      'taskReceived',
      'taskPrerun',
      'beforeStart',
      'body',
      'onSuccess:1:SUCCESS',
      'taskSuccess',
      'afterReturn:SUCCESS:1',
      'taskPostrun:SUCCESS',
    ]);
  });

  it('failure: … body → store FAILURE → onFailure → taskFailure → afterReturn → postrun', async () => {
    const h = harness();
    const order: string[] = [];
    tracer(h, order);
    const t = h.app.task(
      't',
      () => {
        order.push('body');
        throw new Error('x');
      },
      {
        onFailure: async (e) => void order.push(`onFailure:${(e as Error).message}:${await h.app.asyncResult(currentTask().id).state()}`),
        afterReturn: (st) => void order.push(`afterReturn:${st}`),
      },
    );
    await t.delay();
    await h.drain();
    expect(order).toEqual([
      'taskReceived',
      'taskPrerun',
      'body',
      'onFailure:x:FAILURE',
      'taskFailure',
      'afterReturn:FAILURE',
      'taskPostrun:FAILURE',
    ]);
  });

  it('retry: … body → publish retry → store RETRY → onRetry → taskRetry → postrun(RETRY), no afterReturn', async () => {
    const h = harness();
    const order: string[] = [];
    tracer(h, order);
    let attempt = 0;
    const t = h.app.task(
      't',
      () => {
        attempt++;
        order.push(`body${attempt}`);
        if (attempt === 1) throw currentTask().retry({ countdown: 0 });
        return 'ok';
      },
      {
        onRetry: async () => void order.push(`onRetry:${await h.app.asyncResult(currentTask().id).state()}`),
        afterReturn: (st) => void order.push(`afterReturn:${st}`),
      },
    );
    const r = await t.delay();
    await h.drain();
    expect(await r.get()).toBe('ok');
    expect(order).toEqual([
      'taskReceived',
      'taskPrerun',
      'body1',
      'onRetry:RETRY',
      'taskRetry',
      'taskPostrun:RETRY',
      'taskReceived',
      'taskPrerun',
      'body2',
      'taskSuccess',
      'afterReturn:SUCCESS',
      'taskPostrun:SUCCESS',
    ]);
  });

  it('Ignore stores nothing and posts IGNORED; Reject stores FAILURE with TASK_REJECTED', async () => {
    const h = harness();
    const order: string[] = [];
    tracer(h, order);
    const ign = h.app.task('ign', () => {
      throw new Ignore();
    });
    const rej = h.app.task('rej', () => {
      throw new Reject('bad data');
    });
    const a = await ign.delay();
    const b = await rej.delay();
    await h.drain();
    expect(await a.state()).toBe('PENDING');
    expect(order).toContain('taskPostrun:IGNORED');
    await expect(b.get()).rejects.toMatchObject({ code: ErrorCodes.TASK_REJECTED });
  });

  it('[hooks] Reject(requeue=false): FAILURE stored and taskFailure sent, but taskPostrun says REJECTED and neither onFailure nor afterReturn runs', async () => {
    const h = harness();
    const order: string[] = [];
    tracer(h, order);
    const rej = h.app.task(
      'rej',
      () => {
        throw new Reject('bad data');
      },
      { onFailure: () => void order.push('onFailure'), afterReturn: (state) => void order.push(`afterReturn:${state}`) },
    );
    const r = await rej.delay();
    await h.drain();
    expect(await r.state()).toBe('FAILURE');
    expect(order).toContain('taskFailure');
    expect(order).toContain('taskPostrun:REJECTED');
    expect(order).not.toContain('taskPostrun:FAILURE');
    expect(order).not.toContain('onFailure');
    expect(order.some((o) => o.startsWith('afterReturn'))).toBe(false);
  });

  it('publish signals fire in the publisher with the task name as sender', async () => {
    const h = harness();
    const seen: string[] = [];
    h.app.signals.beforeTaskPublish.connect((e) => void seen.push(`before:${e.sender}:${e.body.id}`));
    h.app.signals.afterTaskPublish.connect((e) => void seen.push(`after:${e.sender}`));
    const t = h.app.task('t', () => 1);
    const r = await t.delay();
    expect(seen).toEqual([`before:t:${r.id}`, 'after:t']);
  });

  it('taskUnknown fires once the FAILURE (TASK_NOT_REGISTERED) is stored [CALL-05]', async () => {
    const h = harness();
    const seen: { name: string; id: string; stored: string | undefined }[] = [];
    h.app.signals.taskUnknown.connect(async (e) => {
      seen.push({ name: e.name, id: e.id, stored: (await h.app.asyncResult(e.id).record())?.state });
    });
    h.app.task('known', () => 1);
    const r = await h.app.sendTask('nobody-registered-this', []);
    await h.drain();
    expect(seen).toEqual([{ name: 'nobody-registered-this', id: r.id, stored: 'FAILURE' }]);
  });

  it('signals carry Celery’s arguments: einfo on taskFailure and taskRetry, signum on taskRevoked, routingKey and headers on publish', async () => {
    const h = harness();
    const seen: Record<string, unknown> = {};
    h.app.signals.beforeTaskPublish.connect((e) => {
      seen.publish ??= { routingKey: e.routingKey, retries: e.headers.retries };
    });
    h.app.signals.taskFailure.connect((e) => {
      seen.failure = { message: (e.einfo.exception as Error).message, same: e.einfo.traceback === e.traceback, tb: e.traceback };
    });
    h.app.signals.taskRetry.connect((e) => {
      seen.retry = { message: (e.einfo.exception as Error).message, tb: e.einfo.traceback };
    });
    h.app.signals.taskRevoked.connect((e) => {
      seen.revoked = { signum: e.signum, expired: e.expired };
    });
    const fails = h.app.task('fails', () => {
      throw new RangeError('broken');
    });
    const retries = h.app.task(
      'retries',
      () => {
        if (currentTask().retries === 0) throw new TransientError('again');
      },
      { retry: { on: [TransientError], delay: 0 } },
    );
    const late = h.app.task('late', () => 1);
    await fails.delay();
    await retries.delay();
    await late.applyAsync([], { expires: new Date(Date.now() - 1_000) });
    await h.drain();
    expect(seen.publish).toEqual({ routingKey: 'default', retries: 0 });
    expect(seen.failure).toMatchObject({ message: 'broken', same: true, tb: expect.stringContaining('RangeError: broken') });
    expect(seen.retry).toMatchObject({ message: 'again', tb: expect.stringContaining('again') });
    expect(seen.revoked).toEqual({ signum: null, expired: true });
  });

  it('a failing signal receiver or hook does not change the outcome', async () => {
    const h = harness();
    h.app.signals.taskPrerun.connect(() => {
      throw new Error('receiver bug');
    });
    const t = h.app.task('t', () => 7, {
      onSuccess: () => {
        throw new Error('hook bug');
      },
    });
    const r = await t.delay();
    await h.drain();
    expect(await r.get()).toBe(7);
  });
});

describe('retries [RETRY-01..05]', () => {
  it('ctx.retry() republishes with the same id and retries+1; links survive', async () => {
    const h = harness();
    const retries: number[] = [];
    const ids = new Set<string>();
    const flaky = h.app.task('flaky', (x: number) => {
      const ctx = currentTask();
      retries.push(ctx.retries);
      ids.add(ctx.id);
      if (ctx.retries < 2) throw ctx.retry({ countdown: 0 });
      return x * 2;
    });
    const got: unknown[] = [];
    const cb = h.app.task('cb', (v: number) => void got.push(v));
    const r = await flaky.applyAsync([21], { link: cb.s() });
    await h.drain();
    expect(await r.get()).toBe(42);
    expect(retries).toEqual([0, 1, 2]);
    expect(ids).toEqual(new Set([r.id]));
    expect(got).toEqual([42]);
  });

  it('automatic retry on listed errors; at the limit the last error is stored and errbacks fire once [RETRY-03]', async () => {
    const h = harness();
    let runs = 0;
    const errs: string[] = [];
    const t = h.app.task(
      't',
      () => {
        runs++;
        throw new TransientError(`try ${runs}`);
      },
      { retry: { max: 2, on: [TransientError], delay: 0 } },
    );
    const eb = h.app.task('eb', (id: string) => void errs.push(id));
    const r = await t.applyAsync([], { linkError: eb.s() });
    await h.drain();
    expect(runs).toBe(3); // max + 1 executions
    const e = await r.get().catch((x) => x);
    expect(e.name).toBe('TransientError');
    expect(e.message).toBe('try 3');
    expect(errs).toEqual([r.id]);
  });

  it('errors not listed are not retried; notOn excludes', async () => {
    const h = harness();
    let runs = 0;
    const t = h.app.task(
      't',
      () => {
        runs++;
        throw new TypeError('permanent');
      },
      { retry: { on: [Error], notOn: [TypeError], delay: 0 } },
    );
    const r = await t.delay();
    await h.drain();
    expect(runs).toBe(1);
    expect(await r.state()).toBe('FAILURE');
  });

  it('ctx.retry() past max without an error stores MaxRetriesExceeded [RETRY-02]', async () => {
    const h = harness();
    const t = h.app.task('t', () => {
      throw currentTask().retry({ countdown: 0, maxRetries: 1 });
    });
    const r = await t.delay();
    await h.drain();
    await expect(r.get()).rejects.toMatchObject({ code: ErrorCodes.MAX_RETRIES_EXCEEDED });
  });

  it('the default retry delay is 180 s (Celery default_retry_delay) and becomes SQS DelaySeconds', async () => {
    const h = harness();
    const t = h.app.task('t', () => {
      throw currentTask().retry();
    });
    const sent: (number | undefined)[] = [];
    const send = h.backend.broker.send.bind(h.backend.broker);
    h.backend.broker.send = async (msgs) => {
      for (const m of msgs) sent.push(m.delaySeconds);
      return send(msgs);
    };
    await t.delay();
    await h.drain();
    expect(sent).toEqual([undefined, 180]);
    expect((await h.backend.broker.depth('default')).delayed).toBe(1);
  });

  it('backoff is the automatic retry’s: ctx.retry() without a countdown waits retry.delay (default_retry_delay), as Celery', async () => {
    const h = harness();
    const delays: Record<string, number[]> = { auto: [], explicit: [], tuned: [] };
    h.app.signals.beforeTaskPublish.connect((e) => void delays[e.sender]?.push(e.delaySeconds));
    const policy = { on: [TransientError], backoff: true, jitter: false, max: 1 } as const;
    h.app.task(
      'auto',
      () => {
        throw new TransientError('flaky');
      },
      { retry: policy },
    );
    h.app.task(
      'explicit',
      () => {
        if (currentTask().retries === 0) currentTask().retry();
      },
      { retry: policy },
    );
    h.app.task(
      'tuned',
      () => {
        if (currentTask().retries === 0) currentTask().retry();
      },
      { retry: { ...policy, delay: 30 } },
    );
    for (const name of ['auto', 'explicit', 'tuned']) await h.app.sendTask(name);
    await h.deliver('default');
    expect(delays).toEqual({ auto: [0, 1], explicit: [0, 180], tuned: [0, 30] });
  });

  it('backoff: min(cap, base·2^retries), jitter within 0…countdown [RETRY-05]', () => {
    expect([0, 1, 2, 3].map((n) => retryCountdown({ backoff: true, jitter: false }, n))).toEqual([1, 2, 4, 8]);
    expect(retryCountdown({ backoff: 5, jitter: false, backoffMax: 30 }, 10)).toBe(30);
    expect(retryCountdown({ backoff: true, jitter: true }, 3, () => 0.999)).toBe(8);
    expect(retryCountdown({ backoff: true, jitter: true }, 3, () => 0)).toBe(0);
    expect(retryCountdown(undefined, 0)).toBe(180);
  });
});

describe('time limits', () => {
  it('a soft limit longer than the hard one is refused, on the task and on the call (Celery: ValueError at publish)', async () => {
    const h = harness();
    expect(() => h.app.task('bad-limits', () => 1, { timeLimit: 1, softTimeLimit: 2 })).toThrow(
      expect.objectContaining({
        code: ErrorCodes.INVALID_OPTIONS,
        message: expect.stringContaining('softTimeLimit (2 s) is longer than timeLimit (1 s)'),
      }),
    );
    const t = h.app.task('t', () => 1, { timeLimit: 5, softTimeLimit: 5 });
    await expect(t.applyAsync([], { timeLimit: 3, softTimeLimit: 4 })).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTIONS });
    await expect(t.s().set({ timeLimit: 3, softTimeLimit: 4 }).delay()).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTIONS });
    expect(await h.backend.broker.depth('default')).toMatchObject({ visible: 0 });
    const ok = await t.applyAsync([], { timeLimit: 4, softTimeLimit: 3 });
    await h.drain();
    expect(await ok.get({ timeoutMs: 1_000 })).toBe(1);
  });

  it('a soft limit aborts the task signal; a task that handles it succeeds [P-LIMIT-02/03]', async () => {
    const h = harness();
    const t = h.app.task(
      't',
      async () => {
        const { signal } = currentTask();
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        return `aborted:${(signal.reason as Error).name}`;
      },
      { softTimeLimit: 0.05 },
    );
    const r = await t.delay();
    await h.drain();
    expect(await r.get()).toBe('aborted:SoftTimeLimitExceeded');
  });

  it('a hard limit stores FAILURE with TIME_LIMIT_EXCEEDED and fires errbacks once', async () => {
    const h = harness();
    const errs: string[] = [];
    const t = h.app.task('t', () => new Promise(() => {}), { timeLimit: 0.05 });
    const eb = h.app.task('eb', (id: string) => void errs.push(id));
    const r = await t.applyAsync([], { linkError: eb.s() });
    await h.drain();
    await expect(r.get()).rejects.toMatchObject({ code: ErrorCodes.TIME_LIMIT_EXCEEDED });
    expect(errs).toEqual([r.id]);
  });

  it('the Lambda deadline bounds the task: cut before the kill, it is returned for redelivery, not failed', async () => {
    const h = harness();
    const t = h.app.task('t', () => new Promise(() => {}));
    const r = await t.delay();
    const [m] = await h.backend.broker.receive('default', { max: 1, visibilityTimeoutSeconds: 30, waitMs: 0 });
    const { sqsEvent } = await import('../helpers/harness');
    const res = await h.handler(sqsEvent('default', [m as never]), { getRemainingTimeInMillis: () => 1_200 });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: m?.messageId }]);
    expect(await r.state()).toBe('PENDING');
  });
});

describe('expires, revoke, countdown', () => {
  it('an expired message is not run: REVOKED, taskRevoked(expired), no errbacks [CALL-03]', async () => {
    const h = harness();
    let ran = false;
    const revoked: boolean[] = [];
    h.app.signals.taskRevoked.connect((e) => void revoked.push(e.expired));
    const t = h.app.task('t', () => {
      ran = true;
    });
    const eb = h.app.task('eb', (_id: string) => {
      throw new Error('errback must not run');
    });
    const r = await t.applyAsync([], { expires: new Date(Date.now() - 1000), linkError: eb.s() });
    await h.drain();
    expect(ran).toBe(false);
    expect(await r.state()).toBe('REVOKED');
    expect(await r.failed()).toBe(false);
    expect(revoked).toEqual([true]);
    await expect(r.get()).rejects.toMatchObject({ name: 'TaskRevokedError' });
  });

  it('a task’s own expires applies to calls that set none (Celery’s Task.expires); a call’s expires wins', async () => {
    const h = harness();
    let runs = 0;
    const stale = h.app.task('stale', () => ++runs, { expires: 0.05 });
    const expired = await stale.delay();
    const kept = await stale.applyAsync([], { expires: 60 });
    await new Promise((r) => setTimeout(r, 120));
    await h.drain();
    expect(await expired.state()).toBe('REVOKED');
    expect((await expired.record())?.revokedBy).toBe('expired');
    expect(await kept.get({ timeoutMs: 1_000 })).toBe(1);
    expect(runs).toBe(1);
  });

  it('revoke() stops a task that has not started; its worker discards it [P-HOOK-05]', async () => {
    const h = harness();
    let ran = false;
    const t = h.app.task('t', () => {
      ran = true;
    });
    const r = await t.delay();
    await r.revoke();
    await h.drain();
    expect(ran).toBe(false);
    expect(await r.state()).toBe('REVOKED');
  });

  it('revoke() does not overwrite a finished result', async () => {
    const h = harness();
    const t = h.app.task('t', () => 1);
    const r = await t.delay();
    await h.drain();
    await r.revoke();
    expect(await r.get()).toBe(1);
  });

  it('countdown ≤ 900 s becomes DelaySeconds; longer ones hop through 900 s delays until due', async () => {
    const h = harness();
    const delays: (number | undefined)[] = [];
    const send = h.backend.broker.send.bind(h.backend.broker);
    h.backend.broker.send = async (msgs) => {
      for (const m of msgs) delays.push(m.delaySeconds);
      return send(msgs);
    };
    const t = h.app.task('t', () => 1);
    await t.applyAsync([], { countdown: 30 });
    await t.applyAsync([], { countdown: 2000 });
    expect(delays).toEqual([30, 900]);
  });

  it('forget() deletes the record: the state reads PENDING again [P-STATE-03]', async () => {
    const h = harness();
    const t = h.app.task('t', () => 1);
    const r = await t.delay();
    await h.drain();
    await r.forget();
    expect(await r.state()).toBe('PENDING');
  });

  it('forget() of an id that is no task id refuses and deletes nothing (celeriac’s own records share the table)', async () => {
    const h = harness();
    const deleted: string[] = [];
    const del = h.backend.store.delete.bind(h.backend.store);
    h.backend.store.delete = (id) => {
      deleted.push(id);
      return del(id);
    };
    for (const id of ['join:3f2a', 'errback:t-1:0', 'replaced:1:t-1', 'ignored:t-1', '']) {
      await expect(h.app.asyncResult(id).forget()).rejects.toMatchObject({
        code: ErrorCodes.INVALID_ARGS,
        message: expect.stringContaining('is not a task id'),
      });
    }
    expect(deleted).toEqual([]);
  });

  it('ignoreResult stores nothing and get() resolves at once [CALL-04]', async () => {
    const h = harness();
    const t = h.app.task('t', () => 1);
    const r = await t.applyAsync([], { ignoreResult: true });
    await h.drain();
    expect(await r.get()).toBeUndefined();
    expect(await r.state()).toBe('PENDING');
  });

  it('a task declared ignoreResult gives ignored handles: get() resolves at once, as for the call option [CALL-04]', async () => {
    const h = harness();
    let runs = 0;
    const t = h.app.task('quiet', () => ++runs, { ignoreResult: true });
    const r = await t.delay();
    expect(r.ignored).toBe(true);
    await h.drain();
    expect(runs).toBe(1);
    expect(await r.get({ timeoutMs: 200 })).toBeUndefined();
    expect(await r.state()).toBe('PENDING');
    // The call's option wins over the task's: a call that wants the result gets it.
    const kept = await t.applyAsync([], { ignoreResult: false });
    expect(kept.ignored).toBe(false);
    await h.drain();
    expect(await kept.get({ timeoutMs: 1_000 })).toBe(2);
  });

  it('a chain’s handle is ignored when its last task ignores its result; a chain call’s ignoreResult goes to its first step (as Celery)', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const quiet = h.app.task('quiet-last', (x: number) => x * 10, { ignoreResult: true });
    const r = await chain(add.s(1, 2), quiet.s()).applyAsync();
    expect(r.ignored).toBe(true);
    expect((r.parent as AsyncResult<number>).ignored).toBe(false);
    await h.drain();
    expect(await r.get({ timeoutMs: 200 })).toBeUndefined();
    expect(await (r.parent as AsyncResult<number>).get({ timeoutMs: 1_000 })).toBe(3);
    const firstQuiet = await chain(add.s(1, 2), add.s(4)).applyAsync([], { ignoreResult: true });
    expect(firstQuiet.ignored).toBe(false);
    await h.drain();
    expect(await firstQuiet.get({ timeoutMs: 1_000 })).toBe(7);
  });

  it('trackStarted stores STARTED while the body runs; updateState stores a custom state', async () => {
    const h = harness();
    const seen: string[] = [];
    const t = h.app.task(
      't',
      async () => {
        const ctx = currentTask();
        seen.push(await h.app.asyncResult(ctx.id).state());
        await ctx.updateState('PROGRESS', { done: 50 });
        seen.push(await h.app.asyncResult(ctx.id).state());
        return 1;
      },
      { trackStarted: true },
    );
    await t.delay();
    await h.drain();
    expect(seen).toEqual(['STARTED', 'PROGRESS']);
  });
});

describe('lifecycle events: one per outcome', () => {
  it('publishes task-succeeded / task-failed / task-retried with the typed detail', async () => {
    const h = harness({ name: 'shop' });
    let n = 0;
    const ok = h.app.task('ok', (x: number) => x + 1);
    const bad = h.app.task('bad', () => {
      n++;
      if (n === 1) throw currentTask().retry({ countdown: 0 });
      throw new Error('no');
    });
    const r1 = await ok.delay(1);
    const r2 = await bad.delay();
    await h.drain();
    const events = h.backend.events.events;
    expect(events.map((e) => e.detailType).sort()).toEqual(['task-failed', 'task-retried', 'task-succeeded']);
    const s = events.find((e) => e.detailType === 'task-succeeded');
    expect(s?.source).toBe('celeriac.shop');
    expect(s?.detail).toMatchObject({
      v: 1,
      app: 'shop',
      task: 'ok',
      id: r1.id,
      rootId: r1.id,
      parentId: null,
      state: 'SUCCESS',
      result: 2,
      attempt: 0,
    });
    const f = events.find((e) => e.detailType === 'task-failed');
    expect(f?.detail).toMatchObject({ id: r2.id, state: 'FAILURE', attempt: 1, error: { type: 'Error', message: 'no' } });
    expect(typeof f?.detail.durationMs).toBe('number');
  });

  it('events can be turned off per task', async () => {
    const h = harness();
    const quiet = h.app.task('quiet', () => 1, { events: false });
    await quiet.delay();
    await h.drain();
    expect(h.backend.events.events).toHaveLength(0);
  });
});

describe('event timestamps', () => {
  it('isoTime formats like Date#toISOString, within a second, across seconds and outside 1970-9999', () => {
    const base = Date.UTC(2026, 11, 2, 16, 59, 59, 0);
    const times = [base, base + 7, base + 42, base + 999, base + 1_000, base + 1_005, 0, 12.7, -1, 253_402_300_800_000, base];
    expect(times.map(isoTime)).toEqual(times.map((t) => new Date(t).toISOString()));
  });
});

/**
 * Rate limits and concurrency limits, enforced by the worker through the backend's shared
 * counters (lib/runtime/throttle.ts), on every target: a call over a limit waits its turn — in
 * its worker when the wait is short, back on its queue otherwise — and is never a retry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, currentTask, ErrorCodes, States } from '../../lib/index';
import { type LocalRuntime, startLocal } from '../../lib/local';
import { recordingLogger, targets } from './targets';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The most starts within any window of `windowMs` (half-open). */
function mostInWindow(starts: readonly number[], windowMs: number): number {
  const sorted = [...starts].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[j] as number) <= (sorted[i] as number) - windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe.each(targets())('flow control on $name', (target) => {
  const app = createApp({ name: `flow-${target.name}`, logger: recordingLogger() });
  const starts: number[] = [];
  const retriesSeen = new Set<number>();
  const limited = app.task(
    'limited',
    (n: number) => {
      starts.push(Date.now());
      return n;
    },
    { rateLimit: '20/s' },
  );
  const running = new Map<string, number>();
  const most = new Map<string, number>();
  const busy = app.task(
    'busy',
    async (customer: string, n: number) => {
      const now = (running.get(customer) ?? 0) + 1;
      running.set(customer, now);
      most.set(customer, Math.max(most.get(customer) ?? 0, now));
      await sleep(60);
      running.set(customer, (running.get(customer) ?? 1) - 1);
      return n;
    },
    { concurrency: { limit: 2, key: (customer) => customer } },
  );
  const one = app.task(
    'one',
    async (n: number) => {
      const { retries } = currentTask();
      retriesSeen.add(retries);
      const now = (running.get('one') ?? 0) + 1;
      running.set('one', now);
      most.set('one', Math.max(most.get('one') ?? 0, now));
      await sleep(30);
      running.set('one', (running.get('one') ?? 1) - 1);
      return n;
    },
    { concurrency: 1 },
  );
  const badKey = app.task('badKey', (_x: number) => 1, { concurrency: { limit: 1, key: () => 42 as unknown as string } });
  let local: LocalRuntime;

  beforeAll(async () => {
    local = await startLocal(app, target.options);
  }, 60_000);
  afterAll(async () => {
    await local?.stop();
  });

  it('a burst of 60 calls to a task limited to 20/s: all run; the gate admits them at least 50 ms apart, never more than 20 in any second', async () => {
    // What the gate granted, read where it is decided (the shared counters): the bodies start
    // right after, later when the event loop is busy (in-process emulators share it).
    const admitted: number[] = [];
    const flow = local.backend.flow;
    if (!flow) throw new Error('local mode has flow control');
    const reserve = flow.reserveStart.bind(flow);
    flow.reserveStart = async (...a) => {
      const d = await reserve(...a);
      if (d.ok) admitted.push(d.startAt);
      return d;
    };
    const handles = await Promise.all(Array.from({ length: 60 }, (_, i) => limited.delay(i)));
    const values = await Promise.all(handles.map((h) => h.get({ timeoutMs: 30_000 })));
    flow.reserveStart = reserve;
    expect(values).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(starts).toHaveLength(60);
    expect(admitted).toHaveLength(60);
    const sorted = [...admitted].sort((a, b) => a - b);
    expect(Math.min(...sorted.slice(1).map((t, i) => t - (sorted[i] as number)))).toBeGreaterThanOrEqual(50);
    expect(mostInWindow(admitted, 1_000)).toBeLessThanOrEqual(20);
    // No body starts before its admission, so the bodies too take (nearly) three seconds.
    expect(Math.max(...starts) - Math.min(...starts)).toBeGreaterThanOrEqual(59 * 50 - 1_000);
  }, 60_000);

  it('a concurrency limit per key: at most 2 at once for each customer, the customers side by side', async () => {
    const calls = [
      ...Array.from({ length: 8 }, (_, i) => busy.delay('acme', i)),
      ...Array.from({ length: 8 }, (_, i) => busy.delay('globex', i)),
    ];
    const handles = await Promise.all(calls);
    await Promise.all(handles.map((h) => h.get({ timeoutMs: 60_000 })));
    expect(most.get('acme')).toBe(2);
    expect(most.get('globex')).toBe(2);
  }, 90_000);

  it('a call that waited for its slot is not a retry: every run is attempt 0, no RETRY state', async () => {
    const handles = await Promise.all(Array.from({ length: 6 }, (_, i) => one.delay(i)));
    expect(await Promise.all(handles.map((h) => h.get({ timeoutMs: 60_000 })))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(most.get('one')).toBe(1);
    expect([...retriesSeen]).toEqual([0]);
    for (const h of handles) expect((await h.info()).retries ?? 0).toBe(0);
  }, 90_000);

  it('a concurrency key function that returns no string fails the call with INVALID_ARGS, once', async () => {
    const h = await badKey.delay(1);
    await expect(h.get({ timeoutMs: 20_000 })).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGS });
    expect(await h.state()).toBe(States.FAILURE);
  }, 30_000);

  it('refuses a rate or a concurrency it cannot read when the task is registered', () => {
    expect(() => app.task('x1', () => 1, { rateLimit: '10/d' as never })).toThrow('rateLimit "10/d" is not a rate');
    expect(() => app.task('x2', () => 1, { rateLimit: 0 })).toThrow(expect.objectContaining({ code: ErrorCodes.INVALID_OPTIONS }));
    expect(() => app.task('x3', () => 1, { concurrency: 0 })).toThrow('concurrency limit must be an integer from 1 to 1000');
  });
});

/**
 * The Lambda deadline is the invocation's, not the task's: a task that could not start in time, or
 * was cut by the invocation's own deadline, is returned for redelivery (a batch item failure) and
 * runs again in a fresh invocation; only a task's own limits store TIME_LIMIT_EXCEEDED. Limits are
 * timed on the app clock, so local mode's `tick()` does not make them fire late.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryBackend } from '../../lib/adapters/memory';
import { createApp as createCoreApp } from '../../lib/app';
import { createApp, currentTask, ErrorCodes } from '../../lib/index';
import { type LocalRuntime, startLocal } from '../../lib/local';
import type { ReceivedMessage } from '../../lib/ports';
import { createWorker } from '../../lib/worker';
import { harness, quietLogger, sqsEvent } from '../helpers/harness';
import { recordingLogger } from '../integration/targets';
import { workerTargets } from './worker-targets';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function receiveAll(h: ReturnType<typeof harness>, n: number): Promise<ReceivedMessage[]> {
  const msgs = await h.backend.broker.receive('default', { max: n, visibilityTimeoutSeconds: 30, waitMs: 0 });
  expect(msgs).toHaveLength(n);
  return msgs;
}

describe('the invocation deadline never turns into a permanent failure', () => {
  it('a batch of 10 tasks of 400 ms with 1.7 s left: the ones that did not fit are returned for redelivery, none is failed; all succeed next time', async () => {
    const h = harness({ worker: { concurrency: 1 } });
    let started = 0;
    const slow = h.app.task('slow', async (i: number) => {
      started++;
      await sleep(400);
      return i;
    });
    const rs = await Promise.all(Array.from({ length: 10 }, (_, i) => slow.delay(i)));
    const msgs = await receiveAll(h, 10);
    const res = await h.handler(sqsEvent('default', msgs), { getRemainingTimeInMillis: () => 1_700 });
    const states = await Promise.all(rs.map((r) => r.state()));
    expect(states.filter((s) => s === 'FAILURE')).toEqual([]);
    // The first fits (400 ms of the 700 before the 1 s margin); the second, started with 300 ms left, is
    // cut by the deadline; the rest never start.
    expect(states.filter((s) => s === 'SUCCESS')).toHaveLength(1);
    expect(res.batchItemFailures).toHaveLength(9);
    expect(started).toBe(2);

    for (const m of msgs) await h.backend.broker.changeVisibility('default', m.receiptHandle, 0);
    await h.drain();
    expect(await Promise.all(rs.map((r) => r.get()))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('once the deadline timer has cut a task, no other task of the batch starts, even where the app clock lags the timer', async () => {
    // An app clock at half speed: the deadline timer fires when the clock still reads before the
    // deadline, the widest form of a timer firing a few ms early. What starts after it is only cut.
    const t0 = Date.now();
    const clock = { now: () => t0 + (Date.now() - t0) / 2, sleep: (ms: number) => sleep(ms) };
    const backend = memoryBackend({ clock, pollIntervalMs: 1 });
    const app = createCoreApp({ name: 'lagging', backend, logger: quietLogger });
    const handler = createWorker(app, { concurrency: 1 });
    const ran: string[] = [];
    const hangs = app.task('hangs', () => {
      ran.push('hangs');
      return new Promise(() => {});
    });
    const after = app.task('after', () => {
      ran.push('after');
    });
    const rs = [await hangs.delay(), await after.delay()];
    const msgs = await backend.broker.receive('default', { max: 2, visibilityTimeoutSeconds: 30, waitMs: 0 });
    expect(msgs).toHaveLength(2);
    const res = await handler(sqsEvent('default', msgs), { getRemainingTimeInMillis: () => 1_150 });
    expect(ran).toEqual(['hangs']);
    expect(res.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(msgs.map((m) => m.messageId));
    expect(await Promise.all(rs.map((r) => r.state()))).toEqual(['PENDING', 'PENDING']);
  });

  it("a task that stops on its abort signal when the invocation's soft margin passes is returned for redelivery, not failed", async () => {
    const h = harness();
    const t = h.app.task('polite', () => {
      const { signal } = currentTask();
      return new Promise((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    });
    const r = await t.delay();
    const [m] = await receiveAll(h, 1);
    const res = await h.handler(sqsEvent('default', [m as ReceivedMessage]), { getRemainingTimeInMillis: () => 2_000 });
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: m?.messageId }]);
    expect(await r.state()).toBe('PENDING');
  });

  it("the task's own hard limit, shorter than the time left, still stores TIME_LIMIT_EXCEEDED", async () => {
    const h = harness();
    const t = h.app.task('hangs', () => new Promise(() => {}), { timeLimit: 0.1 });
    const r = await t.delay();
    const [m] = await receiveAll(h, 1);
    const res = await h.handler(sqsEvent('default', [m as ReceivedMessage]), { getRemainingTimeInMillis: () => 1_500 });
    expect(res.batchItemFailures).toEqual([]);
    await expect(r.get()).rejects.toMatchObject({ code: ErrorCodes.TIME_LIMIT_EXCEEDED });
  });
});

describe.each(workerTargets())('time limits run on the app clock ($name)', (target) => {
  let local: LocalRuntime | undefined;
  afterEach(async () => {
    await local?.stop();
    local = undefined;
  });

  it('after tick(60 s), a 0.3 s hard limit fires at about 0.3 s, not a minute late', async () => {
    const app = createApp({ name: 'limitsclock', logger: recordingLogger() });
    const t = app.task('sleepy', () => sleep(3_000).then(() => 'slept'), { timeLimit: 0.3 });
    local = await startLocal(app, target.options);
    await local.tick(60_000);
    const r = await t.delay();
    const sent = Date.now();
    await expect(r.get({ timeoutMs: 10_000 })).rejects.toMatchObject({ code: ErrorCodes.TIME_LIMIT_EXCEEDED });
    // Receive, run and store included; the body itself would take 3 s.
    expect(Date.now() - sent).toBeLessThan(2_500);
  });
});

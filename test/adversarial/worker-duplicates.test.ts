/**
 * One event per outcome under duplicate delivery, on every path an outcome can take: chord members
 * (a duplicate arriving while the first delivery's PutEvents is still in flight, and racing
 * copies), `ignoreResult` tasks delivered twice, and refused (malformed) messages delivered twice.
 * The bar: exactly once unless a worker dies between two writes (no test here kills one; see
 * test/reliability/crash-points for those).
 *
 * Runs on memory and on the emulators (dynalite + fauxqs), through the local runtime's handler.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { chord, createApp, group } from '../../lib/index';
import { type LocalRuntime, type SqsHandler, startLocal } from '../../lib/local';
import type { EventPublisher } from '../../lib/ports';
import { recordingLogger } from '../integration/targets';
import { bySize } from '../reliability/support';
import { workerTargets } from './worker-targets';

/** Every lifecycle event by `<detail-type> <id>`, counted. */
function countEvents(local: LocalRuntime): { counts: Map<string, number>; stop: () => void } {
  const counts = new Map<string, number>();
  const stop = local.subscribe((e) => {
    const key = `${e['detail-type']} ${String(e.detail.id)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  });
  return { counts, stop };
}

const merge = (...rs: (SQSBatchResponse | undefined)[]): SQSBatchResponse => ({
  batchItemFailures: rs.flatMap((r) => r?.batchItemFailures ?? []),
});

/**
 * Holds the first PutEvents of each delivery while a copy of the same batch is delivered: the
 * copy sees the first delivery's outcome stored, its event not yet published.
 */
class SlowPublish {
  #release: (() => void) | undefined;
  #started: (() => void) | undefined;
  /** Resolves when a held publish has started. */
  started = new Promise<void>((r) => {
    this.#started = r;
  });
  install(events: EventPublisher): void {
    const publish = events.publish.bind(events);
    events.publish = async (batch) => {
      if (this.#started && !this.#release) {
        const held = new Promise<void>((r) => {
          this.#release = r;
        });
        this.#started();
        await held;
      }
      return publish(batch);
    };
  }
  /** Lets the held publish go on, and arms the hold for the next delivery. */
  release(): void {
    const r = this.#release;
    this.#release = undefined;
    this.started = new Promise<void>((res) => {
      this.#started = res;
    });
    r?.();
  }
}

describe.each(workerTargets())('duplicates of every kind settle one event per outcome ($name)', (target) => {
  let local: LocalRuntime | undefined;
  afterEach(async () => {
    await local?.stop();
    local = undefined;
  });

  it('a chord member copy delivered while the first PutEvents is in flight publishes nothing; the chord completes once', async () => {
    const app = createApp({ name: 'dupslow', logger: recordingLogger() });
    const bodies: string[] = [];
    const add = app.task('add', (x: number, y: number) => {
      bodies.push(`add(${x},${y})`);
      return x + y;
    });
    const sum = app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
    const slow = new SlowPublish();
    const wrap = (handler: SqsHandler): SqsHandler => {
      return async (event: SQSEvent, context) => {
        const first = handler(event, context);
        // The copy starts once the first delivery is publishing an event (or has finished).
        const done = await Promise.race([slow.started.then(() => false), first.then(() => true)]);
        const second = done ? undefined : await handler(event, context);
        slow.release();
        return merge(await first, second);
      };
    };
    local = await startLocal(app, { ...target.options, wrapHandler: wrap });
    slow.install((await app.backend()).events);
    const { counts, stop } = countEvents(local);
    const members = Array.from({ length: 6 }, (_, i) => add.s(i, i));
    const r = await chord(group(...members), sum.s()).applyAsync();
    expect(await r.get({ timeoutMs: 20_000 })).toBe(30);
    await local.drain();
    stop();
    const twice = [...counts].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
    expect([...counts.keys()].filter((k) => k.startsWith('task-succeeded'))).toHaveLength(7); // 6 members + the body
  });

  it('racing copies of every chord member: each member and the body publish exactly one task-succeeded', async () => {
    const app = createApp({ name: 'dupracing', logger: recordingLogger() });
    const add = app.task('add', (x: number, y: number) => x + y);
    const sum = app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
    local = await startLocal(app, {
      ...target.options,
      wrapHandler: (handler) => async (event, context) => merge(...(await Promise.all([handler(event, context), handler(event, context)]))),
    });
    const { counts, stop } = countEvents(local);
    const n = bySize(30, 200); // CELERIAC_RELIABILITY=large: the chord of 200 the issue saw fail
    const r = await chord(group(...Array.from({ length: n }, (_, i) => add.s(i, 1))), sum.s()).applyAsync();
    expect(await r.get({ timeoutMs: 30_000 })).toBe((n * (n - 1)) / 2 + n);
    await local.drain();
    stop();
    expect([...counts].filter(([, c]) => c > 1)).toEqual([]);
    expect([...counts.keys()].filter((k) => k.startsWith('task-succeeded'))).toHaveLength(n + 1);
  });

  it('an ignoreResult task delivered twice in sequence runs its body once and publishes once; its result still reads PENDING', async () => {
    const app = createApp({ name: 'dupignored', logger: recordingLogger() });
    let runs = 0;
    const touch = app.task('touch', () => ++runs, { ignoreResult: true });
    local = await startLocal(app, {
      ...target.options,
      wrapHandler: (handler) => async (event, context) => merge(await handler(event, context), await handler(event, context)),
    });
    const { counts, stop } = countEvents(local);
    const r = await touch.delay();
    await local.drain();
    stop();
    expect(runs).toBe(1);
    expect(counts.get(`task-succeeded ${r.id}`)).toBe(1);
    expect(await app.asyncResult(r.id).state()).toBe('PENDING');
  });

  it('a malformed message delivered twice stores one FAILURE and publishes one task-failed', async () => {
    const app = createApp({ name: 'dupmalformed', logger: recordingLogger() });
    app.task('a', () => 1);
    app.task('b', () => 2);
    local = await startLocal(app, {
      ...target.options,
      wrapHandler: (handler) => async (event, context) => merge(await handler(event, context), await handler(event, context)),
    });
    const { counts, stop } = countEvents(local);
    const backend = await app.backend();
    await backend.broker.send([{ queue: 'default', body: '{"task":"a","args":"not-a-list"}', id: 'bad-1' }]);
    await local.drain();
    stop();
    const failed = [...counts].filter(([k]) => k.startsWith('task-failed'));
    expect(failed.map(([, n]) => n)).toEqual([1]);
    const id = (failed[0]?.[0] ?? '').slice('task-failed '.length);
    const rec = await backend.store.get(id);
    expect({ state: rec?.state, code: rec?.error?.code }).toEqual({ state: 'FAILURE', code: 'BAD_ENVELOPE' });
  });
});

/**
 * `ctx.replace` is exactly-once like every other continuation: a replaced task's duplicate never
 * publishes its replacement a second time, whether the copy comes after the first delivery
 * finished, races it, or finds the first delivery dead between its guard write and its publish.
 *
 * Runs on memory and on the emulators (dynalite + fauxqs), through the local runtime's handler;
 * the crash spec drives a worker over a memory backend with a manual clock.
 */
import type { SQSBatchResponse } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeClock, memoryBackend } from '../../lib/adapters/memory';
import { createApp as createCoreApp } from '../../lib/app';
import { chain, chord, createApp, currentTask } from '../../lib/index';
import { type LocalRuntime, startLocal } from '../../lib/local';
import { createWorker } from '../../lib/worker';
import { quietLogger, sqsEvent } from '../helpers/harness';
import { recordingLogger } from '../integration/targets';
import { workerTargets } from './worker-targets';

const merge = (...rs: (SQSBatchResponse | undefined)[]): SQSBatchResponse => ({
  batchItemFailures: rs.flatMap((r) => r?.batchItemFailures ?? []),
});

/** An app whose `swap` task replaces itself with `chain(add(x, 1), double)`, in a chord header. */
function replacingApp(name: string) {
  const app = createApp({ name, logger: recordingLogger() });
  const runs = new Map<string, number>();
  const ran = (task: string) => runs.set(task, (runs.get(task) ?? 0) + 1);
  const add = app.task('add', (x: number, y: number) => {
    ran('add');
    return x + y;
  });
  const double = app.task('double', (x: number) => {
    ran('double');
    return x * 2;
  });
  const collect = app.task('collect', (xs: number[]) => {
    ran('collect');
    return xs;
  });
  const swap = app.task('swap', (x: number): number => {
    ran('swap');
    throw currentTask().replace(chain(add.s(x, 1), double.s()));
  });
  return { app, runs, add, swap, collect };
}

describe.each(workerTargets())('a replaced task delivered more than once publishes its replacement once ($name)', (target) => {
  let local: LocalRuntime | undefined;
  afterEach(async () => {
    await local?.stop();
    local = undefined;
  });

  async function run(name: string, wrap: 'sequential' | 'racing') {
    const t = replacingApp(name);
    local = await startLocal(t.app, {
      ...target.options,
      wrapHandler: (handler) =>
        wrap === 'sequential'
          ? async (event, context) => merge(await handler(event, context), await handler(event, context))
          : async (event, context) => merge(...(await Promise.all([handler(event, context), handler(event, context)]))),
    });
    const events = new Map<string, number>();
    const stop = local.subscribe((e) => {
      const key = `${e['detail-type']} ${String(e.detail.id)}`;
      events.set(key, (events.get(key) ?? 0) + 1);
    });
    const r = await chord([t.add.s(1, 1), t.swap.s(5), t.swap.s(10)], t.collect.s()).applyAsync();
    expect(await r.get({ timeoutMs: 20_000 })).toEqual([2, 12, 22]);
    await local.drain();
    stop();
    return { ...t, events };
  }

  it('copies in sequence: the replaced body runs once, each replacement task once, one event per id', async () => {
    const { runs, events } = await run('repseq', 'sequential');
    expect(Object.fromEntries(runs)).toEqual({ add: 3, swap: 2, double: 2, collect: 1 });
    expect([...events].filter(([, n]) => n > 1)).toEqual([]);
    // 1 + 2 × (add, double) + the body; the replaced tasks announce nothing of their own.
    expect([...events.keys()].filter((k) => k.startsWith('task-succeeded'))).toHaveLength(6);
  });

  it('racing copies: one of them publishes the replacement; every id succeeds once and the chord fires once', async () => {
    const { events } = await run('reprace', 'racing');
    expect([...events].filter(([, n]) => n > 1)).toEqual([]);
    expect([...events.keys()].filter((k) => k.startsWith('task-succeeded'))).toHaveLength(6);
  });
});

describe('a replaced task whose worker died after its guard write (memory)', () => {
  it('is finished by the redelivery once the lease ran out: the replacement is published once, the body not run again', async () => {
    const clock = fakeClock();
    const backend = memoryBackend({ clock });
    const app = createCoreApp({ name: 'repcrash', backend, logger: quietLogger });
    const runs: string[] = [];
    const add = app.task('add', (x: number, y: number) => {
      runs.push('add');
      return x + y;
    });
    const double = app.task('double', (x: number) => {
      runs.push('double');
      return x * 2;
    });
    const swap = app.task('swap', (x: number): number => {
      runs.push('swap');
      throw currentTask().replace(chain(add.s(x, 1), double.s()));
    });
    let crashed = false;
    const worker = createWorker(app, {
      faults: {
        afterStore(env) {
          if (env.task === 'swap' && !crashed) {
            crashed = true;
            throw new Error('injected crash after the guard write');
          }
        },
      },
    });
    const r = await chain(swap.s(3), double.s()).applyAsync();
    let retried = 0;
    for (let round = 0; round < 50; round++) {
      const msgs = await backend.broker.receive('default', { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
      if (msgs.length === 0) {
        if (retried === 0) break;
        retried = 0;
        await clock.advance(120_000); // past the dead delivery's lease and the visibility timeout
        continue;
      }
      const res = await worker(sqsEvent('default', msgs));
      const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
      retried += failed.size;
      const ok = msgs.filter((m) => !failed.has(m.messageId)).map((m) => m.receiptHandle);
      if (ok.length > 0) await backend.broker.delete('default', ok);
    }
    expect(crashed).toBe(true);
    const rec = await backend.store.get(r.id);
    expect({ state: rec?.state, result: rec?.result }).toEqual({ state: 'SUCCESS', result: 16 });
    expect(runs).toEqual(['swap', 'add', 'double', 'double']);
    const replaced = await backend.store.get(r.parent?.id as string);
    expect({ state: replaced?.state, result: replaced?.result }).toEqual({ state: 'SUCCESS', result: 8 });
  });
});

/**
 * Large payloads (README, "Large payloads"): every reader of a call's arguments sees the values,
 * never the references they travel as — an errback that takes the failed call's request, the
 * `taskReceived`, `taskPrerun`, `taskFailure` and `taskPostrun` signals, and the task's hooks — on
 * every target — `localstack` mode included, on DynamoDB Local and fauxqs's S3. A reference that cannot be read is shown to `taskReceived` as it was sent, and
 * the call is still its one stored FAILURE.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCanvasJson } from '../../lib/canvas/json';
import { CeleriacError, chord, createApp, currentTask, group } from '../../lib/index';
import { type LocalRuntime, startLocal } from '../../lib/local';
import type { PayloadStore } from '../../lib/ports';
import { contentTag, idSegment } from '../../lib/protocol/payload';
import { workerTargets } from '../adversarial/worker-targets';
import { recordingLogger } from './targets';

/** Over the default 64 KiB threshold: travels by reference. */
const LARGE = 100_000;
const text = (n: number, c = 'a'): string => c.repeat(n);

/** How a reader saw an argument: a value's length, or that it was a reference. */
function shape(x: unknown): string | number {
  if (typeof x === 'string') return x.length;
  if (typeof x === 'object' && x !== null && '$payload' in x) return 'reference';
  return JSON.stringify(x);
}

describe.each(workerTargets())('readers of large arguments on $name', (target) => {
  const logger = recordingLogger();
  const app = createApp({ name: `readers-${target.name}`, logger });
  /** What each reader saw, by reader; cleared per spec. */
  const saw: Record<string, (string | number)[]> = {};
  const note = (reader: string, ...xs: unknown[]): void => {
    saw[reader] = [...(saw[reader] ?? []), ...xs.map(shape)];
  };
  app.task(
    'fail',
    (s: string, opts: { blob: string }) => {
      note('body', s, opts.blob);
      throw new Error(`refused ${s.length} characters`);
    },
    {
      onFailure(_exc, ctx) {
        note('onFailure', ctx.args[0], ctx.kwargs?.blob);
      },
    },
  );
  // Two parameters or more: a new-style errback, called inline with the failed call's request.
  const report = app.task('report', (request: { readonly args: readonly unknown[] }, _exc: Error) => {
    note('errback', ...request.args);
  });
  const member = app.task('member', (n: number) => {
    if (n < 0) throw new Error('a member failed');
    return text(n, 'm');
  });
  const gather = app.task('gather', (xs: string[], label: string) => `${label.length}:${xs.length}`);
  app.task('echo', (x: unknown) => shape(x));
  /** A chord body that cannot hold every member at once: it reads them one by one. */
  const tally = app.task(
    'tally',
    async (xs: unknown) => {
      const ctx = currentTask();
      saw['tally:list'] = [...(saw['tally:list'] ?? []), Array.isArray(xs) ? `${xs.length} inline` : shape(xs)];
      const members = await ctx.readPayload<unknown[]>(xs);
      let total = 0;
      for (const m of members) {
        note('tally:member', m);
        total += (await ctx.readPayload<string>(m)).length;
      }
      return total;
    },
    { lazyPayloads: true },
  );
  let local: LocalRuntime;
  let store: PayloadStore;

  beforeAll(async () => {
    app.signals.taskReceived.connect((e) =>
      note(`received:${e.sender}`, ...e.request.args, ...(e.request.kwargs === undefined ? [] : [e.request.kwargs.blob])),
    );
    app.signals.taskPrerun.connect((e) => note(`prerun:${e.sender}`, e.kwargs?.blob));
    app.signals.taskFailure.connect((e) => note(`failure:${e.sender}`, e.args[0], e.kwargs?.blob));
    app.signals.taskPostrun.connect((e) => note(`postrun:${e.sender}`, e.kwargs?.blob));
    local = await startLocal(app, target.options);
    store = (await app.backend()).payloads as PayloadStore;
    expect(store.prefix).toBe(app.name);
  });
  afterAll(async () => {
    await local?.stop();
  });

  const clear = (): void => {
    for (const k of Object.keys(saw)) delete saw[k];
  };

  it('an inline errback gets the failed call’s large argument as the value, as do the signals and hooks', async () => {
    clear();
    const big = text(LARGE, 'x');
    // kwargs come from a JSON canvas, as a producer without the code sends them.
    const applied = await applyCanvasJson(app, {
      task: 'fail',
      args: [big],
      kwargs: { blob: text(LARGE, 'k') },
      linkError: [{ task: 'report' }],
    });
    const r = app.asyncResult(applied.id);
    await expect(r.get({ timeoutMs: 30_000 })).rejects.toThrow(`refused ${LARGE} characters`);
    await local.drain();
    // Both travelled by reference, stored under the call's id (reading with a wrong digest finds it).
    for (const part of [
      `args-0-0-${contentTag(JSON.stringify(big))}`,
      `kwargs-0-${contentTag(JSON.stringify({ blob: text(LARGE, 'k') }))}`,
    ])
      await expect(store.get({ key: `${app.name}/${r.id}/${part}`, bytes: -1, sha256: '' })).rejects.toMatchObject({
        code: 'PAYLOAD_CORRUPT',
      });
    expect(saw.body).toEqual([LARGE, LARGE]);
    expect(saw.errback).toEqual([LARGE]);
    expect(saw['received:fail']).toEqual([LARGE, LARGE]);
    expect(saw['prerun:fail']).toEqual([LARGE]);
    expect(saw.onFailure).toEqual([LARGE, LARGE]);
    expect(saw['failure:fail']).toEqual([LARGE, LARGE]);
    expect(saw['postrun:fail']).toEqual([LARGE]);
    expect(logger.errors).toEqual([]);
  });

  it('an errback of a chord body whose member failed gets the body’s large argument as the value', async () => {
    clear();
    const r = await chord(group(member.s(10), member.s(-1)), gather.s(text(LARGE, 'g')).linkError(report.s())).applyAsync();
    await expect(r.get({ timeoutMs: 30_000 })).rejects.toThrow();
    await local.drain();
    expect(saw.errback).toEqual([LARGE]);
  });

  it('a reference that cannot be read reaches taskReceived and the errback as sent, and the call is one stored FAILURE', async () => {
    clear();
    const forged = { $payload: { key: `${app.name}/never/written`, bytes: 5, sha256: 'x' } };
    const r = await app.sendTask('echo', [forged], { linkError: report.s() });
    await expect(r.get({ timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'PAYLOAD_NOT_FOUND' });
    expect((await r.record())?.state).toBe('FAILURE');
    expect(saw['received:echo']).toEqual(['reference']);
    expect(saw['prerun:echo']).toBeUndefined(); // the body never ran
    // The errback hears of the failure all the same, with the argument as it was sent.
    await local.drain();
    expect(saw.errback).toEqual(['reference']);
  });

  it('a lazyPayloads chord body gets its large member results as references and reads them one at a time', async () => {
    clear();
    const r = await chord(group(...Array.from({ length: 12 }, () => member.s(LARGE))), tally.s()).applyAsync();
    expect(await r.get({ timeoutMs: 60_000 })).toBe(12 * LARGE);
    // The list of 12 references is small: it came inline; each member came as its reference.
    expect(saw['tally:list']).toEqual(['12 inline']);
    expect(saw['tally:member']).toEqual(Array.from({ length: 12 }, () => 'reference'));
  });

  it('a lazyPayloads chord body whose small members are large together gets the list by one reference', async () => {
    clear();
    const r = await chord(group(...Array.from({ length: 12 }, () => member.s(8_000))), tally.s()).applyAsync();
    expect(await r.get({ timeoutMs: 60_000 })).toBe(12 * 8_000);
    expect(saw['tally:list']).toEqual(['reference']);
    expect(saw['tally:member']).toEqual(Array.from({ length: 12 }, () => 8_000));
  });
});

describe('lazyPayloads', () => {
  it('cannot be combined with a schema, which checks values', () => {
    const app = createApp({ name: 'lazy-schema' });
    const schema = { '~standard': { version: 1, vendor: 'test', validate: (v: unknown) => ({ value: v as [string] }) } } as const;
    expect(() => app.task('t', (x: string) => x, { lazyPayloads: true, schema })).toThrow(
      expect.objectContaining({ code: 'INVALID_OPTIONS', message: expect.stringContaining('lazyPayloads and schema') }),
    );
  });

  it('a read that fails in the body is the body’s error: a gone object fails the task, an unreachable store is retried by `retry.on`', async () => {
    const app = createApp({ name: 'lazy-reads', logger: recordingLogger() });
    let reads = 0;
    const length = async (x: unknown) => (await currentTask().readPayload<string>(x)).length;
    const t = app.task('reads', length, { lazyPayloads: true, retry: { on: ['BACKEND_UNAVAILABLE'], delay: 0, jitter: false } });
    const local = await startLocal(app, { mode: 'memory' });
    try {
      const store = (await app.backend()).payloads as PayloadStore;
      const get = store.get.bind(store);
      // The first read finds the store unreachable (a retryable backend error), the next reads it.
      (store as { get: PayloadStore['get'] }).get = async (ref) => {
        if (reads++ === 0) throw new CeleriacError('BACKEND_UNAVAILABLE', 'S3 did not answer', { retryable: true });
        return get(ref);
      };
      const ok = await t.delay(text(LARGE));
      expect(await ok.get({ timeoutMs: 30_000 })).toBe(LARGE);
      expect((await ok.info())?.retries).toBe(1);

      // An object gone before the body reads it: its read refuses, and the body's error is the task's FAILURE.
      const gone = await t.delay(text(LARGE, 'g'));
      await store.deleteUnder(idSegment(gone.id));
      await expect(gone.get({ timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'PAYLOAD_NOT_FOUND' });
    } finally {
      await local.stop();
    }
  });

  it('readPayload gives any other value as it is, in a worker or called directly', async () => {
    const app = createApp({ name: 'lazy-direct' });
    const t = app.task('t', (x: number) => currentTask().readPayload<number>(x), { lazyPayloads: true });
    expect(await t.run(7)).toBe(7);
  });
});

describe('the read budget: what a call may load before its body runs', () => {
  // A function of 1 MiB (as Lambda's AWS_LAMBDA_FUNCTION_MEMORY_SIZE says): a budget of 256 KiB.
  const app = createApp({ name: 'budget', logger: recordingLogger() });
  const member = app.task('member', (n: number) => text(n, 'm'));
  const lengths = app.task('lengths', (xs: string[]) => xs.map((x) => x.length));
  const lazyTotal = app.task(
    'lazy-total',
    async (xs: unknown[]) => {
      let total = 0;
      for (const x of xs) total += (await currentTask().readPayload<string>(x)).length;
      return total;
    },
    { lazyPayloads: true },
  );
  const echo = app.task('echo-length', (s: string) => s.length);
  let local: LocalRuntime;
  beforeAll(async () => {
    const before = process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE;
    process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE = '1';
    try {
      local = await startLocal(app, { mode: 'memory' });
    } finally {
      if (before === undefined) delete process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE;
      else process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE = before;
    }
  });
  afterAll(async () => {
    await local?.stop();
  });

  it('a chord body whose large members total more than a quarter of the function’s memory is a stored FAILURE, read nothing of', async () => {
    const store = (await app.backend()).payloads as PayloadStore;
    let reads = 0;
    const get = store.get.bind(store);
    (store as { get: PayloadStore['get'] }).get = (ref) => {
      reads++;
      return get(ref);
    };
    const r = await chord(group(...Array.from({ length: 3 }, () => member.s(100_000))), lengths.s()).applyAsync();
    await expect(r.get({ timeoutMs: 30_000 })).rejects.toMatchObject({
      code: 'PAYLOAD_OVER_BUDGET',
      message: expect.stringContaining('total 300006 bytes, more than the 262144'),
    });
    expect((await r.record())?.state).toBe('FAILURE');
    expect(reads).toBe(0);
  });

  it('within the budget the same body runs; over it a lazyPayloads body reads its members one at a time', async () => {
    const within = await chord(group(member.s(100_000), member.s(100_000)), lengths.s()).applyAsync();
    expect(await within.get({ timeoutMs: 30_000 })).toEqual([100_000, 100_000]);
    const lazy = await chord(group(...Array.from({ length: 3 }, () => member.s(100_000))), lazyTotal.s()).applyAsync();
    expect(await lazy.get({ timeoutMs: 30_000 })).toBe(300_000);
  });

  it('an argument over the budget fails its own call only: the batch neighbour runs', async () => {
    const over = await echo.delay(text(300_000));
    const fine = await echo.delay(text(100_000));
    await expect(over.get({ timeoutMs: 30_000 })).rejects.toMatchObject({ code: 'PAYLOAD_OVER_BUDGET' });
    expect(await fine.get({ timeoutMs: 30_000 })).toBe(100_000);
  });
});

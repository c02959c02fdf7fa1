/**
 * Large payloads (README, "Large payloads"), on every target: a value over the app's threshold is
 * stored once in the payload store and travels as a reference; every reader (get(), the next chain
 * step, a chord body, a callback, a subscriber) sees the value. A reference that is missing or not
 * the app's is a stored FAILURE with a specific code; forget() deletes what the task stored and
 * nothing another task did; a publish that fails leaves nothing behind; below the threshold
 * nothing is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyCanvasJson } from '../../lib/canvas/json';
import { CeleriacError, chain, chord, createApp, group, onTaskEvents, resolveEventPayloads, type TaskEvent } from '../../lib/index';
import { type LocalRuntime, startLocal } from '../../lib/local';
import type { Backend, PayloadRef, PayloadStore, ResultRecord } from '../../lib/ports';
import type { Json } from '../../lib/protocol/json';
import { contentTag, idSegment } from '../../lib/protocol/payload';
import { recordingLogger, targets } from './targets';

const MiB = 1024 * 1024;
/** A string of `n` characters: `n` bytes of UTF-8, `n + 2` as JSON. */
const text = (n: number, c = 'a'): string => c.repeat(n);

/** The reference a stored value travels as, or undefined when it is inline. */
function refOf(value: unknown): PayloadRef | undefined {
  return typeof value === 'object' && value !== null && '$payload' in value ? (value as { $payload: PayloadRef }).$payload : undefined;
}

/** Whether the store holds `key` (a read of a reference with a wrong digest says CORRUPT when the object exists). */
async function holds(store: PayloadStore, key: string): Promise<boolean> {
  try {
    await store.get({ key, bytes: -1, sha256: '' });
    return true;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'PAYLOAD_NOT_FOUND') return false;
    if (code === 'PAYLOAD_CORRUPT') return true;
    throw e;
  }
}

/**
 * Counts the calls made on `store` (the very instance producer and workers share) until the
 * returned `restore()`; below the threshold there must be none.
 */
function counting(store: PayloadStore): { calls: { put: number; get: number; delete: number }; restore(): void } {
  const calls = { put: 0, get: 0, delete: 0 };
  const s = store as { -readonly [K in 'put' | 'get' | 'delete']: PayloadStore[K] };
  const original = { put: s.put, get: s.get, delete: s.delete };
  s.put = (p, t) => {
    calls.put++;
    return original.put.call(store, p, t);
  };
  s.get = (r) => {
    calls.get++;
    return original.get.call(store, r);
  };
  s.delete = (k) => {
    calls.delete++;
    return original.delete.call(store, k);
  };
  return { calls, restore: () => Object.assign(s, original) };
}

describe.each(targets())('large payloads on $name', (target) => {
  const logger = recordingLogger();
  const app = createApp({ name: `payloads-${target.name}`, logger });
  /** What each body saw of its first argument: its type and length, never a reference. */
  const seen: { task: string; type: string; length: number }[] = [];
  const look = (task: string, x: unknown): void => {
    seen.push({ task, type: refOf(x) ? 'reference' : typeof x, length: typeof x === 'string' ? x.length : -1 });
  };
  /** Returns its input with the first character swapped: as large as it came. */
  const step = app.task('step', (s: string) => {
    look('step', s);
    return `b${s.slice(1)}`;
  });
  const big = app.task('big', (n: number, c: string) => text(n, c));
  const lengths = app.task('lengths', (xs: string[]) => {
    for (const x of xs) look('lengths', x);
    return xs.map((x) => x.length);
  });
  const echo = app.task('echo', (x: unknown) => {
    look('echo', x);
    return typeof x === 'string' ? x.length : x;
  });
  const boom = app.task('boom', (n: number) => {
    throw new CeleriacError('TASK_ERROR', 'too much', { details: { blob: text(n) } });
  });
  /** Returns what it was given, references as references (it never reads them). */
  const pass = app.task('pass', (x: unknown) => x, { lazyPayloads: true });
  const kw = app.task('kw', (k: { blob: string; n: number }) => k.blob.length + k.n);
  const events: TaskEvent[] = [];
  app.subscribe('watch', { tasks: ['big'] });
  let local: LocalRuntime;
  let backend: Backend;
  let store: PayloadStore;

  beforeAll(async () => {
    local = await startLocal(app, {
      ...target.options,
      subscribers: { watch: onTaskEvents((e) => void events.push(e), { app }) },
    });
    backend = await app.backend();
    store = backend.payloads as PayloadStore;
    expect(store.prefix).toBe(app.name);
  });
  afterAll(async () => {
    await local?.stop();
  });

  it('a 5 MiB argument through a chain of 3 steps gives a 5 MiB result; each step sees the value, the records hold references', async () => {
    seen.length = 0;
    const input = text(5 * MiB);
    const r = await chain(step.s(input), step.s(), step.s()).applyAsync();
    const out = await r.get({ timeoutMs: 60_000 });
    expect(out).toHaveLength(5 * MiB);
    expect(out).toBe(`b${input.slice(1)}`);
    expect(seen).toEqual(Array.from({ length: 3 }, () => ({ task: 'step', type: 'string', length: 5 * MiB })));
    // Every step's record holds a reference under the app's prefix, not the 5 MiB.
    const ids = [r.parent?.parent?.id, r.parent?.id, r.id] as string[];
    const records = await Promise.all(ids.map((id) => app.asyncResult(id).record()));
    for (const rec of records as ResultRecord[]) {
      const ref = refOf(rec.result);
      expect(ref?.key.startsWith(`${app.name}/${rec.id}/result-`)).toBe(true);
      expect(ref?.bytes).toBe(5 * MiB + 2);
    }
  });

  it('a chord body gathers large member results (and a small one inline) as values', async () => {
    seen.length = 0;
    const sizes = [300_000, 10, 200_000, 70_000];
    const r = await chord(group(...sizes.map((n, i) => big.s(n, String.fromCharCode(97 + i)))), lengths.s()).applyAsync();
    expect(await r.get({ timeoutMs: 60_000 })).toEqual(sizes);
    expect(seen.map((s) => s.type)).toEqual(['string', 'string', 'string', 'string']);
    expect(seen.map((s) => s.length)).toEqual(sizes);
  });

  it('many small member results that are large together reach the chord body by one reference', async () => {
    seen.length = 0;
    const r = await chord(
      group(...Array.from({ length: 12 }, (_, i) => big.s(8_000, String.fromCharCode(97 + i)))),
      lengths.s(),
    ).applyAsync();
    expect(await r.get({ timeoutMs: 60_000 })).toEqual(Array.from({ length: 12 }, () => 8_000));
    expect(seen.every((x) => x.type === 'string' && x.length === 8_000)).toBe(true);
    // The body's message carried its 96 KB argument by reference, stored under the body's id.
    const list = JSON.stringify(Array.from({ length: 12 }, (_, i) => text(8_000, String.fromCharCode(97 + i))));
    expect(await holds(store, `${app.name}/${r.id}/args-0-0-${contentTag(list)}`)).toBe(true);
  });

  it("an error's large details are stored by reference and come back with the error", async () => {
    const r = await boom.delay(100_000);
    const err = await r.get({ timeoutMs: 30_000 }).catch((e: unknown) => e as CeleriacError);
    expect(err).toMatchObject({ code: 'TASK_ERROR', message: 'too much' });
    expect((err as CeleriacError).details?.blob).toHaveLength(100_000);
    const rec = (await r.record()) as ResultRecord;
    expect(refOf(rec.error?.details)?.key).toMatch(new RegExp(`^${app.name}/${r.id}/error-`));
  });

  it('a callback gets the large result it follows; kwargs over the threshold travel by reference too', async () => {
    seen.length = 0;
    const r = await big.applyAsync([100_000, 'z'], { link: echo.s() });
    await r.get({ timeoutMs: 30_000 });
    await local.drain();
    expect(seen).toContainEqual({ task: 'echo', type: 'string', length: 100_000 });
    // kwargs come from a signature (a JSON canvas here, as a producer without the code sends it).
    const applied = await applyCanvasJson(app, { task: 'kw', kwargs: { blob: text(80_000), n: 1 } });
    expect(await app.asyncResult<number>(applied.id).get({ timeoutMs: 30_000 })).toBe(80_001);
    void kw;
  });

  it('a subscriber sees a large result as the value; resolveEventPayloads turns a raw detail into the same', async () => {
    events.length = 0;
    const r = await big.delay(90_000, 'q');
    await r.get({ timeoutMs: 30_000 });
    await local.drain();
    const e = events.find((x) => x.id === r.id && x.state === 'SUCCESS');
    expect(e?.result).toBe(text(90_000, 'q'));
    const rec = (await r.record()) as ResultRecord;
    const raw = {
      v: 1,
      app: app.name,
      task: 'big',
      id: r.id,
      rootId: r.id,
      parentId: null,
      attempt: 0,
      timestamp: '',
      state: 'SUCCESS',
      durationMs: 0,
      result: rec.result,
    } as const;
    expect(refOf(raw.result)).toBeDefined();
    expect((await resolveEventPayloads(raw, store)).result).toBe(text(90_000, 'q'));
  });

  it.each([
    { what: 'another app', forged: { key: 'some-other-app/x/result-1', bytes: 5, sha256: 'x' }, code: 'PAYLOAD_FOREIGN' },
    { what: 'a missing payload', forged: { key: 'PREFIX/never/written', bytes: 5, sha256: 'x' }, code: 'PAYLOAD_NOT_FOUND' },
    { what: 'a malformed reference', forged: { key: 'PREFIX/x', bytes: 'many' }, code: 'PAYLOAD_FOREIGN' },
    { what: 'a path that climbs out', forged: { key: 'PREFIX/../other/x', bytes: 5, sha256: 'x' }, code: 'PAYLOAD_FOREIGN' },
  ])('a forged reference to $what is a stored FAILURE ($code), and its batch neighbour runs', async ({ forged, code }) => {
    const ref = { ...forged, key: forged.key.replace('PREFIX', app.name) };
    const bad = await app.sendTask('echo', [{ $payload: ref }]);
    const good = await echo.delay('fine');
    await expect(bad.get({ timeoutMs: 30_000 })).rejects.toMatchObject({ code });
    expect((await bad.record())?.state).toBe('FAILURE');
    expect(await good.get({ timeoutMs: 30_000 })).toBe(4);
  });

  it('forget() deletes everything the task stored (its large argument, its result, an attempt’s leftover) with the record', async () => {
    const input = text(70_000);
    const r = await step.delay(input);
    expect(await r.get({ timeoutMs: 30_000 })).toHaveLength(70_000);
    const folder = `${app.name}/${idSegment(r.id)}`;
    const result = refOf((await r.record())?.result) as PayloadRef;
    expect(result.key.startsWith(`${folder}/result-`)).toBe(true);
    // What a worker that crashed between storing a payload and its record leaves: named by no record.
    const leftover = await store.put(`${idSegment(r.id)}/result-crashed-attempt`, '"orphan"');
    const arg = `${folder}/args-0-0-${contentTag(JSON.stringify(input))}`;
    for (const key of [arg, result.key, leftover.key]) expect(await holds(store, key)).toBe(true);
    await r.forget();
    for (const key of [arg, result.key, leftover.key]) expect(await holds(store, key)).toBe(false);
    expect(await r.state()).toBe('PENDING');
  });

  it('forget() of a task that passed another task’s large result through leaves that result to its owner', async () => {
    const owner = await big.delay(70_000, 'o');
    await owner.get({ timeoutMs: 30_000 });
    const ownersRef = (await owner.record())?.result as Json;
    const through = await pass.delay(ownersRef);
    expect(await through.get({ timeoutMs: 30_000 })).toHaveLength(70_000);
    // Its record points at the owner's object: the value is not stored twice.
    expect(refOf((await through.record())?.result)).toEqual(refOf(ownersRef));
    await through.forget();
    expect(await through.state()).toBe('PENDING');
    expect(await owner.get({ timeoutMs: 30_000 })).toBe(text(70_000, 'o'));
  });

  it('a publish that fails deletes the argument payloads it stored', async () => {
    const id = `failing-${target.name}`;
    const failing: Backend = {
      ...backend,
      ids: { uuid: () => id },
      broker: {
        send: async () => {
          throw Object.assign(new Error('queue down'), { code: 'PUBLISH_FAILED' });
        },
      },
    };
    app.use(failing);
    try {
      await expect(echo.delay(text(200_000))).rejects.toThrow('queue down');
    } finally {
      app.use(backend);
    }
    expect(await holds(store, `${app.name}/${id}/args-0-0-${contentTag(JSON.stringify(text(200_000)))}`)).toBe(false);
  });

  it('below the threshold the payload store is never called', async () => {
    const spy = counting(store);
    try {
      const r = await chain(step.s(text(60_000)), step.s()).applyAsync();
      expect(await r.get({ timeoutMs: 30_000 })).toHaveLength(60_000);
      expect(await (await big.delay(1000, 'x')).get({ timeoutMs: 30_000 })).toHaveLength(1000);
    } finally {
      spy.restore();
    }
    expect(spy.calls).toEqual({ put: 0, get: 0, delete: 0 });
    expect(logger.errors).toEqual([]);
  });
});

describe('large payloads without a payload store', () => {
  it('an oversized argument is refused with MESSAGE_TOO_LARGE, saying to configure a payload bucket', async () => {
    const { memoryBackend } = await import('../../lib/adapters/memory');
    const app = createApp({ name: 'no-bucket', backend: memoryBackend() });
    const t = app.task('t', (s: string) => s.length);
    await expect(t.delay(text(2 * MiB))).rejects.toMatchObject({
      code: 'MESSAGE_TOO_LARGE',
      message: expect.stringContaining('CELERIAC_PAYLOAD_BUCKET'),
    });
  });

  it('a payload threshold that guards nothing is refused', () => {
    expect(() => createApp({ name: 'bad-threshold', payloads: { threshold: 2 * MiB } })).toThrow(/payloads.threshold/);
  });
});

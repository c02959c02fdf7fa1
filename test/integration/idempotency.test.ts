/**
 * Call once (README, "Call once: idempotency keys"), on every target: racing producers with one
 * key publish once and share one handle, for plain tasks, sendTask, chains, groups and chords; a
 * key expires on the app clock; a plain JSON message on the queue carries a key too, and a second
 * message with it is stored REVOKED as a duplicate of the first, never run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain, chord, createApp, group, States, TaskRevokedError } from '../../lib/index';
import { type LocalRuntime, startLocal } from '../../lib/local';
import { recordingLogger, targets } from './targets';

describe.each(targets())('idempotency keys on $name', (target) => {
  const logger = recordingLogger();
  const app = createApp({ name: `idem-${target.name}`, logger });
  /** Every run of a task body. */
  const bodies: string[] = [];
  const add = app.task('add', (x: number, y: number) => {
    bodies.push(`add(${x},${y})`);
    return x + y;
  });
  const mul = app.task('mul', (x: number, y: number) => {
    bodies.push(`mul(${x},${y})`);
    return x * y;
  });
  const sum = app.task('sum', (xs: number[]) => {
    bodies.push(`sum(${xs.join(',')})`);
    return xs.reduce((a, b) => a + b, 0);
  });
  /** Ids of every message published (by producers and workers alike). */
  const published: string[] = [];
  app.signals.afterTaskPublish.connect((e) => {
    published.push(e.body.id);
  });
  let local: LocalRuntime;
  let n = 0;
  /** A key no other test uses. */
  const freshKey = (): string => `order-${target.name}-${++n}`;
  const runsOf = (body: string): number => bodies.filter((b) => b === body).length;
  const timesPublished = (id: string): number => published.filter((p) => p === id).length;

  beforeAll(async () => {
    local = await startLocal(app, target.options);
  });
  afterAll(async () => {
    await local?.stop();
  });

  it('20 concurrent applyAsync calls with one key publish once, and every caller gets the same handle', async () => {
    const key = freshKey();
    const before = published.length;
    const handles = await Promise.all(Array.from({ length: 20 }, () => add.applyAsync([100, 1], { idempotencyKey: key })));
    expect(new Set(handles.map((h) => h.id)).size).toBe(1);
    expect(published.length - before).toBe(1);
    expect(await handles[7]?.get({ timeoutMs: 10_000 })).toBe(101);
    await local.drain();
    expect(runsOf('add(100,1)')).toBe(1);
  });

  it('a key is scoped per task name: sendTask by name meets applyAsync, another task with the same key does not', async () => {
    const key = freshKey();
    const first = await add.applyAsync([200, 2], { idempotencyKey: key });
    const byName = await app.sendTask<number>('add', [200, 2], { idempotencyKey: key });
    const other = await mul.applyAsync([200, 2], { idempotencyKey: key });
    expect(byName.id).toBe(first.id);
    expect(other.id).not.toBe(first.id);
    expect(await byName.get({ timeoutMs: 10_000 })).toBe(202);
    expect(await other.get({ timeoutMs: 10_000 })).toBe(400);
    expect(timesPublished(first.id)).toBe(1);
  });

  it('calls without a key are never deduplicated', async () => {
    const [a, b] = await Promise.all([add.applyAsync([300, 3]), add.applyAsync([300, 3])]);
    expect(a.id).not.toBe(b.id);
    await Promise.all([a.get({ timeoutMs: 10_000 }), b.get({ timeoutMs: 10_000 })]);
    expect(runsOf('add(300,3)')).toBe(2);
  });

  it('a chain applied 5 times at once with one key runs once, and every handle names the same steps', async () => {
    const key = freshKey();
    const handles = await Promise.all(
      Array.from({ length: 5 }, () => chain(add.s(400, 4), add.s(1), mul.s(2)).applyAsync([], { idempotencyKey: key })),
    );
    const ids = handles.map((h) => [h.id, h.parent?.id, h.parent?.parent?.id]);
    for (const x of ids) expect(x).toEqual(ids[0]);
    expect(await handles[3]?.get({ timeoutMs: 10_000 })).toBe(810);
    await local.drain();
    expect([runsOf('add(400,4)'), runsOf('add(404,1)'), runsOf('mul(405,2)')]).toEqual([1, 1, 1]);
    for (const id of ids[0] ?? []) expect(timesPublished(id as string)).toBe(1);
  });

  it('a group applied 5 times at once with one key runs each member once, and every handle has the same members', async () => {
    const key = freshKey();
    const handles = await Promise.all(
      Array.from({ length: 5 }, () => group(add.s(500, 1), add.s(500, 2), add.s(500, 3)).applyAsync([], { idempotencyKey: key })),
    );
    const members = handles.map((h) => [h.id, ...h.results.map((r) => r.id)]);
    for (const m of members) expect(m).toEqual(members[0]);
    expect(await handles[1]?.get({ timeoutMs: 10_000 })).toEqual([501, 502, 503]);
    await local.drain();
    expect([runsOf('add(500,1)'), runsOf('add(500,2)'), runsOf('add(500,3)')]).toEqual([1, 1, 1]);
  });

  it('a chord applied 5 times at once with one key fires its body once, and every caller gets the body', async () => {
    const key = freshKey();
    const handles = await Promise.all(
      Array.from({ length: 5 }, () => chord([add.s(600, 1), add.s(600, 2)], sum.s()).applyAsync([], { idempotencyKey: key })),
    );
    expect(new Set(handles.map((h) => h.id)).size).toBe(1);
    expect(await handles[4]?.get({ timeoutMs: 10_000 })).toBe(1203);
    await local.drain();
    expect([runsOf('add(600,1)'), runsOf('add(600,2)'), runsOf('sum(601,602)')]).toEqual([1, 1, 1]);
  });

  it('keys are scoped per canvas kind: a chain and a group with the same key are two calls', async () => {
    const key = freshKey();
    const c = await chain(add.s(700, 1), add.s(1)).applyAsync([], { idempotencyKey: key });
    const g = await group(add.s(700, 1), add.s(700, 2)).applyAsync([], { idempotencyKey: key });
    expect(g.results.map((r) => r.id)).not.toContain(c.id);
    expect(await c.get({ timeoutMs: 10_000 })).toBe(702);
    expect(await g.get({ timeoutMs: 10_000 })).toEqual([701, 702]);
  });

  it('a key holds for its idempotencyTtl on the app clock, and a call after it expired is a new call', async () => {
    const key = freshKey();
    const first = await add.applyAsync([800, 8], { idempotencyKey: key, idempotencyTtl: 60 });
    await local.tick(59_000);
    const within = await add.applyAsync([800, 8], { idempotencyKey: key, idempotencyTtl: 60 });
    await local.tick(2_000);
    const after = await add.applyAsync([800, 8], { idempotencyKey: key, idempotencyTtl: 60 });
    expect(within.id).toBe(first.id);
    expect(after.id).not.toBe(first.id);
    await Promise.all([first.get({ timeoutMs: 10_000 }), after.get({ timeoutMs: 10_000 })]);
    await local.drain();
    expect(runsOf('add(800,8)')).toBe(2);
  });

  it('a plain JSON call on the queue with a key runs once; a second message with the key is stored REVOKED as its duplicate', async () => {
    const key = freshKey();
    const call = (id: string) => JSON.stringify({ task: 'add', args: [900, 9], id, idempotencyKey: key });
    const [one, two] = [`json-1-${key}`, `json-2-${key}`];
    await local.backend.broker.send([{ queue: 'default', body: call(one), id: one }]);
    await local.drain();
    await local.backend.broker.send([
      { queue: 'default', body: call(two), id: two },
      // The same message again (the producer's own retry): it is the first call, already done.
      { queue: 'default', body: call(one), id: `${one}-again` },
    ]);
    await local.drain();

    expect(await app.asyncResult(one).get({ timeoutMs: 10_000 })).toBe(909);
    expect(runsOf('add(900,9)')).toBe(1);
    const dup = await app.asyncResult(two).info();
    expect(dup.state).toBe(States.REVOKED);
    expect(dup.serializedError).toMatchObject({ code: 'TASK_REVOKED', details: { duplicateOf: one, idempotencyKey: key } });
    const thrown = await app
      .asyncResult(two)
      .get({ timeoutMs: 10_000 })
      .catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(TaskRevokedError);
    expect((thrown as TaskRevokedError).message).toContain(one);
  });

  it('a plain JSON call\'s "idempotencyTtl" says how long its key holds on the queue path', async () => {
    const key = freshKey();
    const call = (id: string) => JSON.stringify({ task: 'add', args: [950, 5], id, idempotencyKey: key, idempotencyTtl: 60 });
    const [one, two, three] = [`ttl-1-${key}`, `ttl-2-${key}`, `ttl-3-${key}`];
    await local.backend.broker.send([{ queue: 'default', body: call(one), id: one }]);
    await local.drain();
    await local.tick(59_000);
    await local.backend.broker.send([{ queue: 'default', body: call(two), id: two }]);
    await local.drain();
    await local.tick(2_000);
    await local.backend.broker.send([{ queue: 'default', body: call(three), id: three }]);
    await local.drain();
    expect((await app.asyncResult(two).info()).state).toBe(States.REVOKED);
    expect(await app.asyncResult(three).get({ timeoutMs: 10_000 })).toBe(955);
    expect(runsOf('add(950,5)')).toBe(2);
  });

  it('a queue message with a key a producer already holds is a duplicate of the producer call', async () => {
    const key = freshKey();
    const first = await add.applyAsync([1000, 1], { idempotencyKey: key });
    const foreign = `json-${key}`;
    await local.backend.broker.send([
      { queue: 'default', body: JSON.stringify({ task: 'add', args: [1000, 1], id: foreign, idempotencyKey: key }), id: foreign },
    ]);
    await local.drain();
    expect(await first.get({ timeoutMs: 10_000 })).toBe(1001);
    expect(runsOf('add(1000,1)')).toBe(1);
    expect((await app.asyncResult(foreign).info()).serializedError?.details).toEqual({ duplicateOf: first.id, idempotencyKey: key });
  });

  it('reported no errors', () => {
    expect(logger.errors).toEqual([]);
  });
});

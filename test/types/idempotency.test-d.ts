import { describe, expectTypeOf, it } from 'vitest';
import { type AsyncResult, type CallOptions, chain, chord, createApp, type GroupResult, group } from '../../lib/index';

const app = createApp({ name: 'types' });
const add = app.task('add', (x: number, y: number) => x + y);
const sum = app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));

describe('idempotency keys', () => {
  it('are call options of applyAsync and sendTask on tasks and every canvas, and keep the handle type', () => {
    expectTypeOf(add.applyAsync([1, 2], { idempotencyKey: 'order-7', idempotencyTtl: 3600 })).toEqualTypeOf<Promise<AsyncResult<number>>>();
    expectTypeOf(app.sendTask<number>('add', [1, 2], { idempotencyKey: 'order-7' })).toEqualTypeOf<Promise<AsyncResult<number>>>();
    expectTypeOf(chain(add.s(1, 2), add.s(3)).applyAsync([], { idempotencyKey: 'k' })).toEqualTypeOf<Promise<AsyncResult<number>>>();
    expectTypeOf(group(add.s(1, 2), add.s(3, 4)).applyAsync([], { idempotencyKey: 'k' })).toEqualTypeOf<
      Promise<GroupResult<[number, number]>>
    >();
    expectTypeOf(chord([add.s(1, 2)], sum.s()).applyAsync([], { idempotencyKey: 'k' })).toEqualTypeOf<Promise<AsyncResult<number>>>();
    expectTypeOf<CallOptions['idempotencyKey']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<CallOptions['idempotencyTtl']>().toEqualTypeOf<number | undefined>();
  });

  it('take a string key and a number of seconds', () => {
    // @ts-expect-error: a key is a string
    add.applyAsync([1, 2], { idempotencyKey: 7 });
    // @ts-expect-error: a ttl is seconds, a number
    add.applyAsync([1, 2], { idempotencyKey: 'k', idempotencyTtl: '1h' });
  });

  it('belong to one call, not to a signature: set() does not take them', () => {
    // @ts-expect-error: a signature carries no idempotency key
    add.s(1, 2).set({ idempotencyKey: 'k' });
    // @ts-expect-error: nor a ttl
    chain(add.s(1, 2), add.s(3)).set({ idempotencyTtl: 60 });
  });
});

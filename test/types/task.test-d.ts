import { describe, expectTypeOf, it } from 'vitest';
import {
  type AnySignature,
  type AsyncResult,
  chain,
  chord,
  createApp,
  currentTask,
  group,
  type Signature,
  type TaskContext,
} from '../../lib/index';

const app = createApp({ name: 'types' });
const add = app.task('add', (x: number, y: number) => x + y);
const upper = app.task('upper', (s: string) => s.toUpperCase());
const report = app.task('report', async (total: number) => `total=${total}`);
const noArgs = app.task('noArgs', () => 42);
const maybe = app.task('maybe', (x: number, y?: number) => x + (y ?? 0));

describe('tasks', () => {
  it('delay takes exactly the task arguments and returns a typed AsyncResult', () => {
    expectTypeOf(add.delay(1, 2)).toEqualTypeOf<Promise<AsyncResult<number>>>();
    expectTypeOf(report.delay(1)).toEqualTypeOf<Promise<AsyncResult<string>>>(); // async bodies are awaited
    // @ts-expect-error: missing argument
    add.delay(1);
    // @ts-expect-error: wrong type
    add.delay('1', 2);
    // @ts-expect-error: too many arguments
    noArgs.delay(1);
  });

  it('s() takes a prefix of the arguments and leaves the rest to be filled', () => {
    expectTypeOf(add.s(1)).toEqualTypeOf<Signature<[y: number], number>>();
    expectTypeOf(add.s()).toEqualTypeOf<Signature<[x: number, y: number], number>>();
    expectTypeOf(add.s(1, 2)).toEqualTypeOf<Signature<[], number>>();
    // @ts-expect-error: wrong type in the prefix
    add.s('a');
    // @ts-expect-error: more than the task takes
    add.s(1, 2, 3);
  });

  it('applyAsync takes the argument tuple', () => {
    expectTypeOf(add.applyAsync).parameter(0).toEqualTypeOf<[x: number, y: number]>();
  });
});

describe('chain checks each step against the previous result at compile time', () => {
  it('accepts a well-typed chain and types its result', () => {
    const c = chain(add.s(2, 3), add.s(4), report.s());
    expectTypeOf(c.applyAsync()).toEqualTypeOf<Promise<AsyncResult<string>>>();
  });

  it('rejects a step whose first parameter cannot take the previous result', () => {
    // @ts-expect-error: upper takes a string, add returns a number
    chain(add.s(1, 2), upper.s());
    // @ts-expect-error: report returns a string, add's first parameter is a number
    chain(add.s(1, 2), report.s(), add.s(1));
    // @ts-expect-error: the step has no parameter left to take the result
    chain(add.s(1, 2), add.s(1, 2));
  });

  it('an immutable step (si) accepts anything before it', () => {
    const c = chain(upper.s('a'), add.si(1, 2));
    expectTypeOf(c.applyAsync()).toEqualTypeOf<Promise<AsyncResult<number>>>();
  });

  it('optional parameters can take the previous result', () => {
    chain(add.s(1, 2), maybe.s());
  });
});

describe('replace', () => {
  it('is reachable from currentTask() and from a hook context, accepts a signature, chain, group or chord, and never returns', () => {
    const total = app.task('total', (xs: number[]) => xs.length);
    const swap = app.task(
      'swap',
      (x: number): number => {
        const ctx = currentTask();
        expectTypeOf(ctx.replace).parameter(0).toEqualTypeOf<AnySignature>();
        expectTypeOf(ctx.replace(add.s(x, 1))).toBeNever();
        if (x === 0) throw ctx.replace(add.s(x, 1));
        if (x === 1) throw ctx.replace(chain(add.s(x, 1), upper.s().asImmutable()));
        if (x === 2) throw ctx.replace(group(add.s(x, 1), add.s(x, 2)));
        throw ctx.replace(chord([add.s(x, 1), add.s(x, 2)], total.s()));
      },
      {
        beforeStart: (ctx: TaskContext) => {
          expectTypeOf(ctx.replace).returns.toBeNever();
        },
      },
    );
    expectTypeOf(swap.delay(1)).toEqualTypeOf<Promise<AsyncResult<number>>>();
    // @ts-expect-error: a replacement is a canvas, not a value
    currentTask().replace(42);
    // @ts-expect-error: nor a task (use task.s())
    currentTask().replace(add);
  });
});

describe('large payloads read lazily', () => {
  it('readPayload gives the type asked for, and lazyPayloads is a task option', () => {
    app.task(
      'lazyTotal',
      async (parts: unknown) => {
        const ctx = currentTask();
        expectTypeOf(ctx.readPayload<unknown[]>(parts)).toEqualTypeOf<Promise<unknown[]>>();
        expectTypeOf(ctx.readPayload(parts)).toEqualTypeOf<Promise<unknown>>();
        return (await ctx.readPayload<string>(parts)).length;
      },
      { lazyPayloads: true },
    );
    // @ts-expect-error: a boolean
    app.task('lazyBad', (x: number) => x, { lazyPayloads: 'yes' });
  });
});

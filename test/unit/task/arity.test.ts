/**
 * Call-time argument counts (Celery checks a call's arguments against the task's signature before
 * it is sent: too many is a TypeError as well as too few).
 */
import { describe, expect, it } from 'vitest';
import { createApp, ErrorCodes } from '../../../lib/index';
import { arityOf, checkArity } from '../../../lib/task/arity';

describe('arityOf', () => {
  it('reads the fewest and most positional arguments of every function form', () => {
    expect(arityOf((x: number, y: number) => x + y)).toEqual({ min: 2, max: 2 });
    expect(arityOf(async (total: number) => total)).toEqual({ min: 1, max: 1 });
    expect(arityOf(() => 1)).toEqual({ min: 0, max: 0 });
    expect(
      arityOf(function named(a: number, b = 2) {
        return a + b;
      }),
    ).toEqual({ min: 1, max: 2 });
    expect(arityOf(({ a, b }: { a: number; b: number }, [c]: number[] = [3]) => a + b + (c ?? 0))).toEqual({ min: 1, max: 2 });
    expect(arityOf((a: string, b = ')', c = ',') => a + b + c)).toEqual({ min: 1, max: 3 });
    expect(arityOf((a: number, ...rest: number[]) => a + rest.length)).toEqual({ min: 1, max: Number.POSITIVE_INFINITY });
    async function mul(a: number, b: number) {
      return a * b;
    }
    expect(arityOf(mul)).toEqual({ min: 2, max: 2 });
  });

  it('counts as "any number" what it cannot read (bound and built-in functions)', () => {
    const bound = ((a: number, b: number) => a + b).bind(null);
    expect(arityOf(bound).max).toBe(Number.POSITIVE_INFINITY);
    expect(arityOf(Math.max).max).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('checkArity', () => {
  it("refuses too few and too many, in Celery's words", () => {
    const add = (x: number, y: number) => x + y;
    expect(() => checkArity('add', add, 2)).not.toThrow();
    expect(() => checkArity('add', add, 1)).toThrow('add() takes 2 argument(s) but 1 were given');
    expect(() => checkArity('add', add, 3)).toThrow('add() takes 2 argument(s) but 3 were given');
    expect(() => checkArity('f', (a: number, b = 1) => a + b, 3)).toThrow('f() takes 1 to 2 argument(s) but 3 were given');
    expect(() => checkArity('g', (a: number, ...r: number[]) => a + r.length, 0)).toThrow(
      'g() takes at least 1 argument(s) but 0 were given',
    );
  });

  it('is what delay() and sendTask() check before anything is sent', async () => {
    const app = createApp({ name: 'arity', backend: (await import('../../../lib/adapters/memory')).memoryBackend() });
    const add = app.task('add', (x: number, y: number) => x + y);
    await expect((add.delay as (...a: number[]) => Promise<unknown>)(1, 2, 3)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGS });
    await expect(app.sendTask('add', [1, 2, 3])).rejects.toThrow('add() takes 2 argument(s) but 3 were given');
    await expect(app.sendTask('add', [1, 2])).resolves.toBeDefined();
  });
});

/**
 * Compile-time conformance of the canvas types: what a chain/group/chord resolves to, and what
 * must not compile (design §2: "a chain whose step cannot accept the previous result does not
 * compile"). Lines marked @ts-expect-error fail the typecheck if they ever start compiling.
 */
import { describe, expectTypeOf, it } from 'vitest';
import {
  type AsyncResult,
  chain,
  chord,
  createApp,
  type Group,
  type GroupResult,
  group,
  type OutOf,
  type Signature,
} from '../../lib/index';

const app = createApp({ name: 'canvas-types' });
const add = app.task('add', (x: number, y: number) => x + y);
const sum = app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
const upper = app.task('upper', (s: string) => s.toUpperCase());
const join = app.task('join', (parts: string[]) => parts.join(','));
const count = app.task('count', (xs: unknown[]) => xs.length);
const identity = app.task('identity', (x: unknown) => x);
const toStr = app.task('toStr', (n: number) => String(n));
const fmt = app.task('fmt', (n: number, unit: string) => `${n} ${unit}`);
const addToAll = app.task('addToAll', (xs: number[], n: number) => xs.map((x) => x + n));

describe('group', () => {
  it('[GROUP-01] resolves to a GroupResult of the member results, in member order', () => {
    const g = group(add.s(1, 1), toStr.s(2), upper.s('a'));
    expectTypeOf(g.applyAsync()).toEqualTypeOf<Promise<GroupResult<[number, string, string]>>>();
    expectTypeOf<Awaited<ReturnType<GroupResult<[number, string]>['get']>>>().toEqualTypeOf<[number, string]>();
  });

  it('[GROUP-01] group([...]) with an array is the same as group(...members)', () => {
    expectTypeOf(group([add.s(1, 1), toStr.s(2)]).applyAsync()).toEqualTypeOf<Promise<GroupResult<[number, string]>>>();
  });

  it('[GROUP-04] nested groups are flattened in the result type, as at run time', () => {
    const g = group(add.s(1, 1), group(toStr.s(2), group(upper.s('a'))));
    expectTypeOf(g.applyAsync()).toEqualTypeOf<Promise<GroupResult<[number, string, string]>>>();
  });

  it('[GROUP-06] call args are what the members still expect', () => {
    group(add.s(1), add.s(2)).applyAsync([10]);
    // @ts-expect-error: the members expect a number
    group(add.s(1), add.s(2)).applyAsync(['x']);
  });
});

describe('chord', () => {
  it('[CHORD-01] chord(group(...), body) compiles when the body takes the list of header results', () => {
    const c = chord(group(add.s(1, 1), add.s(2, 2)), sum.s());
    expectTypeOf(c.applyAsync()).toEqualTypeOf<Promise<AsyncResult<number>>>();
    expectTypeOf(chord([add.s(1, 1), add.s(2, 2)], sum.s()).applyAsync()).toEqualTypeOf<Promise<AsyncResult<number>>>();
    expectTypeOf(chord([toStr.s(1), upper.s('b')], join.s()).applyAsync()).toEqualTypeOf<Promise<AsyncResult<string>>>();
    chord([add.s(1, 1), upper.s('x')], count.s()); // unknown[] takes any header
  });

  it('[CHORD-01] a body that cannot take the header list does not compile', () => {
    // @ts-expect-error: upper takes a string, the header gives number[]
    chord(group(add.s(1, 1), add.s(2, 2)), upper.s());
    // @ts-expect-error: upper takes a string, the header gives number[]
    chord([add.s(1, 1), add.s(2, 2)], upper.s());
    // @ts-expect-error: join takes string[], the header gives number[]
    chord([add.s(1, 1), add.s(2, 2)], join.s());
    // @ts-expect-error: a body with no parameter left cannot take the header list
    chord([add.s(1, 1)], add.s(1, 2));
  });

  it('[CHORD-14] a nested group in the header is flattened: the body takes the flat list', () => {
    expectTypeOf(chord([add.s(1, 1), group(add.s(2, 2), add.s(3, 3))], sum.s()).applyAsync()).toEqualTypeOf<Promise<AsyncResult<number>>>();
  });

  it('[CHORD-07] an immutable body accepts any header', () => {
    expectTypeOf(chord([add.s(1, 1), upper.s('a')], upper.si('done')).applyAsync()).toEqualTypeOf<Promise<AsyncResult<string>>>();
  });

  it('[CHORD-06] an empty header gives the body []', () => {
    chord([], sum.s());
    chord([], count.s());
  });
});

describe('partial signatures [SIG-01]', () => {
  it('s(...args) fixes the TRAILING arguments: the previous result (or call args) are prepended', () => {
    // Celery: new args = call_args + sig.args, so add_to_all.s(8) runs as add_to_all(prev, 8)
    // (integration test test_chord.test_group_chain) and fmt.s('kg') as fmt(prev, 'kg').
    expectTypeOf(chain(add.s(1, 2), fmt.s('kg')).applyAsync()).toEqualTypeOf<Promise<AsyncResult<string>>>();
    expectTypeOf(chain(group(add.s(1, 1), add.s(2, 2)), addToAll.s(8)).applyAsync()).toEqualTypeOf<Promise<AsyncResult<number[]>>>();
    expectTypeOf(fmt.s('kg').delay).parameters.toEqualTypeOf<[number?]>();
  });

  it('a partial argument in the wrong position does not compile', () => {
    // @ts-expect-error: at run time 1 would be passed as `unit` (fmt(prev, 1))
    chain(add.s(1, 2), fmt.s(1));
    // @ts-expect-error: at run time [1] would be passed as `n` (addToAll(prev, [1]))
    chain(group(add.s(1, 1), add.s(2, 2)), addToAll.s([1]));
  });
});

describe('chain composition', () => {
  it('[CHAIN-01] a step whose first parameter cannot take the previous result does not compile', () => {
    // @ts-expect-error: upper takes a string, add returns a number
    chain(add.s(1, 2), upper.s());
    chain(add.s(1, 2), toStr.s(), upper.s());
  });

  it('[SIG-02] si() accepts anything before it', () => {
    expectTypeOf(chain(add.s(1, 2), upper.si('x')).applyAsync()).toEqualTypeOf<Promise<AsyncResult<string>>>();
    chain(group(add.s(1, 1), add.s(2, 2)), upper.si('x'));
    chain(upper.s('a'), add.si(1, 2), toStr.s());
  });

  it('[CHAIN-09] a chain ending in a group resolves to a GroupResult; each member takes the previous result', () => {
    const c = chain(add.s(1, 2), group(add.s(10), toStr.s()));
    expectTypeOf(c.applyAsync()).toEqualTypeOf<Promise<GroupResult<[number, string]>>>();
    // @ts-expect-error: the group's members take a string, add returns a number
    chain(add.s(1, 2), group(upper.s(), upper.s()));
  });

  it('[CHAIN-10] chain(group, task) is a chord: the task takes the list', () => {
    expectTypeOf(chain(group(add.s(1, 1), add.s(2, 2)), sum.s()).applyAsync()).toEqualTypeOf<Promise<AsyncResult<number>>>();
    // @ts-expect-error: upper takes a string, the group gives number[]
    chain(group(add.s(1, 1), add.s(2, 2)), upper.s());
  });

  it('[CHAIN-20] chain(group, group): each body member takes the whole list', () => {
    const c = chain(group(add.s(1, 1), add.s(2, 2)), group(sum.s(), identity.s()));
    expectTypeOf(c.applyAsync()).toEqualTypeOf<Promise<GroupResult<[number, unknown]>>>();
  });

  it('[§4.1] a chord inside a chain takes the previous result in its header and gives its body result onward', () => {
    const c = chain(add.s(1, 1), chord([add.s(10), add.s(20)], sum.s()), toStr.s());
    expectTypeOf(c.applyAsync()).toEqualTypeOf<Promise<AsyncResult<string>>>();
    // @ts-expect-error: the chord's body gives a number; upper takes a string
    chain(add.s(1, 1), chord([add.s(10), add.s(20)], sum.s()), upper.s());
  });

  it('[CHORD-10] a chain in a chord header contributes its last result', () => {
    const c = chord([chain(add.s(1, 1), toStr.s()), upper.s('a')], join.s());
    expectTypeOf(c.applyAsync()).toEqualTypeOf<Promise<AsyncResult<string>>>();
    // @ts-expect-error: the header gives [string, string]; sum takes number[]
    chord([chain(add.s(1, 1), toStr.s()), upper.s('a')], sum.s());
  });
});

describe('map / starmap / chunks [P-MAP-01/02]', () => {
  it('map and starmap are one task resolving to the list of results', () => {
    expectTypeOf(toStr.map([1, 2, 3])).toEqualTypeOf<Signature<[], string[]>>();
    expectTypeOf(add.starmap([[1, 2]]).applyAsync()).toEqualTypeOf<Promise<AsyncResult<number[]>>>();
    // @ts-expect-error: toStr takes numbers
    toStr.map(['a']);
    // @ts-expect-error: add takes [number, number] tuples
    add.starmap([[1, 'x']]);
  });

  it('chunks is a group resolving to a list of lists', () => {
    const c = add.chunks(
      [
        [1, 1],
        [2, 2],
      ],
      1,
    );
    expectTypeOf(c).toEqualTypeOf<Group<[], number[][]>>();
    expectTypeOf<OutOf<typeof c>>().toEqualTypeOf<number[][]>();
    expectTypeOf(c.applyAsync()).toEqualTypeOf<Promise<GroupResult<number[][]>>>();
  });

  it('map results flow into the next chain step', () => {
    expectTypeOf(chain(add.map([1, 2]), sum.s()).applyAsync()).toEqualTypeOf<Promise<AsyncResult<number>>>();
    // @ts-expect-error: the map gives number[]; upper takes a string
    chain(toStr.map([1]), upper.s());
  });
});

describe('clone(args) [SIG-01]', () => {
  it('fills the leading parameters it is given: what is left is what a previous result or a call still fills', () => {
    expectTypeOf(fmt.s('kg').clone([3])).toEqualTypeOf<Signature<[], string>>();
    expectTypeOf(add.s().clone([1])).toEqualTypeOf<Signature<[y: number], number>>();
    expectTypeOf(add.s(2).clone()).toEqualTypeOf<Signature<[x: number], number>>();
  });
});

import { randomUUID } from 'node:crypto';
import { CeleriacError, ErrorCodes } from '../errors';
import { GroupResult, type ResultHost } from '../results/async-result';
import { type AnySignature, assertSignature, type CanvasHost, Chain, Chord, Group } from './signature';
import type { ChainCheck, ChainOf, ChordBodyCheck, GroupOut, HandleOf, InOf, OutOf } from './types';

/**
 * A chain: `chain(a.s(2, 3), b.s(), c.s())` runs a, then b(aResult), then c(bResult).
 * A step whose first parameter cannot take the previous result does not compile.
 *
 * @example
 * ```ts
 * const r = await chain(add.s(2, 3), add.s(4), report.s()).applyAsync();
 * await r.get({ timeoutMs: 10_000 }); // 'total=9'
 * ```
 */
export function chain<const S extends readonly [AnySignature, ...AnySignature[]]>(...steps: S & ChainCheck<S>): ChainOf<S>;
export function chain(...steps: AnySignature[]): AnySignature {
  if (steps.length === 0) {
    throw new CeleriacError(ErrorCodes.INVALID_CANVAS, 'chain() needs at least one step');
  }
  for (const [i, s] of steps.entries()) assertSignature(s, `chain() step ${i}`);
  return new Chain((steps[0] as AnySignature).host, steps);
}

/**
 * A group: members run in parallel; `get()` returns results in member order.
 * Accepts members as arguments or as one array.
 *
 * @example
 * ```ts
 * const g = await group(add.s(1, 1), add.s(2, 2)).applyAsync();
 * await g.get(); // [2, 4]
 * ```
 */
export function group<const S extends readonly AnySignature[]>(...members: S): Group<InOf<S[0]>, GroupOut<S>>;
export function group<const S extends readonly AnySignature[]>(members: S): Group<InOf<S[0]>, GroupOut<S>>;
export function group(...input: unknown[]): AnySignature {
  const members = (input.length === 1 && Array.isArray(input[0]) ? input[0] : input) as unknown[];
  for (const [i, m] of members.entries()) assertSignature(m, `group() member ${i}`);
  const sigs = members as AnySignature[];
  return new Group(sigs[0]?.host ?? emptyHost, sigs);
}

/**
 * A chord: the body runs once, after every header member finished, with the list of their
 * results (in header order) as its first argument. A body that cannot take that list does not compile.
 *
 * @example
 * ```ts
 * const r = await chord(group(add.s(1, 1), add.s(2, 2)), sum.s()).applyAsync();
 * await r.get(); // 6
 * ```
 */
export function chord<const HS extends readonly AnySignature[], B extends AnySignature>(
  header: HS,
  body: B & ChordBodyCheck<GroupOut<HS>, B>,
): Chord<InOf<HS[0]>, OutOf<B>, HandleOf<B>>;
export function chord<G extends Group<readonly unknown[], readonly unknown[]>, B extends AnySignature>(
  header: G,
  body: B & ChordBodyCheck<OutOf<G>, B>,
): Chord<InOf<G>, OutOf<B>, HandleOf<B>>;
export function chord(header: unknown, body: unknown): AnySignature {
  if (body === undefined) {
    throw new CeleriacError(ErrorCodes.INVALID_CANVAS, 'chord() needs a body: chord(header, body)');
  }
  assertSignature(body, 'chord() body');
  let g: Group<readonly unknown[], readonly unknown[]>;
  if (Array.isArray(header)) g = group(header as AnySignature[]) as unknown as Group<readonly unknown[], readonly unknown[]>;
  else if (header instanceof Group) g = header as Group<readonly unknown[], readonly unknown[]>;
  else {
    assertSignature(header, 'chord() header');
    g = group(header) as unknown as Group<readonly unknown[], readonly unknown[]>;
  }
  return new Chord(body.host, g, body);
}

// A group with no members has no task to find its app through. It needs none: its result is an
// empty GroupResult, ready at once (GROUP-03), whichever app would have published it.
const emptyHost: CanvasHost & ResultHost = {
  name: '(empty group)',
  async applyCanvas(): Promise<unknown> {
    return new GroupResult(emptyHost, randomUUID(), []);
  },
  backend(): Promise<never> {
    return Promise.reject(new CeleriacError(ErrorCodes.NOT_CONFIGURED, 'an empty group has no backend'));
  },
  async revoke(): Promise<void> {},
  // An empty group's result is ready at once: nothing is ever waited for.
  insideTask: () => false,
};

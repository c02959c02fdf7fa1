import type { AsyncResult, GroupResult } from '../results/async-result';
import type { AnySignature, Canvas } from './signature';

/** The argument tuple a canvas still expects. */
export type InOf<C> = C extends Canvas<infer I, unknown, unknown> ? I : never;
/** What a canvas resolves to. */
export type OutOf<C> = C extends { readonly __out: infer O } ? O : never;
/** The handle `applyAsync()` returns. */
export type HandleOf<C> = C extends { readonly __handle: infer H } ? H : never;

/**
 * The ways to cut an argument tuple in two. Optional parameters count as required here: partial
 * args fill a signature from the end (`sub.s(10).delay(30)` runs `sub(30, 10)`, SIG-01).
 * A non-tuple array (rest parameters) is not shortened by partial args.
 */
type Splits<A extends readonly unknown[], Pre extends readonly unknown[] = []> = A extends readonly []
  ? [Pre, A]
  : number extends A['length']
    ? [A, A]
    : [Pre, A] | (A extends readonly [infer H, ...infer T] ? Splits<T, [...Pre, H]> : never);

/** Argument lists `task.s(...)` accepts: any trailing part of the task's parameters. */
export type Suffixes<A extends readonly unknown[]> =
  Splits<Required<A>> extends infer S ? (S extends [unknown, infer Post] ? Post : never) : never;

/** The parameters still open after `task.s(...P)`: the leading ones, which a previous result fills. */
export type Remaining<A extends readonly unknown[], P extends readonly unknown[]> = P extends readonly []
  ? A
  : Splits<Required<A>> extends infer S
    ? S extends [infer Pre, infer Post extends readonly unknown[]]
      ? P extends Post
        ? Post['length'] extends P['length']
          ? Pre
          : never
        : never
      : never
    : never;

declare const noPrev: unique symbol;
type NoPrev = typeof noPrev;

/** Can a canvas expecting `I` take `Prev` as its first argument? */
type Accepts<I, Prev> = I extends readonly []
  ? false
  : I extends readonly [infer F, ...unknown[]]
    ? [Prev] extends [F]
      ? true
      : false
    : I extends readonly [(infer F)?, ...unknown[]]
      ? [Prev] extends [F | undefined]
        ? true
        : false
      : I extends readonly (infer E)[]
        ? [Prev] extends [E]
          ? true
          : false
        : false;

/**
 * Shown in place of a chain step that cannot take the previous step's result. Reading it in a
 * compiler error tells what went wrong.
 */
export interface ChainStepError<Expected, Got> {
  readonly 'celeriac: this step cannot take the previous result as its first argument': true;
  readonly expectedFirstParameter: Expected;
  readonly previousResult: Got;
}

type FirstParam<I> = I extends readonly [infer F, ...unknown[]]
  ? F
  : I extends readonly [(infer F)?, ...unknown[]]
    ? F
    : I extends readonly (infer E)[]
      ? E
      : 'no parameter left';

/** Checks each step of a chain against the previous step's result; bad steps become ChainStepError. */
export type ChainCheck<S extends readonly unknown[], Prev = NoPrev> = S extends readonly [infer H, ...infer T]
  ? [
      [Prev] extends [NoPrev] ? H : Accepts<InOf<H>, Prev> extends true ? H : ChainStepError<FirstParam<InOf<H>>, Prev>,
      ...ChainCheck<T, OutOf<H>>,
    ]
  : [];

type Last<S extends readonly unknown[]> = S extends readonly [...unknown[], infer L] ? L : never;
type First<S extends readonly unknown[]> = S extends readonly [infer F, ...unknown[]] ? F : never;

/** The canvas type a chain of `S` builds. */
export type ChainOf<S extends readonly unknown[]> = import('./signature').Chain<InOf<First<S>>, OutOf<Last<S>>, HandleOf<Last<S>>>;

/** Member results of a group, in member order; nested groups are flattened (GROUP-04, CHORD-14). */
export type GroupOut<S extends readonly unknown[]> = S extends readonly [infer H, ...infer T]
  ? H extends { readonly kind: 'group'; readonly __out: infer O extends readonly unknown[] }
    ? [...O, ...GroupOut<T>]
    : [OutOf<H>, ...GroupOut<T>]
  : S extends readonly []
    ? []
    : S extends readonly (infer E)[]
      ? (E extends { readonly kind: 'group'; readonly __out: infer O extends readonly unknown[] } ? O[number] : OutOf<E>)[]
      : [];

/** The body of a chord must take the header's result list as its first argument. */
export type ChordBodyCheck<HeaderOut, B> = Accepts<InOf<B>, HeaderOut> extends true ? B : ChainStepError<FirstParam<InOf<B>>, HeaderOut>;

export type { AnySignature, AsyncResult, GroupResult };

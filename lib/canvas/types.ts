import type { AsyncResult, GroupResult } from '../results/async-result';
import type { AnySignature, Canvas } from './signature';

/** The argument tuple a canvas still expects. */
export type InOf<C> = C extends Canvas<infer I, unknown, unknown> ? I : never;
/** What a canvas resolves to. */
export type OutOf<C> = C extends { readonly __out: infer O } ? O : never;
/** The handle `applyAsync()` returns. */
export type HandleOf<C> = C extends { readonly __handle: infer H } ? H : never;

/** `A` without its first `P['length']` elements. */
export type Drop<A extends readonly unknown[], P extends readonly unknown[]> = P extends readonly [unknown, ...infer PT]
  ? A extends readonly [unknown?, ...infer AT]
    ? Drop<AT, PT>
    : A
  : A;

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

/** Member results of a group, in member order. */
export type GroupOut<S extends readonly unknown[]> = { -readonly [K in keyof S]: OutOf<S[K]> };

/** The body of a chord must take the header's result list as its first argument. */
export type ChordBodyCheck<HeaderOut, B> = Accepts<InOf<B>, HeaderOut> extends true ? B : ChainStepError<FirstParam<InOf<B>>, HeaderOut>;

export type { AnySignature, AsyncResult, GroupResult };

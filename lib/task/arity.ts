/**
 * How many positional arguments a task body takes, for Celery's call-time argument check
 * (`add.delay(1, 2, 3)` raises TypeError in Celery: too many as well as too few).
 *
 * JavaScript keeps no signature at run time beyond `fn.length` (the parameters before the first
 * default or rest parameter), so the upper bound is read from the function's own source: the
 * top-level parameters of its parameter list. Anything the reader cannot follow counts as "any
 * number" (never refuse a call we are not sure about).
 */
import { CeleriacError, ErrorCodes } from '../errors';

/** Fewest and most positional arguments; `max` is `Infinity` with a rest parameter. */
export interface Arity {
  readonly min: number;
  readonly max: number;
}

const cache = new WeakMap<object, Arity>();

/** The arity of a function (cached per function). */
// biome-ignore lint/suspicious/noExplicitAny: any task body
export function arityOf(fn: (...args: any[]) => unknown): Arity {
  let a = cache.get(fn);
  if (a === undefined) {
    const max = maxParams(Function.prototype.toString.call(fn));
    a = { min: fn.length, max: max === undefined ? Number.POSITIVE_INFINITY : Math.max(max, fn.length) };
    cache.set(fn, a);
  }
  return a;
}

/**
 * Whether `fn` declares more than one positional parameter as Celery counts them (parameters with
 * defaults count, a rest parameter counts as any number): how a new-style errback, called inline
 * with the failed request, is told from an old-style one. A function whose source cannot be read
 * (bound, native) is judged by `fn.length`.
 */
// biome-ignore lint/suspicious/noExplicitAny: any task body
export function declaresSeveral(fn: (...args: any[]) => unknown): boolean {
  if (fn.length > 1) return true;
  const max = maxParams(Function.prototype.toString.call(fn));
  return max !== undefined && max > 1;
}

/**
 * Refuses a call whose argument count the task cannot take, with Celery's wording.
 *
 * @throws CeleriacError INVALID_ARGS
 */
// biome-ignore lint/suspicious/noExplicitAny: any task body
export function checkArity(name: string, fn: (...args: any[]) => unknown, given: number): void {
  const { min, max } = arityOf(fn);
  if (given >= min && given <= max) return;
  const takes = min === max ? `${min}` : max === Number.POSITIVE_INFINITY ? `at least ${min}` : `${min} to ${max}`;
  throw new CeleriacError(ErrorCodes.INVALID_ARGS, `${name}() takes ${takes} argument(s) but ${given} were given; call it with ${takes}`);
}

/** Counts the top-level parameters in a function's source (`Infinity` with a rest parameter); undefined when it cannot tell. */
function maxParams(source: string): number | undefined {
  const list = parameterList(source);
  if (list === undefined) return undefined;
  if (list.trim() === '') return 0;
  let depth = 0;
  let count = 1;
  let quote: string | undefined;
  for (let i = 0; i < list.length; i++) {
    const c = list[i] as string;
    if (quote !== undefined) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') depth--;
    else if (depth === 0 && c === ',') {
      // A trailing comma adds no parameter.
      if (list.slice(i + 1).trim() !== '') count++;
    } else if (depth === 0 && c === '.' && list.startsWith('...', i))
      return Number.POSITIVE_INFINITY; // a rest parameter
    else if (c === '/' && (list[i + 1] === '/' || list[i + 1] === '*')) return undefined; // comments: do not guess
  }
  return count;
}

/** The text between a function's parameter parentheses, or a lone arrow parameter. */
function parameterList(source: string): string | undefined {
  const s = source.trimStart();
  if (s.includes('[native code]')) return undefined; // bound and built-in functions show no parameters
  // `x => …` / `async x => …`
  const bare = /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(s);
  if (bare) return bare[1];
  const open = s.indexOf('(');
  if (open < 0) return undefined;
  // `class` bodies and getters are not task bodies.
  if (/^class\b/.test(s)) return undefined;
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < s.length; i++) {
    const c = s[i] as string;
    if (quote !== undefined) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(') depth++;
    else if (c === ')') {
      depth--;
      if (depth === 0) return s.slice(open + 1, i);
    }
  }
  return undefined;
}

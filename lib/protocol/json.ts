import { CeleriacError, ErrorCodes } from '../errors';

/** A JSON value: what args, results and headers may hold. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A JSON object. */
export type JsonObject = { [key: string]: Json };

/** Keys that can reach an object's prototype when a value is merged or spread. */
const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Default structural limits for incoming JSON. */
export const JSON_LIMITS = { maxDepth: 64 } as const;

/**
 * Checks that a parsed value is plain, safe JSON: no prototype keys, bounded depth, finite numbers,
 * well-formed strings. Throws a CeleriacError with a specific code and the offending path.
 */
export function assertSafeJson(value: unknown, maxDepth: number = JSON_LIMITS.maxDepth, path = '$'): void {
  // Every message and result goes through here: a first pass builds no path strings; only a value
  // it refuses is walked again, by the pass that names the offending path.
  if (isSafe(value, 0, maxDepth)) return;
  const e = findUnsafeJson(value, maxDepth, path);
  if (e) throw e;
}

/** What {@link assertSafeJson} would throw for a value, naming the offending path; undefined if it is safe. */
export function findUnsafeJson(value: unknown, maxDepth: number = JSON_LIMITS.maxDepth, path = '$'): CeleriacError | undefined {
  try {
    walk(value, 0, maxDepth, path);
    return undefined;
  } catch (e) {
    return e as CeleriacError;
  }
}

/** Whether {@link assertSafeJson} accepts a value (without building an error). */
export function isSafeJson(value: unknown, maxDepth: number = JSON_LIMITS.maxDepth): boolean {
  return isSafe(value, 0, maxDepth);
}

/** The same checks as walk(), as a yes/no: walk() must throw for every value this refuses. */
function isSafe(v: unknown, depth: number, maxDepth: number): boolean {
  switch (typeof v) {
    case 'string':
      return v.isWellFormed();
    case 'number':
      return Number.isFinite(v);
    case 'boolean':
      return true;
    case 'object': {
      if (v === null) return true;
      if (depth >= maxDepth) return false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) if (!isSafe(v[i], depth + 1, maxDepth)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key of Object.keys(v)) {
        if (UNSAFE_KEYS.has(key) || !key.isWellFormed() || !isSafe((v as Record<string, unknown>)[key], depth + 1, maxDepth)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function walk(v: unknown, depth: number, maxDepth: number, path: string): void {
  switch (typeof v) {
    case 'string':
      if (!v.isWellFormed()) {
        throw new CeleriacError(ErrorCodes.INVALID_UNICODE, `string at ${path} has a lone surrogate (invalid UTF-16/UTF-8)`);
      }
      return;
    case 'number':
      if (!Number.isFinite(v)) throw new CeleriacError(ErrorCodes.BAD_NUMBER, `number at ${path} is not finite`);
      return;
    case 'boolean':
      return;
    case 'object': {
      if (v === null) return;
      if (depth >= maxDepth) {
        throw new CeleriacError(ErrorCodes.TOO_DEEP, `value nests deeper than ${maxDepth} levels at ${path}`);
      }
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) walk(v[i], depth + 1, maxDepth, `${path}[${i}]`);
        return;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        throw new CeleriacError(
          ErrorCodes.NOT_JSON_SERIALIZABLE,
          `value at ${path} is a ${proto?.constructor?.name ?? 'non-plain'} object, not plain JSON`,
        );
      }
      for (const key of Object.keys(v)) {
        if (UNSAFE_KEYS.has(key)) {
          throw new CeleriacError(ErrorCodes.UNSAFE_KEY, `key "${key}" at ${path} is refused (prototype pollution guard)`);
        }
        // A key is a string like any other: a lone surrogate in it is as invalid as in a value.
        if (!key.isWellFormed()) {
          throw new CeleriacError(ErrorCodes.INVALID_UNICODE, `a key at ${path} has a lone surrogate (invalid UTF-16/UTF-8)`);
        }
        walk((v as Record<string, unknown>)[key], depth + 1, maxDepth, `${path}.${pathKey(key)}`);
      }
      return;
    }
    default:
      throw new CeleriacError(ErrorCodes.NOT_JSON_SERIALIZABLE, `value at ${path} is a ${typeof v}, which JSON cannot carry`);
  }
}

/** Longest key a path in an error message names as it is. */
const PATH_KEY_CHARS = 40;

/** A key as an error's path shows it: a long one by its length, so a refusal cannot grow with its input. */
function pathKey(key: string): string {
  return key.length <= PATH_KEY_CHARS ? key : `<key of ${key.length} chars>`;
}

/**
 * Serializes a value the producer is about to send or the worker is about to store, refusing what
 * JSON would silently mangle (undefined → dropped, NaN → null, Date → string, Map → {}).
 */
export function toJson(value: unknown, what: string): Json {
  if (value === undefined) return null;
  try {
    assertSafeJson(value, JSON_LIMITS.maxDepth, what);
  } catch (e) {
    // Dates and class instances with toJSON are common results; let JSON decide for those.
    if (e instanceof CeleriacError && e.code === ErrorCodes.NOT_JSON_SERIALIZABLE && hasToJson(value)) {
      const round = JSON.parse(JSON.stringify(value)) as Json;
      assertSafeJson(round, JSON_LIMITS.maxDepth, what);
      return round;
    }
    throw e;
  }
  return value as Json;
}

function hasToJson(v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return true;
  if (Array.isArray(v)) return v.some(hasToJson);
  return Object.values(v).some(hasToJson);
}

/**
 * The rules every payload store follows, written once: how a key is formed from a store's
 * prefix, what a reference holds, and when a reference is refused (foreign) or a stored text is
 * refused (corrupt). The adapters (memory, S3) only move bytes.
 */
import { createHash } from 'node:crypto';
import { CeleriacError, ErrorCodes } from '../errors';
import type { PayloadRef, PayloadStore } from '../ports';
import { decodeWith, isPlainObject } from './codec';
import type { SerializedError } from './failure';
import { assertSafeJson, JSON_LIMITS, type Json } from './json';
import { jsonOver } from './limits';
import { PAYLOAD_MARK, PAYLOAD_REF } from './wire';

/**
 * The one path segment of task `id`: every payload the task stores (its arguments, each attempt's;
 * its results and errors) is under `<prefix>/<segment>/`, which is what `forget()` deletes. Any
 * id becomes one safe segment (percent-encoded, dots too; hashed when very long).
 */
export function idSegment(id: string): string {
  const s = encodeURIComponent(id).replace(/\./g, '%2E');
  // An encoded id never holds a dot, so a hashed segment starting with one is no id's folder.
  return s.length <= 300 ? s : `.h-${createHash('sha256').update(id).digest('hex')}`;
}

/** The key of `path` in a store with `prefix`. Paths are the caller's (ids and a part name). */
export function payloadKey(prefix: string, path: string): string {
  if (path === '' || path.startsWith('/') || path.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new CeleriacError(ErrorCodes.INVALID_ARGS, `payload path "${path}" must be non-empty segments joined by "/"`);
  }
  return `${prefix}/${path}`;
}

/** The reference of `text` stored under `key`. */
export function payloadRefOf(key: string, text: string): PayloadRef {
  return { key, bytes: Buffer.byteLength(text, 'utf8'), sha256: digest(text) };
}

/** Refuses a key outside `prefix` (another app's payload, or a forged reference). */
export function checkOwnKey(prefix: string, key: string): void {
  if (typeof key !== 'string' || !key.startsWith(`${prefix}/`) || key.split('/').some((p) => p === '..')) {
    throw new CeleriacError(ErrorCodes.PAYLOAD_FOREIGN, `payload "${String(key)}" is not under this app's prefix "${prefix}/"`);
  }
}

/** The error of a reference whose object does not exist. */
export function payloadNotFound(ref: PayloadRef): CeleriacError {
  return new CeleriacError(ErrorCodes.PAYLOAD_NOT_FOUND, `payload "${ref.key}" does not exist (deleted, expired, or never written)`);
}

/**
 * Refuses an object of another size than `ref` names (PAYLOAD_CORRUPT), before its body is read:
 * a reference must not make a worker load more than it says.
 */
export function checkPayloadSize(ref: PayloadRef, storedBytes: number): void {
  if (storedBytes !== ref.bytes) throw payloadCorrupt(ref, `${storedBytes} bytes stored, ${ref.bytes} expected`);
}

/** `text` if it is what `ref` names; PAYLOAD_CORRUPT otherwise. */
export function checkPayload(ref: PayloadRef, text: string): string {
  checkPayloadSize(ref, Buffer.byteLength(text, 'utf8'));
  if (digest(text) !== ref.sha256) throw payloadCorrupt(ref, 'a different digest');
  return text;
}

function payloadCorrupt(ref: PayloadRef, why: string): CeleriacError {
  return new CeleriacError(ErrorCodes.PAYLOAD_CORRUPT, `payload "${ref.key}" is not the one its reference names (${why})`);
}

/**
 * A short tag of `text`'s content (the start of its SHA-256), for part names: an argument stored
 * under its call's id and its content can be rewritten only with the same bytes, so no message
 * reusing an id can replace what another message's reference names.
 */
export function contentTag(text: string): string {
  return digest(text).slice(0, 16);
}

function digest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64url');
}

// ── values by reference: the seam every offload and every resolution goes through ──────────

/** A value as it travels when it is kept in the payload store: `{ "$payload": ref }`. */
export type PayloadPointer = { readonly [PAYLOAD_MARK]: PayloadRef };

/** Fetches in flight at once when a value holds many references (a chord body's member results). */
export const RESOLVE_CONCURRENCY = 8;

/**
 * Whether `e` refuses a reference for good (missing, foreign, corrupt, not JSON): the call or read
 * that met it fails with it. Anything else (an unreachable store) is retryable and retried.
 */
export function isPayloadRefusal(e: unknown): e is CeleriacError {
  return e instanceof CeleriacError && REFUSALS.has(e.code);
}

const REFUSALS = new Set<string>([
  ErrorCodes.PAYLOAD_FOREIGN,
  ErrorCodes.PAYLOAD_NOT_FOUND,
  ErrorCodes.PAYLOAD_CORRUPT,
  ErrorCodes.PAYLOAD_OVER_BUDGET,
]);

/** Whether `x` is shaped as a reference (an object whose one key is `$payload`); not whether it is a valid one. */
export function isPayloadPointer(x: unknown): x is PayloadPointer {
  if (!isPlainObject(x) || !(PAYLOAD_MARK in x)) return false;
  for (const k in x) if (k !== PAYLOAD_MARK) return false;
  return true;
}

/** The pointer of a stored payload. */
export function pointerOf(ref: PayloadRef): Json {
  return { [PAYLOAD_MARK]: { key: ref.key, bytes: ref.bytes, sha256: ref.sha256 } };
}

/** What an offload did: the value as it travels, and the key it put (to delete if the send fails). */
export interface Offloaded {
  readonly value: Json;
  readonly put?: string;
}

/**
 * `value` as it travels: itself when its JSON text is at most `threshold` bytes (or it already is
 * a reference, or there is no store), else a pointer to it, stored under `path`. The offload
 * decision: the one place a value is weighed against the threshold.
 */
export async function offloadValue(store: PayloadStore | undefined, path: string, value: Json, threshold: number): Promise<Offloaded> {
  const text = store === undefined ? undefined : offloadText(value, threshold);
  return text === undefined || store === undefined ? { value } : storeText(store, path, text);
}

/** The decision alone, without awaiting: the JSON text to store when `value` goes by reference, else undefined. */
export function offloadText(value: Json, threshold: number): string | undefined {
  return isPayloadPointer(value) ? undefined : jsonOver(value, threshold)?.text;
}

/** Stores `text` (a value {@link offloadText} chose) under `path`: its pointer and the key put. */
export async function storeText(store: PayloadStore, path: string, text: string): Promise<Offloaded> {
  const ref = await store.put(path, text);
  return { value: pointerOf(ref), put: ref.key };
}

/**
 * How many bytes of payloads one reader may still load: a call's arguments, read before its body
 * runs. The sizes references name are taken before they are fetched (a stored object of another
 * size is refused unread, {@link checkPayloadSize}), so a call over it fails before it loads
 * anything, not by running its function out of memory.
 */
export class ReadBudget {
  #left: number;
  /** @param limit bytes; `Infinity` for none. */
  constructor(readonly limit: number) {
    this.#left = limit;
  }

  /**
   * Takes the sizes of `pointers` (all of them, or none).
   * @throws CeleriacError PAYLOAD_OVER_BUDGET, not retryable: what they name does not fit.
   */
  take(pointers: readonly PayloadPointer[]): void {
    if (this.limit === Number.POSITIVE_INFINITY) return;
    let bytes = 0;
    for (const p of pointers) {
      const decoded = decodeWith(PAYLOAD_REF, p[PAYLOAD_MARK]);
      // A malformed reference is refused when it is fetched; it loads nothing.
      if (decoded.ok) bytes += decoded.value.bytes;
    }
    if (bytes > this.#left) {
      throw new CeleriacError(
        ErrorCodes.PAYLOAD_OVER_BUDGET,
        `the call's large arguments total ${this.limit - this.#left + bytes} bytes, more than the ${this.limit} its worker may load before the body runs (maxPayloadReadBytes; by default a quarter of the function's memory): give the function more memory, or declare the task with lazyPayloads: true to read them one at a time`,
      );
    }
    this.#left -= bytes;
  }
}

/** No budget: every reference is read (a caller's `get()`, a subscriber). */
const UNBOUNDED = new ReadBudget(Number.POSITIVE_INFINITY);

/**
 * `value` with its references replaced by what they point to: the value itself when it is one,
 * then its direct members (an array of chord member results, the kwargs' values), at most
 * {@link RESOLVE_CONCURRENCY} fetches at once. Nothing deeper is looked at: those are the places
 * offloads write, and a plain value costs one pass over its top level. Each level's sizes are
 * taken from `budget` before that level is fetched.
 *
 * @throws CeleriacError PAYLOAD_FOREIGN (a malformed reference, one outside the app's prefix, or
 *   one met where no payload store is configured), PAYLOAD_NOT_FOUND, PAYLOAD_CORRUPT,
 *   PAYLOAD_OVER_BUDGET: none retryable; a store that is unreachable throws its own (retryable) error.
 */
export async function resolveValue(store: PayloadStore | undefined, value: Json, budget: ReadBudget = UNBOUNDED): Promise<Json> {
  let top = value;
  if (isPayloadPointer(value)) {
    budget.take([value]);
    top = await fetchPointer(store, value);
  }
  if (Array.isArray(top)) {
    if (!top.some(isPayloadPointer)) return top;
    budget.take(top.flatMap((x) => (isPayloadPointer(x) ? [x] : [])));
    return mapBounded(top, (x) => (isPayloadPointer(x) ? fetchPointer(store, x) : Promise.resolve(x)));
  }
  if (isPlainObject(top)) {
    const entries = Object.entries(top as Record<string, Json>);
    if (!entries.some(([, x]) => isPayloadPointer(x))) return top;
    budget.take(entries.flatMap(([, x]) => (isPayloadPointer(x) ? [x] : [])));
    const values = await mapBounded(entries, ([, x]) => (isPayloadPointer(x) ? fetchPointer(store, x) : Promise.resolve(x)));
    return Object.fromEntries(entries.map(([k], i) => [k, values[i] as Json]));
  }
  return top;
}

/**
 * The value `value` points to when it is a reference, read one level only (a list stored by
 * reference comes back with its own members' references in place); any other value as it is.
 * What a task with `lazyPayloads` reads its arguments with, one at a time.
 *
 * @throws CeleriacError as {@link resolveValue}.
 */
export async function readPointer(store: PayloadStore | undefined, value: unknown): Promise<unknown> {
  return isPayloadPointer(value) ? fetchPointer(store, value) : value;
}

/** Whether {@link resolveValue} would fetch anything for `value` (no await, no allocation for plain values). */
export function holdsPointer(value: unknown): boolean {
  if (isPayloadPointer(value)) return true;
  if (Array.isArray(value)) return value.some(isPayloadPointer);
  if (isPlainObject(value)) {
    for (const k in value) if (isPayloadPointer(value[k])) return true;
  }
  return false;
}

async function fetchPointer(store: PayloadStore | undefined, p: PayloadPointer): Promise<Json> {
  const decoded = decodeWith(PAYLOAD_REF, p[PAYLOAD_MARK]);
  if (!decoded.ok) {
    throw new CeleriacError(
      ErrorCodes.PAYLOAD_FOREIGN,
      `a "${PAYLOAD_MARK}" reference is malformed (${decoded.issues}); it was not written by celeriac`,
    );
  }
  if (store === undefined) {
    throw new CeleriacError(
      ErrorCodes.PAYLOAD_FOREIGN,
      `payload "${decoded.value.key}" cannot be read: this app has no payload store (configure a payload bucket, CELERIAC_PAYLOAD_BUCKET)`,
    );
  }
  const text = await store.get(decoded.value);
  try {
    const parsed: unknown = JSON.parse(text);
    assertSafeJson(parsed, JSON_LIMITS.maxDepth, decoded.value.key);
    return parsed as Json;
  } catch (e) {
    throw new CeleriacError(ErrorCodes.PAYLOAD_CORRUPT, `payload "${decoded.value.key}" is not safe JSON: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** `fn` over `items`, at most {@link RESOLVE_CONCURRENCY} at once, results in order. */
export async function mapBounded<T, R>(items: readonly T[], fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(RESOLVE_CONCURRENCY, items.length) }, lane));
  return out;
}

/** What a stored record or an event detail holds that may be by reference. */
interface WithValues {
  readonly result?: Json;
  readonly error?: SerializedError;
}

/**
 * `rec` (a result record, an event's detail) with its result and its error's details resolved:
 * `rec` itself when it holds no reference (no call, no copy).
 */
export async function resolveValues<R extends WithValues>(store: PayloadStore | undefined, rec: R): Promise<R> {
  const r = rec.result !== undefined && holdsPointer(rec.result);
  const d = rec.error?.details !== undefined && isPayloadPointer(rec.error.details);
  if (!r && !d) return rec;
  const result = r ? await resolveValue(store, rec.result as Json) : rec.result;
  const error =
    d && rec.error
      ? { ...rec.error, details: (await resolveValue(store, rec.error.details as Json)) as SerializedError['details'] }
      : rec.error;
  return { ...rec, ...(result !== undefined ? { result } : {}), ...(error !== undefined ? { error } : {}) };
}

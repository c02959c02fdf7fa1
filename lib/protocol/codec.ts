/**
 * The building blocks of the wire codec: a shape is described ONCE, as a table of fields (domain
 * name, wire key, kind), and that one description is both the validator (with the error message
 * naming the wire path of the first lies) and the fast decoder that maps compact wire keys to the
 * readable names the engine uses, and the encoder that maps them back.
 *
 * Why not a schema library with a separate fast path: every message is decoded once per delivery
 * and a worker loads every stored plan once, so the decoder must cost about what a hand-written
 * check costs; two descriptions of one shape (a schema and a fast path) had to be held equal by a
 * test and edited together. Here a record decoder is a loop over its field table with no per-field
 * allocation on valid input, and a new field is one row.
 */
import * as v from 'valibot';
import { ID_RULE, isId } from './ids';

/** Returned by a kind's decoder after it reported the problem to the {@link Cx}. */
export const BAD: unique symbol = Symbol('bad');
export type Bad = typeof BAD;
const NO_RECEIVED = { received: false } as const;

/**
 * Decoding state: the problems found, each with its wire path. The path is built only on the way
 * out of a failure (a container prefixes its key to the problems its child reported), so a valid
 * value costs no path bookkeeping at all.
 */
export class Cx {
  readonly issues: { path: (string | number)[]; readonly text: string }[] = [];

  /** Reports that the value here is not what the shape says. */
  bad(expected: string, received?: unknown, options: { readonly received?: boolean } = {}): Bad {
    // Three problems say enough; the rest would only lengthen a stored failure reason.
    if (this.issues.length < 3) {
      this.issues.push({ path: [], text: options.received === false ? expected : `expected ${expected}, received ${describe(received)}` });
    }
    return BAD;
  }

  /** The problems reported since `mark` were found under `key`. Returns false (for `ok = …`). */
  under(key: string | number, mark: number): false {
    for (let i = mark; i < this.issues.length; i++) this.issues[i]?.path.unshift(key);
    return false;
  }

  /** The problems, as the one line an error message carries. */
  describe(): string {
    return this.issues.map((i) => `${i.path.length === 0 ? '$' : i.path.join('.')}: ${i.text}`).join('; ');
  }
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'object') return 'an object';
  if (typeof x === 'string') return x.length > 40 ? `a string of ${x.length} characters` : JSON.stringify(x);
  return String(x);
}

/** How one value is read from and written to the wire. */
export interface Kind<D> {
  /** The domain value, or {@link BAD} after reporting to `cx`. */
  readonly decode: (x: unknown, cx: Cx) => D | Bad;
  /** The wire value. */
  readonly encode: (d: D) => unknown;
  /** For a leaf: its predicate (record decoders call it inline rather than through `decode`). */
  readonly test?: (x: unknown) => boolean;
  /** For a leaf: what it expects, for the error message. */
  readonly expected?: string;
  /**
   * True when a valid wire value IS its domain value (same object, nothing renamed): its decoder
   * returns its input and its encoder is the identity, so containers need not copy it.
   */
  readonly identity: boolean;
}

/** The domain type a kind decodes to. */
export type Domain<K> = K extends Kind<infer D> ? D : never;

/** A leaf value checked by a predicate and passed through unchanged. */
export function leaf<D>(test: (x: unknown) => boolean, expected: string): Kind<D> {
  return {
    decode: (x, cx) => (test(x) ? (x as D) : cx.bad(expected, x)),
    encode: (d) => d,
    identity: true,
    test,
    expected,
  };
}

/**
 * A value checked by a valibot schema (for rare fields whose rule valibot already words, e.g. ISO
 * times). `identity`: the schema returns its input (a string pipe does; a tuple copies).
 */
export function fromSchema<S extends v.GenericSchema>(schema: S, options: { readonly identity?: boolean } = {}): Kind<v.InferOutput<S>> {
  return {
    decode: (x, cx) => {
      const r = v.safeParse(schema, x);
      if (r.success) return r.output;
      for (const issue of r.issues.slice(0, 3)) {
        const mark = cx.issues.length;
        cx.bad(issue.message, undefined, { received: false });
        for (const p of [...(issue.path ?? [])].reverse()) cx.under(String(p.key), mark);
      }
      return BAD;
    },
    encode: (d) => d,
    identity: options.identity === true,
  };
}

export const literal = <const L extends string | number | boolean>(value: L): Kind<L> => leaf<L>((x) => x === value, JSON.stringify(value));

export const nullable = <D>(kind: Kind<D>): Kind<D | null> => ({
  decode: (x, cx) => (x === null ? null : kind.decode(x, cx)),
  encode: (d) => (d === null ? null : kind.encode(d)),
  identity: kind.identity,
});

export const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
export const isNat = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

export const id: Kind<string> = leaf<string>(isId, `an id (${ID_RULE})`);
/** Counts and node indexes: safe non-negative integers (a `retries` of 1e300 is a lie, not a count). */
export const nat: Kind<number> = leaf<number>(isNat, 'a non-negative safe integer');
export const bool: Kind<boolean> = leaf<boolean>((x) => typeof x === 'boolean', 'a boolean');
export const num: Kind<number> = leaf<number>((x) => typeof x === 'number', 'a number');
export const str: Kind<string> = leaf<string>((x) => typeof x === 'string', 'a string');
/** A string of `min`..`max` characters (task and queue names). */
export const name = (min: number, max: number): Kind<string> =>
  leaf<string>((x) => typeof x === 'string' && x.length >= min && x.length <= max, `a string of ${min} to ${max} characters`);

/** A list of `item`s, at most `max` long. An identity item list is returned as is (no copy). */
export function array<D>(item: Kind<D>, max: number = Number.POSITIVE_INFINITY): Kind<readonly D[]> {
  return {
    decode: (x, cx) => {
      if (!Array.isArray(x)) return cx.bad('an array', x);
      if (x.length > max) return cx.bad(`at most ${max} items`, `${x.length} items`);
      const out: D[] | undefined = item.identity ? undefined : new Array<D>(x.length);
      let ok = true;
      for (let i = 0; i < x.length; i++) {
        const mark = cx.issues.length;
        const d = item.decode(x[i], cx);
        if (d === BAD) ok = cx.under(i, mark);
        else if (out !== undefined) out[i] = d;
      }
      if (!ok) return BAD;
      return out ?? (x as D[]);
    },
    encode: item.identity ? (d) => d : (d) => d.map(item.encode),
    identity: item.identity,
  };
}

/** One field of a record: its wire key, its kind, and whether it may be absent. */
export interface Field<D, O extends boolean> {
  readonly key: string;
  readonly kind: Kind<D>;
  readonly optional: O;
}
/** A required field, `key` on the wire. */
export const req = <D>(key: string, kind: Kind<D>): Field<D, false> => ({ key, kind, optional: false });
/** An optional field, `key` on the wire (absent, never null, when unset). */
export const opt = <D>(key: string, kind: Kind<D>): Field<D, true> => ({ key, kind, optional: true });

// biome-ignore lint/suspicious/noExplicitAny: a field of any kind (Kind is invariant in its type)
type AnyField = Field<any, boolean>;
/** The domain object a field table decodes to. */
export type RecordOf<F extends Record<string, AnyField>> = {
  readonly [K in keyof F as F[K]['optional'] extends false ? K : never]: F[K] extends Field<infer D, boolean> ? D : never;
} & {
  readonly [K in keyof F as F[K]['optional'] extends false ? never : K]?: F[K] extends Field<infer D, boolean> ? D : never;
} extends infer R
  ? { readonly [K in keyof R]: R[K] }
  : never;

/** Wire keys and domain names go into generated code: only plain identifiers are accepted. */
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * An object shape from its field table: `{ domainName: req('wireKey', kind) | opt(…) }`.
 * Unknown wire keys are dropped (a newer writer may add fields), unless `exact` (continuation
 * frames and references, whose every key means something: an extra one is a forgery).
 *
 * The decoder and encoder are generated from the table once, at load: straight-line code with
 * one fixed property read per field and leaf checks called inline, as fast as the hand-written
 * checks it replaces (every message is decoded once per delivery, every frame on every hop).
 */
export function record<F extends Record<string, AnyField>>(fields: F, options: { readonly exact?: boolean } = {}): Kind<RecordOf<F>> {
  const table = Object.entries(fields).map(([domainName, f]) => ({ name: domainName, key: f.key, kind: f.kind, optional: f.optional }));
  for (const f of table) {
    // An inherited name (`constructor`, `toString`) would be read off Object.prototype.
    if (!IDENTIFIER.test(f.key) || !IDENTIFIER.test(f.name) || f.key in Object.prototype || f.name in Object.prototype) {
      throw new Error(`record field ${f.name} → ${f.key}: not a plain, uninherited identifier`);
    }
  }
  const exact = options.exact === true;
  const kinds = table.map((f) => f.kind);
  const wanted = table.map((f) => f.key + (f.optional ? '?' : '')).join(', ');
  const decodeBody = table
    .map((f, i) => {
      const read = `const v${i} = x.${f.key};`;
      const missing = f.optional
        ? ''
        : `const m = cx.issues.length; cx.bad('missing (required)', undefined, NO_RECEIVED); ok = cx.under(${JSON.stringify(f.key)}, m);`;
      const check =
        f.kind.test !== undefined
          ? `if (K[${i}].test(v${i})) out.${f.name} = v${i}; else { const m = cx.issues.length; cx.bad(K[${i}].expected, v${i}); ok = cx.under(${JSON.stringify(f.key)}, m); }`
          : `const m = cx.issues.length; const d = K[${i}].decode(v${i}, cx); if (d === BAD) ok = cx.under(${JSON.stringify(f.key)}, m); else out.${f.name} = d;`;
      return `${read}\n if (v${i} === undefined) { ${missing} } else { seen++; ${check} }`;
    })
    .join('\n');
  const decodeSource = `return function decode(x, cx) {
    if (typeof x !== 'object' || x === null || Array.isArray(x)) return cx.bad('an object', x);
    let ok = true;
    let seen = 0;
    const out = {};
    ${decodeBody}
    ${exact ? `if (Object.keys(x).length !== seen) ok = extra(x, cx);` : 'void seen;'}
    return ok ? out : BAD;
  };`;
  const known = new Set(table.map((f) => f.key));
  const extra = (x: Record<string, unknown>, cx: Cx): false => {
    const found = Object.keys(x).filter((key) => !known.has(key));
    cx.bad(`no key other than ${wanted}; found ${found.join(', ')}`, undefined, NO_RECEIVED);
    return false;
  };
  const renames = table.some((f) => f.name !== f.key || !f.kind.identity);
  const encodeSource = `return function encode(d) {
    const out = {};
    ${table
      .map((f, i) => `if (d.${f.name} !== undefined) out.${f.key} = ${f.kind.identity ? `d.${f.name}` : `K[${i}].encode(d.${f.name})`};`)
      .join('\n')}
    return out;
  };`;
  // Generated from the table above, whose keys were checked to be plain identifiers.
  const decode = new Function('K', 'BAD', 'NO_RECEIVED', 'extra', decodeSource)(kinds, BAD, NO_RECEIVED, extra) as Kind<
    RecordOf<F>
  >['decode'];
  const encode = renames ? (new Function('K', encodeSource)(kinds) as Kind<RecordOf<F>>['encode']) : (d: RecordOf<F>) => d;
  return { decode, encode, identity: false };
}

/**
 * One of several shapes, chosen by a look at the wire value (`pickWire`) or at the domain value
 * (`pickDomain`); `expected` words the refusal of a value that is none of them.
 */
export function oneOf<D>(
  pickWire: (x: Record<string, unknown>) => Kind<D> | undefined,
  pickDomain: (d: D) => Kind<D>,
  expected: string,
): Kind<D> {
  return {
    decode: (x, cx) => {
      const kind = isPlainObject(x) ? pickWire(x) : undefined;
      return kind === undefined ? cx.bad(expected, x) : kind.decode(x, cx);
    },
    encode: (d) => pickDomain(d).encode(d),
    identity: false,
  };
}

/** Remembers each domain object's wire form (a plan sent inline on many messages is encoded once). */
export function encodedOnce<D extends object>(kind: Kind<D>): Kind<D> {
  const cache = new WeakMap<D, unknown>();
  return {
    decode: kind.decode,
    encode: (d) => {
      let wire = cache.get(d);
      if (wire === undefined) {
        wire = kind.encode(d);
        cache.set(d, wire);
      }
      return wire;
    },
    identity: kind.identity,
  };
}

/** Decodes `x` as `kind`: the domain value, or the problems (wire paths) as one line. */
export function decodeWith<D>(
  kind: Kind<D>,
  x: unknown,
): { readonly ok: true; readonly value: D } | { readonly ok: false; readonly issues: string } {
  const cx = new Cx();
  const d = kind.decode(x, cx);
  return d === BAD ? { ok: false, issues: cx.describe() } : { ok: true, value: d };
}

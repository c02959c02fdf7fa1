/**
 * The JSON safety check every message and result goes through: the fast yes/no pass and the pass
 * that names the offending path must always agree.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assertSafeJson, findUnsafeJson, isSafeJson } from '../../../lib/protocol/json';

/** JSON-ish values salted with what the check must refuse. */
const hostile = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom<unknown>(null, true, 0, -1.5, '', 'ok', Number.NaN, Number.POSITIVE_INFINITY, '\uD800', 'a\uDC00b', undefined, 1n),
    fc.string(),
    fc.double(),
    fc.date(),
    fc.array(tie('value'), { maxLength: 4 }),
    // Own keys, as JSON.parse makes them: `{"__proto__": …}` is an own property there, not a prototype.
    fc
      .uniqueArray(fc.tuple(fc.constantFrom('a', 'b', '__proto__', 'constructor', 'prototype', 'x y'), tie('value')), {
        maxLength: 3,
        selector: ([k]) => k,
      })
      .map((entries) => {
        const o: Record<string, unknown> = {};
        for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
        return o;
      }),
  ),
}));

describe('assertSafeJson / isSafeJson', () => {
  it('the fast check and the path-naming check agree on every value', () => {
    fc.assert(
      fc.property(hostile.value, fc.integer({ min: 0, max: 6 }), (v, depth) => {
        expect(isSafeJson(v, depth)).toBe(findUnsafeJson(v, depth) === undefined);
      }),
      { numRuns: 2_000 },
    );
  });

  it('names the offending path when it refuses', () => {
    expect(() => assertSafeJson({ a: [1, { b: '\uD800' }] })).toThrow(/\$\.a\[1\]\.b/);
    expect(() => assertSafeJson(JSON.parse('{"x":{"__proto__":1}}'))).toThrow(/"__proto__" at \$\.x/);
    expect(() => assertSafeJson([[[1]]], 2)).toThrow(/deeper than 2 levels at \$\[0\]\[0\]/);
  });

  it('accepts plain JSON', () => {
    expect(isSafeJson({ a: [1, 'two', null, true, { b: -0.5 }] })).toBe(true);
  });
});

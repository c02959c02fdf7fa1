/**
 * The one owner of sizes (lib/protocol/limits.ts): bytes are counted exactly whenever a value may
 * be over a limit, and the offload decision weighs a value's JSON text, in UTF-8 bytes.
 */
import { describe, expect, it } from 'vitest';
import { MemoryPayloadStore } from '../../../lib/adapters/memory';
import { bytesOver, jsonOver } from '../../../lib/protocol/limits';
import { offloadText, pointerOf, resolveValue } from '../../../lib/protocol/payload';

describe('bytesOver', () => {
  it('is undefined at or under the limit and the exact UTF-8 size over it', () => {
    expect(bytesOver('a'.repeat(100), 100)).toBeUndefined();
    expect(bytesOver('a'.repeat(101), 100)).toBe(101);
    // 40 characters of 3 bytes each: 120 bytes, over a limit of 100 though only 40 UTF-16 units.
    expect(bytesOver('€'.repeat(40), 100)).toBe(120);
    expect(bytesOver('€'.repeat(33), 100)).toBeUndefined();
  });
});

describe('jsonOver and the offload decision', () => {
  it('weighs the JSON text: quotes and escapes count, scalars never go', () => {
    expect(jsonOver('a'.repeat(98), 100)).toBeUndefined(); // 100 bytes with its quotes
    expect(jsonOver('a'.repeat(99), 100)?.bytes).toBe(101);
    expect(jsonOver('\u0001'.repeat(20), 100)?.bytes).toBe(122); // \u0001 is 6 bytes escaped
    expect(jsonOver({ k: 'é'.repeat(60) }, 100)?.bytes).toBe(128);
    expect(jsonOver(1e300, 1)).toBeUndefined();
    expect(jsonOver(null, 1)).toBeUndefined();
  });

  it('never offloads a reference again, and reads back what it stored', async () => {
    const store = new MemoryPayloadStore({ prefix: 'app' });
    const value = { blob: 'x'.repeat(200) };
    const text = offloadText(value, 100) as string;
    const ref = await store.put('t/result-1', text);
    const pointer = pointerOf(ref);
    expect(offloadText(pointer, 10)).toBeUndefined();
    expect(await resolveValue(store, pointer)).toEqual(value);
    // A list holding references (a chord body's member results) is resolved member by member.
    expect(await resolveValue(store, [pointer, 3, pointer])).toEqual([value, 3, value]);
  });
});

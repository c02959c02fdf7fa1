/**
 * The one owner of sizes (lib/protocol/limits.ts): bytes are counted exactly whenever a value may
 * be over a limit, the offload decision weighs a value's JSON text, in UTF-8 bytes, and a call's
 * payload reads are bounded by a share of its function's memory.
 */
import { describe, expect, it } from 'vitest';
import { MemoryPayloadStore } from '../../../lib/adapters/memory';
import { workerSettingsFromEnv } from '../../../lib/config';
import type { Json } from '../../../lib/protocol/json';
import { bytesOver, jsonOver, payloadReadBudget } from '../../../lib/protocol/limits';
import { offloadText, pointerOf, ReadBudget, resolveValue } from '../../../lib/protocol/payload';

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

describe('the payload read budget', () => {
  it('is a quarter of the function’s memory as Lambda names it, and unbounded without one', () => {
    expect(payloadReadBudget(workerSettingsFromEnv({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024' }).memoryMb)).toBe(256 * 1_048_576);
    expect(payloadReadBudget(workerSettingsFromEnv({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '128' }).memoryMb)).toBe(32 * 1_048_576);
    for (const v of [undefined, '', 'lots', '0', '-5', '1.5']) {
      expect(payloadReadBudget(workerSettingsFromEnv({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: v }).memoryMb)).toBe(Number.POSITIVE_INFINITY);
    }
  });

  it('takes each level’s sizes before fetching it: a value over it is refused with nothing read', async () => {
    const store = new MemoryPayloadStore({ prefix: 'app' });
    const members = await Promise.all(
      [1, 2, 3].map(async (i) => pointerOf(await store.put(`m${i}/result-x`, JSON.stringify('x'.repeat(98))))),
    );
    const budget = new ReadBudget(250);
    await expect(resolveValue(store, members, budget)).rejects.toMatchObject({ code: 'PAYLOAD_OVER_BUDGET', retryable: false });
    // Nothing was taken by the refusal: two members (200 bytes) still fit, then nothing more.
    expect(await resolveValue(store, members.slice(0, 2), budget)).toEqual(['x'.repeat(98), 'x'.repeat(98)]);
    await expect(resolveValue(store, members[2] as Json, budget)).rejects.toMatchObject({ code: 'PAYLOAD_OVER_BUDGET' });
  });
});

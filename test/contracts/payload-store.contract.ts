/**
 * The PayloadStore contract: what a stored payload reference promises, and what deleting a
 * task's folder removes (all of it, nothing beside it), held by the memory adapter and by the S3
 * adapter against fauxqs's S3.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../lib/errors';
import type { PayloadStore } from '../../lib/ports';

export interface PayloadStoreHarness {
  /** A store over a fresh prefix. */
  newStore(prefix: string): PayloadStore | Promise<PayloadStore>;
  /** Overwrites a stored object behind the store's back (corruption, tampering). */
  overwrite(store: PayloadStore, key: string, text: string): Promise<void>;
}

const MiB = 1_048_576;

export function payloadStoreContract(name: string, setup: () => PayloadStoreHarness | Promise<PayloadStoreHarness>): void {
  describe(`PayloadStore contract: ${name}`, () => {
    let h: PayloadStoreHarness;
    let store: PayloadStore;
    let other: PayloadStore;
    beforeAll(async () => {
      h = await setup();
      const app = `app-${randomUUID().slice(0, 8)}`;
      store = await h.newStore(app);
      other = await h.newStore(`${app}-other`);
    });

    it('returns what was put, under a key in the store’s prefix, with its size and digest', async () => {
      const text = JSON.stringify({ greeting: 'héllo', emoji: '🥕', n: [1, 2, 3] });
      const ref = await store.put('root-1/task-1/args', text);
      expect(ref.key).toBe(`${store.prefix}/root-1/task-1/args`);
      expect(ref.bytes).toBe(Buffer.byteLength(text, 'utf8'));
      expect(ref.sha256).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(await store.get(ref)).toBe(text);
    });

    it('keeps a 5 MiB payload byte for byte', async () => {
      const text = JSON.stringify('x'.repeat(5 * MiB - 10) + 'é');
      const ref = await store.put('big/one/result', text);
      expect(ref.bytes).toBe(5 * MiB - 10 + 4);
      expect(await store.get(ref)).toBe(text);
    });

    it('a second put under the same path replaces the object; the earlier reference is then refused as corrupt', async () => {
      const first = await store.put('p/again/args', '"one"');
      const second = await store.put('p/again/args', '"two"');
      expect(await store.get(second)).toBe('"two"');
      await expect(store.get(first)).rejects.toMatchObject({ code: ErrorCodes.PAYLOAD_CORRUPT, retryable: false });
    });

    it('a put of the same text again (a redelivery) leaves every reference to it valid', async () => {
      const a = await store.put('p/same/args', '[1,2]');
      const b = await store.put('p/same/args', '[1,2]');
      expect(b).toEqual(a);
      expect(await store.get(a)).toBe('[1,2]');
    });

    it('refuses a reference to nothing with PAYLOAD_NOT_FOUND, not retryable', async () => {
      const ref = { key: `${store.prefix}/never/written`, bytes: 2, sha256: 'x'.repeat(43) };
      await expect(store.get(ref)).rejects.toMatchObject({ code: ErrorCodes.PAYLOAD_NOT_FOUND, retryable: false });
    });

    it('refuses a reference outside its prefix (another app’s payload) with PAYLOAD_FOREIGN, without reading it', async () => {
      const theirs = await other.put('secret/x/args', '"theirs"');
      await expect(store.get(theirs)).rejects.toMatchObject({ code: ErrorCodes.PAYLOAD_FOREIGN, retryable: false });
      const climbing = { ...theirs, key: `${store.prefix}/../${theirs.key}` };
      await expect(store.get(climbing)).rejects.toMatchObject({ code: ErrorCodes.PAYLOAD_FOREIGN });
      await expect(store.delete([theirs.key])).rejects.toMatchObject({ code: ErrorCodes.PAYLOAD_FOREIGN });
      expect(await other.get(theirs)).toBe('"theirs"');
    });

    it('refuses an object changed behind its back (size or digest) with PAYLOAD_CORRUPT', async () => {
      const ref = await store.put('p/tamper/result', '{"total":10}');
      await h.overwrite(store, ref.key, '{"total":99}');
      await expect(store.get(ref)).rejects.toMatchObject({ code: ErrorCodes.PAYLOAD_CORRUPT });
    });

    it('refuses an object of another size than its reference names (PAYLOAD_CORRUPT, not retryable), a much larger one too', async () => {
      const ref = await store.put('p/grown/result', '"small"');
      await h.overwrite(store, ref.key, JSON.stringify('g'.repeat(2 * MiB)));
      await expect(store.get(ref)).rejects.toMatchObject({
        code: ErrorCodes.PAYLOAD_CORRUPT,
        retryable: false,
        message: expect.stringContaining(`${2 * MiB + 2} bytes stored, 7 expected`),
      });
    });

    it('deletes what it is told to (absent keys are fine), in batches past S3’s 1,000 per request', async () => {
      const refs = await Promise.all(Array.from({ length: 1_005 }, (_, i) => store.put(`many/${i}/args`, String(i))));
      await store.delete([...refs.map((r) => r.key), `${store.prefix}/not/there`]);
      for (const r of [refs[0], refs[999], refs[1_004]]) {
        await expect(store.get(r as (typeof refs)[number])).rejects.toMatchObject({ code: ErrorCodes.PAYLOAD_NOT_FOUND });
      }
      await store.delete([]);
    }, 60_000);

    it('deletes a whole folder, past 1,000 objects (more than one listing page), and counts what it deleted', async () => {
      const refs = await Promise.all(Array.from({ length: 1_003 }, (_, i) => store.put(`folder-a/part-${i}`, String(i))));
      const nested = await store.put('folder-a/deeper/still', '"nested"');
      expect(await store.deleteUnder('folder-a')).toBe(1_004);
      for (const r of [refs[0], refs[1_000], refs[1_002], nested]) {
        await expect(store.get(r as (typeof refs)[number])).rejects.toMatchObject({ code: ErrorCodes.PAYLOAD_NOT_FOUND });
      }
      expect(await store.deleteUnder('folder-a')).toBe(0);
    }, 60_000);

    it('deletes nothing outside the folder: not a longer sibling, not the path’s own key, not another prefix’s same path', async () => {
      const inside = await store.put('t-1/result-x', '"mine"');
      const sibling = await store.put('t-10/result-x', '"sibling"');
      const own = await store.put('t-1', '"the path itself"');
      const theirs = await other.put('t-1/result-x', '"theirs"');
      expect(await store.deleteUnder('t-1')).toBe(1);
      await expect(store.get(inside)).rejects.toMatchObject({ code: ErrorCodes.PAYLOAD_NOT_FOUND });
      expect(await store.get(sibling)).toBe('"sibling"');
      expect(await store.get(own)).toBe('"the path itself"');
      expect(await other.get(theirs)).toBe('"theirs"');
    });

    it('refuses to delete under a path that would climb out of the prefix or is empty, deleting nothing', async () => {
      const kept = await store.put('kept/x', '1');
      for (const path of ['', '/', '/abs', '..', 'a/../..', 'a//b', '.']) {
        await expect(store.deleteUnder(path)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGS });
      }
      expect(await store.get(kept)).toBe('1');
    });

    it('refuses a path that would climb out of the prefix or is empty', async () => {
      for (const path of ['', '/abs', 'a/../b', 'a//b', '.']) {
        await expect(store.put(path, '1')).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGS });
      }
    });
  });
}

import { createHash } from 'node:crypto';

/**
 * A deterministic UUID-shaped id (v5-style, SHA-1) for something a worker dispatches: the same
 * parent and salt always give the same id, so a redelivered message re-dispatches the same call
 * and the receiving worker recognises it as already done.
 */
export function deriveId(base: string, salt: string | number): string {
  const h = createHash('sha1').update(base).update('\u0000').update(String(salt)).digest();
  h[6] = ((h[6] as number) & 0x0f) | 0x50;
  h[8] = ((h[8] as number) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

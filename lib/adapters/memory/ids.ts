import type { Ids } from '../../ports';

export { randomIds } from '../system';

/**
 * Deterministic, well-formed UUID v4s (`00000000-0000-4000-8000-000000000001`, …) for tests and
 * reproducible local runs. `prefix` (≤ 8 hex digits) separates several generators.
 */
export function sequentialIds(prefix = '00000000'): Ids {
  if (!/^[0-9a-f]{1,8}$/.test(prefix)) throw new RangeError('sequentialIds prefix must be 1-8 lowercase hex digits');
  const head = prefix.padStart(8, '0');
  let n = 0;
  return { uuid: () => `${head}-0000-4000-8000-${(++n).toString(16).padStart(12, '0')}` };
}

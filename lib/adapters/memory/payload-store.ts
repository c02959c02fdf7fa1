import type { PayloadRef, PayloadStore } from '../../ports';
import { checkOwnKey, checkPayload, payloadKey, payloadNotFound, payloadRefOf } from '../../protocol/payload';

/** The in-memory twin of the S3 payload store: objects in a map, the same rules. */
export class MemoryPayloadStore implements PayloadStore {
  readonly prefix: string;
  readonly #objects = new Map<string, string>();

  constructor(opts: { readonly prefix?: string } = {}) {
    this.prefix = opts.prefix ?? 'celeriac';
  }

  async put(path: string, text: string): Promise<PayloadRef> {
    const key = payloadKey(this.prefix, path);
    this.#objects.set(key, text);
    return payloadRefOf(key, text);
  }

  async get(ref: PayloadRef): Promise<string> {
    checkOwnKey(this.prefix, ref.key);
    const text = this.#objects.get(ref.key);
    if (text === undefined) throw payloadNotFound(ref);
    return checkPayload(ref, text);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) checkOwnKey(this.prefix, key);
    for (const key of keys) this.#objects.delete(key);
  }

  async deleteUnder(path: string): Promise<number> {
    const folder = `${payloadKey(this.prefix, path)}/`;
    let n = 0;
    for (const key of [...this.#objects.keys()]) if (key.startsWith(folder) && this.#objects.delete(key)) n++;
    return n;
  }

  /** Keys stored now (tests: nothing left behind). */
  keys(): string[] {
    return [...this.#objects.keys()];
  }
}

/** A memory backend with a memory payload store and a worker, driven batch by batch (the large-input specs). */
import { type MemoryBackend, MemoryPayloadStore, memoryBackend } from '../../lib/adapters/memory';
import type { App } from '../../lib/app';
import { createApp as createCoreApp } from '../../lib/app';
import { sqsEvent } from '../../lib/local/poller';
import type { PayloadStore } from '../../lib/ports';
import { createWorker, type WorkerOptions } from '../../lib/worker';

export { sqsEvent };
export const quiet = { debug() {}, info() {}, warn() {}, error() {} };

export interface AdvHarness {
  readonly app: App;
  readonly backend: MemoryBackend & { payloads: PayloadStore };
  readonly store: MemoryPayloadStore;
  handler: ReturnType<typeof createWorker>;
  /** Delivers one batch of `queue`; returns failed ids. */
  deliver(queue?: string, o?: { remainingMs?: number; duplicate?: boolean }): Promise<{ delivered: number; failed: string[] }>;
  drain(o?: { duplicate?: boolean; remainingMs?: number }): Promise<number>;
  send(bodies: readonly { id: string; body: unknown }[], queue?: string): Promise<void>;
}

export function advHarness(opts: { name?: string; worker?: WorkerOptions; app?: Record<string, unknown> } = {}): AdvHarness {
  const name = opts.name ?? 'adv';
  const store = new MemoryPayloadStore({ prefix: name });
  const mb = memoryBackend({ pollIntervalMs: 1 });
  const backend = Object.assign(mb, { payloads: store as PayloadStore });
  const app = createCoreApp({ name, backend, logger: quiet, ...(opts.app ?? {}) } as Parameters<typeof createCoreApp>[0]);
  const handler = createWorker(app, opts.worker);
  const deliver = async (queue = 'default', o: { remainingMs?: number; duplicate?: boolean } = {}) => {
    const msgs = await backend.broker.receive(queue, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
    if (msgs.length === 0) return { delivered: 0, failed: [] as string[] };
    const ctx = o.remainingMs !== undefined ? { getRemainingTimeInMillis: () => o.remainingMs as number } : undefined;
    const res = await handler(sqsEvent(queue, msgs), ctx);
    if (o.duplicate) await handler(sqsEvent(queue, msgs), ctx);
    const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
    const ok = msgs.filter((m) => !failed.has(m.messageId)).map((m) => m.receiptHandle);
    if (ok.length > 0) await backend.broker.delete(queue, ok);
    for (const m of msgs) if (failed.has(m.messageId)) await backend.broker.changeVisibility(queue, m.receiptHandle, 0);
    return { delivered: msgs.length, failed: [...failed] };
  };
  const drain = async (o: { duplicate?: boolean; remainingMs?: number } = {}) => {
    let total = 0;
    for (let round = 0; round < 200; round++) {
      let moved = 0;
      for (const q of backend.broker.queueNames()) moved += (await deliver(q, o)).delivered;
      total += moved;
      if (moved === 0) return total;
    }
    throw new Error('drain did not finish');
  };
  const send = async (bodies: readonly { id: string; body: unknown }[], queue = 'default') => {
    await backend.broker.send(bodies.map((b) => ({ queue, id: b.id, body: typeof b.body === 'string' ? b.body : JSON.stringify(b.body) })));
  };
  return { app, backend, store, handler, deliver, drain, send };
}

export const big = (n: number, c = 'a') => c.repeat(n);

/** A minimal in-process event source mapping over the memory broker, for benchmarks. */
import type { MemoryBackend } from '../lib/adapters/memory';
import type { App } from '../lib/app';
import { sqsEvent } from '../lib/local/poller';
import { createWorker } from '../lib/worker';

export function driver(app: App, backend: MemoryBackend) {
  const handler = createWorker(app);
  /** Delivers batches of 10 until no visible message is left; returns how many were delivered. */
  return async function drain(): Promise<number> {
    let total = 0;
    for (;;) {
      let moved = 0;
      for (const q of backend.broker.queueNames()) {
        for (;;) {
          const msgs = await backend.broker.receive(q, { max: 10, visibilityTimeoutSeconds: 60, waitMs: 0 });
          if (msgs.length === 0) break;
          const res = await handler(sqsEvent(q, msgs));
          const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
          await backend.broker.delete(
            q,
            msgs.filter((m) => !failed.has(m.messageId)).map((m) => m.receiptHandle),
          );
          moved += msgs.length;
        }
      }
      total += moved;
      if (moved === 0) return total;
    }
  };
}

export const quiet = { debug() {}, info() {}, warn() {}, error() {} };

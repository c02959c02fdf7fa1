import { type MemoryBackend, memoryBackend } from '../../lib/adapters/memory';
import type { App } from '../../lib/app';
import { createApp as createCoreApp } from '../../lib/app';
import { createWorker, type WorkerOptions } from '../../lib/worker';

/** The SQS event a Lambda event source mapping delivers: local mode's builder, shared. */
export { sqsEvent } from '../../lib/local/poller';

import { sqsEvent } from '../../lib/local/poller';

export interface Harness {
  readonly app: App;
  readonly backend: MemoryBackend;
  /** Delivers messages to the worker until every queue is empty (delayed messages excluded unless `untilIdle`). */
  drain(opts?: { maxRounds?: number; duplicate?: boolean }): Promise<number>;
  /** Delivers one batch from a queue; returns the dispositions. */
  deliver(queue: string, opts?: { max?: number; duplicate?: boolean }): Promise<{ delivered: number; failed: number }>;
  handler: ReturnType<typeof createWorker>;
}

/** An app on a fresh memory backend, and a driver that plays the event source mapping. */
export function harness(opts: { name?: string; worker?: WorkerOptions; app?: Parameters<typeof createCoreApp>[0] } = {}): Harness {
  const backend = memoryBackend({ pollIntervalMs: 1 });
  const app = createCoreApp({ name: opts.name ?? 'test', backend, logger: quietLogger, ...(opts.app ?? {}) });
  const handler = createWorker(app, opts.worker);
  const deliver = async (queue: string, o: { max?: number; duplicate?: boolean } = {}) => {
    const msgs = await backend.broker.receive(queue, { max: o.max ?? 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
    if (msgs.length === 0) return { delivered: 0, failed: 0 };
    const res = await handler(sqsEvent(queue, msgs));
    if (o.duplicate) await handler(sqsEvent(queue, msgs)); // the same batch again: at-least-once delivery
    const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
    const ok = msgs.filter((m) => !failed.has(m.messageId)).map((m) => m.receiptHandle);
    if (ok.length > 0) await backend.broker.delete(queue, ok);
    for (const m of msgs) if (failed.has(m.messageId)) await backend.broker.changeVisibility(queue, m.receiptHandle, 0);
    return { delivered: msgs.length, failed: failed.size };
  };
  const drain = async (o: { maxRounds?: number; duplicate?: boolean } = {}) => {
    let total = 0;
    for (let round = 0; round < (o.maxRounds ?? 10_000); round++) {
      let moved = 0;
      for (const q of backend.broker.queueNames()) {
        const r = await deliver(q, { duplicate: o.duplicate ?? false });
        moved += r.delivered;
      }
      total += moved;
      if (moved === 0) return total;
    }
    throw new Error('drain did not finish');
  };
  return { app, backend, drain, deliver, handler };
}

export const quietLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Records log lines instead of printing them. */
export function recordingLogger() {
  const lines: { level: string; msg: string; extra?: unknown }[] = [];
  const at = (level: string) => (msg: string, extra?: Record<string, unknown>) => {
    lines.push({ level, msg, extra });
  };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

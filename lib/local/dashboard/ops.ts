/**
 * Queue operations over the ports (QueueAdmin, QueueConsumer, Broker): depths, purge, redrive.
 * Shared by the dashboard server (local mode) and the CLI's AWS target, so both behave the same.
 */
import type { Broker, QueueAdmin, QueueConsumer } from '../../ports';

/** A queue and its dead-letter queue, by logical name. */
export interface QueueRef {
  readonly name: string;
  readonly dlq?: string;
}

export interface Depth {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export interface QueueDepth extends Depth {
  readonly name: string;
  readonly dlq?: Depth & { readonly name: string };
}

/** Depths of every queue and its DLQ, read in parallel. */
export async function queueDepths(admin: QueueAdmin, queues: readonly QueueRef[]): Promise<QueueDepth[]> {
  return Promise.all(
    queues.map(async (q) => {
      const [main, dlq] = await Promise.all([admin.depth(q.name), q.dlq === undefined ? undefined : admin.depth(q.dlq)]);
      return { name: q.name, ...main, ...(dlq === undefined || q.dlq === undefined ? {} : { dlq: { name: q.dlq, ...dlq } }) };
    }),
  );
}

/** Visibility timeout while a redriven message is between receive and delete (seconds). */
const REDRIVE_VISIBILITY_SECONDS = 60;

/**
 * Moves every message of `from` (a DLQ) to `to`, ten at a time: receive, send, then delete.
 * Sending before deleting means a crash in between duplicates a message instead of losing it,
 * and duplicates are harmless (the worker's outcome write is the exactly-once guard).
 * Stops when a receive comes back empty, or after `limit` messages.
 */
export async function redrive(
  consumer: QueueConsumer,
  broker: Broker,
  from: string,
  to: string,
  limit = Number.POSITIVE_INFINITY,
): Promise<number> {
  let moved = 0;
  while (moved < limit) {
    const batch = await consumer.receive(from, {
      max: Math.min(10, limit - moved),
      visibilityTimeoutSeconds: REDRIVE_VISIBILITY_SECONDS,
      waitMs: 0,
    });
    if (batch.length === 0) break;
    await broker.send(batch.map((m) => ({ queue: to, body: m.body, id: m.messageId })));
    await consumer.delete(
      from,
      batch.map((m) => m.receiptHandle),
    );
    moved += batch.length;
  }
  return moved;
}

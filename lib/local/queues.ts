/**
 * The topology's queues as local mode runs them: their names (logical, on the service, of the
 * dead-letter queue), their local settings, and what the runtime handle reports about them.
 */
import { CeleriacError, ErrorCodes } from '../errors';
import type { QueueInfo } from '../routing';
import type { FullBroker, LocalBroker } from './broker';
import type { LocalQueueSettings, QueueStatus, StartLocalOptions } from './types';

/** One topology queue as a local backend created it. */
export interface LocalQueue {
  readonly name: string;
  /** Name in ARNs and on the service: `<app>-<queue>` on SQS, so one endpoint can hold many apps. */
  readonly physical: string;
  /** What the broker is given to reach the DLQ: its memory name or its URL. */
  readonly dlqRef: string;
  readonly dlqName: string;
  readonly settings: LocalQueueSettings;
}

/** The concurrency options {@link localQueueSettings} reads. */
export type ConcurrencyOptions = Pick<StartLocalOptions, 'defaultConcurrency' | 'maxLocalConcurrency'>;

/**
 * A queue's dead-letter queue name, the same in every local mode (the dashboard, `inspect`,
 * `purge --dlq` and `redrive` show and take it): `<app>-<queue>-dlq`.
 */
export function dlqNameOf(app: string, queue: string): string {
  return `${app}-${queue}-dlq`;
}

/**
 * A queue's local settings: the topology's, with the concurrency capped, because one process runs
 * every queue (a queue without `maxConcurrency` has no cap on AWS).
 */
export function localQueueSettings(q: QueueInfo, options: ConcurrencyOptions): LocalQueueSettings {
  return {
    batchSize: q.batchSize,
    maxBatchingWindowSeconds: q.maxBatchingWindowSeconds,
    visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
    functionTimeoutSeconds: q.functionTimeoutSeconds,
    maxReceiveCount: q.maxReceiveCount,
    maxConcurrency: Math.min(q.maxConcurrency ?? options.defaultConcurrency ?? 2, options.maxLocalConcurrency ?? 4),
  };
}

/** Every queue's depth (held delays included, from the local broker) and its DLQ's (from the adapter). */
export function queueStatuses(queues: readonly LocalQueue[], broker: LocalBroker, inner: FullBroker): Promise<QueueStatus[]> {
  return Promise.all(
    queues.map(async (q) => {
      const [d, dl] = await Promise.all([broker.depth(q.name), inner.depth(q.dlqRef)]);
      return {
        name: q.name,
        deadLetterQueue: q.dlqName,
        visible: d.visible,
        inFlight: d.inFlight,
        delayed: d.delayed,
        deadLetters: dl.visible + dl.inFlight + dl.delayed,
        settings: q.settings,
      };
    }),
  );
}

/** Bodies of up to `max` (≤ 10) messages in a queue's DLQ, left in place. */
export async function deadLetterBodies(
  app: string,
  queues: readonly LocalQueue[],
  inner: FullBroker,
  queue: string,
  max: number,
): Promise<string[]> {
  const q = queues.find((x) => x.name === queue);
  if (q === undefined) throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `no queue "${queue}" in app "${app}"`);
  // Visibility 0: looking does not hide them from the next look (or a redrive).
  const msgs = await inner.receive(q.dlqRef, { max: Math.min(10, Math.max(1, max)), visibilityTimeoutSeconds: 0, waitMs: 0 });
  return msgs.map((m) => m.body);
}

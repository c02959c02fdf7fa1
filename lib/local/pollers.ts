/**
 * The event source mappings of the topology: one {@link QueuePoller} per queue, every one invoking
 * the same handler (the app's worker, optionally wrapped).
 */
import type { LocalBroker } from './broker';
import { QueuePoller, type SqsHandler } from './poller';
import type { LocalQueue } from './queues';
import type { LocalMode, StartLocalOptions } from './types';

/** What the pollers share. */
export interface PollersConfig {
  readonly mode: LocalMode;
  readonly broker: LocalBroker;
  readonly handler: SqsHandler;
  readonly region: string;
  readonly options: Pick<StartLocalOptions, 'pollWaitMs' | 'failedItemVisibilitySeconds'>;
  readonly onBatch: () => void;
  readonly onError: (message: string, error: unknown, extra?: Record<string, unknown>) => void;
}

/** Creates and starts one poller per queue. */
export function startPollers(queues: readonly LocalQueue[], c: PollersConfig): QueuePoller[] {
  // An idle poller's long poll bounds how long stop() leaves a poll behind; memory polls are cheap.
  const waitMs = c.options.pollWaitMs ?? (c.mode === 'memory' ? 250 : 1_000);
  const pollers = queues.map(
    (q) =>
      new QueuePoller({
        queue: q.name,
        arnQueueName: q.physical,
        consumer: c.broker,
        handler: c.handler,
        settings: q.settings,
        region: c.region,
        waitMs,
        failedItemVisibilitySeconds: c.options.failedItemVisibilitySeconds ?? 1,
        onBatch: c.onBatch,
        onError: c.onError,
      }),
  );
  for (const p of pollers) p.start();
  return pollers;
}

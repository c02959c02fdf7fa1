/**
 * `memory` mode's backend: the in-memory adapters. Fastest, least faithful: no wire protocol, no
 * table; the queues still get the topology's redrive policy.
 */
import { randomUUID } from 'node:crypto';
import { MemoryPayloadStore, memoryBackend } from '../../adapters/memory';
import { dlqNameOf, type LocalQueue, localQueueSettings } from '../queues';
import { runStopSequence, stopStep } from '../stop';
import type { BackendContext, LocalBackend } from './backend';

/** Starts `memory` mode's backend; the queues are named as in the topology, with `<app>-<queue>-dlq` DLQs. */
export async function startMemoryBackend(ctx: BackendContext): Promise<LocalBackend> {
  const { topology } = ctx;
  const mb = memoryBackend({ pollIntervalMs: 5 });
  const queues: LocalQueue[] = topology.queues.map((q) => {
    const dlq = dlqNameOf(topology.app, q.name);
    mb.broker.configureQueue(q.name, { redrive: { queue: dlq, maxReceiveCount: q.maxReceiveCount } });
    return { name: q.name, physical: q.name, dlqRef: dlq, dlqName: dlq, settings: localQueueSettings(q, ctx.options) };
  });
  // The memory publisher assigns no ids; EventBridge would.
  const unsubscribe = mb.events.subscribe((batch) => ctx.onEvents(batch.map((e) => ({ ...e, id: randomUUID() }))));
  return {
    inner: mb.broker,
    ports: {
      store: mb.store,
      events: mb.events,
      ids: mb.ids,
      pollIntervalMs: 5,
      ...(mb.flow ? { flow: mb.flow } : {}),
      // Large payloads stay in memory too, under the app's prefix as on S3.
      payloads: new MemoryPayloadStore({ prefix: topology.app }),
    },
    queues,
    resources: {
      app: topology.app,
      table: undefined,
      bus: `celeriac-${topology.app}`,
      queueUrls: Object.fromEntries(queues.map((q) => [q.name, q.physical])),
      dlqUrls: Object.fromEntries(queues.map((q) => [q.name, q.dlqRef])),
    },
    endpoints: {},
    stop: () => runStopSequence([stopStep('memory event subscription', unsubscribe, (u) => u())], ctx.onStopError),
  };
}

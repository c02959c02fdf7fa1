/**
 * In-memory adapters, one per port: fast, single-process, no network. Used by unit tests, by
 * `startLocal(app, { mode: 'memory' })`, and by benchmarks. Semantics follow the AWS adapters
 * (the same contract suites run against both), limits included.
 */
import type { Backend, Clock, Ids } from '../../ports';
import { MemoryBroker } from './broker';
import { systemClock } from './clock';
import { MemoryEventPublisher, type MemoryEventPublisherOptions } from './event-publisher';
import { randomIds } from './ids';
import { MemoryResultStore } from './result-store';

export { MemoryBroker, type MemoryBrokerOptions, type MemoryRedrivePolicy, type SendListener } from './broker';
export { type AbortableClock, type FakeClock, fakeClock, sleepOn, systemClock } from './clock';
export { type BusListener, MemoryEventPublisher, type MemoryEventPublisherOptions } from './event-publisher';
export { MemoryFlowControl } from './flow-control';

import { MemoryFlowControl } from './flow-control';

export { randomIds, sequentialIds } from './ids';
export { MemoryPayloadStore } from './payload-store';
export { MemoryResultStore } from './result-store';

export interface MemoryBackendOptions {
  readonly clock?: Clock;
  readonly ids?: Ids;
  /** Default polling interval for `get()` (ms); small, since reads cost nothing here. Default 5. */
  readonly pollIntervalMs?: number;
  readonly events?: MemoryEventPublisherOptions;
}

/** A {@link Backend} whose parts are the concrete memory adapters (consumer and admin sides included). */
export interface MemoryBackend extends Backend {
  readonly kind: 'memory';
  readonly broker: MemoryBroker;
  readonly store: MemoryResultStore;
  readonly events: MemoryEventPublisher;
  readonly clock: Clock;
  readonly ids: Ids;
}

/**
 * Builds a fresh in-memory backend. Each call has its own queues, results and events.
 *
 * @example
 * ```ts
 * const backend = memoryBackend({ clock: fakeClock() });
 * await backend.broker.send([{ queue: 'default', id: 't1', body: '{}' }]);
 * const [msg] = await backend.broker.receive('default', { max: 1, visibilityTimeoutSeconds: 30, waitMs: 0 });
 * ```
 */
export function memoryBackend(opts: MemoryBackendOptions = {}): MemoryBackend {
  const clock = opts.clock ?? systemClock;
  const ids = opts.ids ?? randomIds;
  return {
    kind: 'memory',
    broker: new MemoryBroker({ clock, ids }),
    store: new MemoryResultStore(),
    flow: new MemoryFlowControl(),
    events: new MemoryEventPublisher(opts.events),
    clock,
    ids,
    pollIntervalMs: opts.pollIntervalMs ?? 5,
  };
}

/**
 * What a local backend factory is given and what it returns. There is one factory per mode
 * (lib/local/backends/memory.ts, emulated.ts, localstack.ts); each creates the topology's queues,
 * dead-letter queues and table, brings the app's published events to the local bus, and stops
 * what it started.
 */
import type { Backend } from '../../ports';
import type { Topology } from '../../routing';
import type { Logger } from '../../runtime/app-port';
import type { FullBroker } from '../broker';
import type { IncomingBusEvent } from '../bus';
import type { LocalQueue } from '../queues';
import type { StopErrorReporter } from '../stop';
import type { LocalTime } from '../time';
import type { LocalEndpoints, LocalResources, StartLocalOptions } from '../types';

/** What every backend factory is given. */
export interface BackendContext {
  readonly topology: Topology;
  readonly options: StartLocalOptions;
  /** Local time: the clock of the AWS adapters, and the time of a captured event that has none. */
  readonly time: LocalTime;
  readonly logger: Logger;
  /** Where the events the app publishes go (the local bus): each with the id EventBridge would give it. */
  readonly onEvents: (events: readonly IncomingBusEvent[]) => void;
  /** Where a failing stop step is reported (stopping goes on). */
  readonly onStopError: StopErrorReporter;
}

/** A started local backend: the app's ports on one machine, and how to stop them. */
export interface LocalBackend {
  /** The adapter's broker, which the local broker wraps (DLQs are read on it directly). */
  readonly inner: FullBroker;
  /** The other ports the app uses: result store, event publisher, ids, result polling interval. */
  readonly ports: Omit<Backend, 'broker' | 'clock' | 'kind'>;
  /** The topology's queues, as created. */
  readonly queues: readonly LocalQueue[];
  readonly resources: LocalResources;
  readonly endpoints: LocalEndpoints;
  /** Stops what this backend started (clients, emulators, endpoints, subscriptions), in its own order. */
  stop(): Promise<void>;
}

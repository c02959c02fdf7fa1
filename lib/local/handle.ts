/**
 * The handle `startLocal` returns ({@link LocalRuntime}), over the parts it started: every method
 * delegates to the part that owns the answer.
 */
import type { Backend } from '../ports';
import type { Topology } from '../routing';
import type { LocalBackend } from './backends';
import type { LocalBroker } from './broker';
import type { LocalBus } from './bus';
import { drain } from './drain';
import type { PeriodicSchedules } from './periodic';
import type { QueuePoller } from './poller';
import { deadLetterBodies, queueStatuses } from './queues';
import type { Activity, LocalTime } from './time';
import type { LocalMode, LocalRuntime, RuleStatus } from './types';

/** The started parts a handle answers from. */
export interface HandleParts {
  readonly mode: LocalMode;
  readonly topology: Topology;
  /** The backend the app uses (the local broker and local time over the local backend's ports). */
  readonly backend: Backend;
  readonly local: LocalBackend;
  readonly broker: LocalBroker;
  readonly bus: LocalBus;
  readonly pollers: readonly QueuePoller[];
  readonly periodic: PeriodicSchedules;
  readonly time: LocalTime;
  readonly activity: Activity;
  /** Stops the runtime; the same promise for every call. */
  readonly stop: () => Promise<void>;
}

/** Builds the handle of a started local runtime. */
export function runtimeHandle(h: HandleParts): LocalRuntime {
  const { local, broker, bus, time, topology } = h;
  return {
    mode: h.mode,
    backend: h.backend,
    topology,
    endpoints: local.endpoints,
    resources: local.resources,
    get events() {
      return bus.events;
    },
    drain: (o) => drain({ activity: h.activity, time, broker, inner: local.inner, queues: local.queues, pollers: h.pollers, bus }, o),
    tick: (ms) => time.advance(ms),
    now: () => time.now(),
    subscribe: (listener, pattern) => bus.subscribe(listener, pattern),
    queues: () => queueStatuses(local.queues, broker, local.inner),
    deadLetters: (queue, max = 10) => deadLetterBodies(topology.app, local.queues, local.inner, queue, max),
    held: () => broker.held(),
    rules: () => ruleStatuses(topology, bus),
    schedules: () => h.periodic.status(),
    stop: h.stop,
  };
}

/** The topology's rules with how often the local bus delivered each. */
function ruleStatuses(topology: Topology, bus: LocalBus): RuleStatus[] {
  const counts = bus.deliveries();
  return topology.rules.map((r) => ({ name: r.name, description: r.description, target: r.target, delivered: counts.get(r.name) ?? 0 }));
}

/**
 * Stopping local mode. A stop sequence is an explicit, ordered list of named steps run one after
 * the other: the order is written down once, with the reason for it, instead of following from
 * the order things happened to start in. A step whose part never started (a start that failed
 * half-way) is skipped; a step that fails is reported and the next one still runs, so one stuck
 * component does not leave the others running and the process open.
 */
import type { App } from '../app';
import { CeleriacError, ErrorCodes } from '../errors';
import type { LocalBroker } from './broker';
import type { LocalBus } from './bus';
import type { QueuePoller } from './poller';
import type { LocalTime } from './time';

/** One named step of a stop sequence. */
export interface StopStep {
  /** What it stops, named in the report when it fails. */
  readonly name: string;
  /** Undefined when the part it stops was never started. */
  readonly run: (() => unknown) | undefined;
}

/** Where a failed step is reported: the step's name and what it threw. */
export type StopErrorReporter = (step: string, error: unknown) => void;

/** A step stopping `part` with `stop`; skipped when `part` is undefined (it never started). */
export function stopStep<T>(name: string, part: T | undefined, stop: (part: T) => unknown): StopStep {
  return { name, run: part === undefined ? undefined : () => stop(part) };
}

/** Runs the steps in the order given, each awaited before the next; a failure is reported, not thrown. */
export async function runStopSequence(steps: readonly StopStep[], onError: StopErrorReporter): Promise<void> {
  for (const s of steps) {
    if (s.run === undefined) continue;
    try {
      await s.run();
    } catch (e) {
      onError(s.name, e);
    }
  }
}

/** The parts of a local runtime, each set once it has started: what {@link runtimeStopSequence} stops. */
export interface RuntimeParts {
  time?: LocalTime;
  broker?: LocalBroker;
  pollers?: readonly QueuePoller[];
  bus?: LocalBus;
  /** Set once `app.use(backend)` pointed the app at this runtime. */
  app?: App;
  /** The local backend (structural: the backends use this module's steps for their own stop). */
  backend?: { stop(): Promise<void> };
}

/**
 * How a local runtime stops, in order. Each step's comment says why it comes where it does.
 */
export function runtimeStopSequence(p: Readonly<RuntimeParts>): StopStep[] {
  return [
    // First: no delay or schedule fires into a runtime being taken down (a send already running
    // is waited for).
    stopStep('local timers', p.time, (t) => t.stop()),
    // The held delays those timers would have sent are dropped: like the in-process emulators,
    // local state does not outlive the run.
    stopStep('held delays', p.broker, (b) => b.clear()),
    // Pollers stop receiving and finish their batches while the bus, the store and the emulators
    // those batches use still answer.
    stopStep('pollers', p.pollers, (ps) => Promise.all(ps.map((x) => x.stop()))),
    // After the pollers, whose last batches may still publish: the bus stops taking events and
    // waits for its running deliveries (which may still send to queues).
    stopStep('event bus', p.bus, (b) => b.stop()),
    // Nothing of this runtime calls the backend any more: the app is left without one, so a
    // later dispatch fails clearly instead of reaching stopped services.
    stopStep('app backend', p.app, detachApp),
    // The backend's own sequence: clients, then the emulators and endpoints. Stopping the
    // emulators also ends any long poll still waiting on them.
    stopStep('backend', p.backend, (b) => b.stop()),
    // Last: a poll loop blocked in a long poll exits only when that poll returns or its endpoint
    // is gone, which the step before brings about.
    stopStep('poll loops', p.pollers, (ps) => Promise.all(ps.map((x) => x.closed()))),
  ];
}

/** Leaves the app without a backend: a dispatch after stop throws NOT_CONFIGURED saying why. */
function detachApp(app: App): void {
  app.use(() => {
    throw new CeleriacError(
      ErrorCodes.NOT_CONFIGURED,
      `app "${app.name}": its local runtime was stopped; start it again or call app.use(backend)`,
    );
  });
}

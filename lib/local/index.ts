/**
 * Local mode: an app's whole topology on one machine, with no AWS account and no Docker.
 *
 * `startLocal(app)` builds the topology the CDK stack deploys (`buildTopology(app.topology())`),
 * creates its queues, dead-letter queues and table, points the app at them (`app.use`), and runs
 * the pieces AWS would run: pollers playing the Lambda event source mappings (lib/local/poller.ts),
 * the event bus evaluating the deployed EventBridge rules (lib/local/bus.ts), held delays and
 * periodic schedules on a clock tests can jump (lib/local/time.ts, lib/local/broker.ts,
 * lib/local/periodic.ts). lib/local/README.md maps the modules.
 *
 * Modes:
 * - `emulated` (default): real-protocol stand-ins in this process on free loopback ports —
 *   dynalite (DynamoDB) and fauxqs (SQS) — reached through the AWS adapters (the code that runs on
 *   AWS), and a PutEvents capture endpoint feeding the local bus.
 * - `memory`: the in-memory adapters; fastest, least faithful.
 * - `localstack`: SQS and DynamoDB of a running LocalStack (or any AWS-compatible endpoint); the
 *   bus, pollers and schedules stay local, as in `emulated`.
 */
import type { App } from '../app';
import { CeleriacError, ErrorCodes } from '../errors';
import type { Backend } from '../ports';
import { serializeError } from '../protocol/failure';
import { buildTopology } from '../routing';
import type { Logger } from '../runtime/app-port';
import { createWorker } from '../worker';
import { startBackend } from './backends';
import { LocalBroker } from './broker';
import { LocalBus } from './bus';
import { runtimeHandle } from './handle';
import { startPeriodic } from './periodic';
import { startPollers } from './pollers';
import { type RuntimeParts, runStopSequence, runtimeStopSequence, type StopErrorReporter } from './stop';
import { subscriberLoader } from './subscribers';
import { Activity, LocalTime } from './time';
import type { LocalMode, LocalRuntime, StartLocalOptions } from './types';

export { errbackCallId, linkCallId } from '../routing';
export type { FullBroker, HeldMessage } from './broker';
export type { BusListener, IncomingBusEvent, LocalBusEvent, SubscriberContext, SubscriberHandler } from './bus';
export { LocalBus } from './bus';
export {
  type CapturedEvent,
  EMULATOR_CLIENT_CONFIG,
  type Emulator,
  type EventBridgeEndpoint,
  type EventBridgeEndpointOptions,
  type EventBridgeFailures,
  ensureQueue,
  ensureTable,
  startDynalite,
  startEventBridgeEndpoint,
  startFauxqs,
} from './emulators';
export * from './eventbridge';
export { type LambdaContextLike, LOCAL_ACCOUNT, type PollerSettings, QueuePoller, type SqsHandler, sqsEvent } from './poller';
export { parseSchedule, type Schedule } from './schedule';
export { LocalTime } from './time';

export type {
  DrainOptions,
  DrainReport,
  LocalMode,
  LocalQueueSettings,
  LocalResources,
  LocalRuntime,
  QueueStatus,
  RuleStatus,
  ScheduleStatus,
  StartLocalOptions,
} from './types';

/**
 * Runs an app locally. While it runs, `.delay()` / `.applyAsync()` anywhere in this process
 * dispatch into it.
 *
 * @example
 * ```ts
 * import { startLocal } from 'celeriac/local';
 * import { add, app, report } from './src/app.js';
 *
 * const local = await startLocal(app, { mode: 'emulated' });
 * try {
 *   const r = await chain(add.s(2, 3), add.s(4), report.s()).applyAsync();
 *   console.log(await r.get({ timeoutMs: 10_000 })); // 'total=9'
 *   await local.drain();                             // links, subscribers, callbacks done too
 * } finally {
 *   await local.stop();
 * }
 * ```
 */
export async function startLocal(app: App, options: StartLocalOptions = {}): Promise<LocalRuntime> {
  const mode = checkMode(options.mode);
  const topology = buildTopology(app.topology());
  const logger = options.logger ?? app.logger;
  const region = options.region ?? 'us-east-1';
  const report = errorReporter(logger);
  const activity = new Activity();
  const time = new LocalTime((e) => report('local timer failed', e));
  // What has started so far: a failed start stops exactly that, in the same order as stop().
  const parts: RuntimeParts = { time };
  const onStopError: StopErrorReporter = (step, e) => report('local mode: stopping a component failed', e, { step });
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= runStopSequence(runtimeStopSequence(parts), onStopError);
    return stopped;
  };
  try {
    const local = await startBackend(mode, {
      topology,
      options,
      time,
      logger,
      // Events published before the bus exists (none are, in practice) have nowhere to go.
      onEvents: (events) => parts.bus?.ingest(events),
      onStopError,
    });
    parts.backend = local;
    const broker = new LocalBroker(local.inner, time, activity, new Set(local.queues.map((q) => q.name)), (e, m) =>
      report('local mode: sending a delayed message when due failed; it is dropped', e, { id: m.id, queue: m.queue }),
    );
    parts.broker = broker;
    const queueAliases = new Map(local.queues.map((q) => [q.physical, q.name]));
    const backend: Backend = { ...local.ports, broker, clock: time, kind: mode, queueAliases };
    app.use(backend);
    parts.app = app;
    const worker = createWorker(app);
    const handler = options.wrapHandler ? options.wrapHandler(worker) : worker;
    const bus = new LocalBus({
      topology,
      broker,
      region,
      busName: local.resources.bus,
      clock: time,
      onActivity: () => activity.bump(),
      onError: report,
      loadSubscriber: subscriberLoader(options, logger),
    });
    parts.bus = bus;
    const pollers = startPollers(local.queues, { mode, broker, handler, region, options, onBatch: () => activity.bump(), onError: report });
    parts.pollers = pollers;
    const periodic = startPeriodic(topology.periodic, time, broker, options.periodic);
    return runtimeHandle({ mode, topology, backend, local, broker, bus, pollers, periodic, time, activity, stop });
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The mode asked for, checked (a JavaScript caller can pass anything). */
function checkMode(mode: LocalMode | undefined): LocalMode {
  const m = mode ?? 'emulated';
  if (m !== 'emulated' && m !== 'memory' && m !== 'localstack') {
    throw new CeleriacError(
      ErrorCodes.INVALID_OPTIONS,
      `startLocal: mode must be "emulated", "memory" or "localstack", got "${String(m)}"`,
    );
  }
  return m;
}

/** Where local mode reports its own errors: the logger, with the error serialized. */
function errorReporter(logger: Logger): (message: string, error: unknown, extra?: Record<string, unknown>) => void {
  return (message, error, extra) => {
    logger.error(message, { ...(error === undefined ? {} : { error: serializeError(error) }), ...extra });
  };
}

/**
 * Local mode: an app's whole topology on one machine, with no AWS account and no Docker.
 *
 * `startLocal(app)` builds the topology the CDK stack deploys (`buildTopology(app.topology())`),
 * creates its queues, dead-letter queues and table, points the app at them (`app.use`), and runs
 * the pieces AWS would run: pollers playing the Lambda event source mappings (lib/local/poller.ts),
 * the event bus evaluating the deployed EventBridge rules (lib/local/bus.ts), held delays and
 * periodic schedules on a clock tests can jump (lib/local/time.ts, lib/local/broker.ts).
 *
 * Modes:
 * - `emulated` (default): real-protocol stand-ins in this process on free loopback ports —
 *   dynalite (DynamoDB) and fauxqs (SQS) — reached through the AWS adapters (the code that runs on
 *   AWS), and a PutEvents capture endpoint feeding the local bus.
 * - `memory`: the in-memory adapters; fastest, least faithful.
 * - `localstack`: SQS and DynamoDB of a running LocalStack (or any AWS-compatible endpoint); the
 *   bus, pollers and schedules stay local, as in `emulated`.
 */
import { randomUUID } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type AwsBackend, awsBackend } from '../adapters/aws';
import { memoryBackend } from '../adapters/memory';
import type { App } from '../app';
import { loadConfig } from '../config';
import { CeleriacError, ErrorCodes } from '../errors';
import type { Backend } from '../ports';
import { serializeError } from '../protocol/failure';
import { buildTopology, type QueueInfo, type SubscriberInfo, type Topology, type TopologyRule } from '../routing';
import type { Logger } from '../runtime/app-port';
import { createWorker } from '../worker';
import { type FullBroker, type HeldMessage, LocalBroker } from './broker';
import { type BusListener, LocalBus, type LocalBusEvent, type SubscriberHandler } from './bus';
import {
  EMULATOR_CLIENT_CONFIG,
  type EventBridgeEndpoint,
  ensureQueue,
  ensureTable,
  startDynalite,
  startEventBridgeEndpoint,
  startFauxqs,
} from './emulators';
import { QueuePoller, type SqsHandler } from './poller';
import { parseSchedule } from './schedule';
import { Activity, LocalTime } from './time';

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

/**
 * A queue's dead-letter queue name, the same in every local mode (the dashboard, `inspect`,
 * `purge --dlq` and `redrive` show and take it): `<app>-<queue>-dlq`.
 */
function dlqNameOf(app: string, queue: string): string {
  return `${app}-${queue}-dlq`;
}

/** Where local mode runs the app's queues and table. */
export type LocalMode = 'emulated' | 'memory' | 'localstack';

/** A queue's local settings: the topology's, with local overrides applied. */
export type LocalQueueSettings = Pick<
  QueueInfo,
  'batchSize' | 'maxBatchingWindowSeconds' | 'visibilityTimeoutSeconds' | 'functionTimeoutSeconds' | 'maxReceiveCount'
> & { readonly maxConcurrency: number };

/** Options of {@link startLocal}; every one has a default. */
export interface StartLocalOptions {
  /** Default `emulated`. */
  readonly mode?: LocalMode;
  /** `localstack` mode: the endpoint serving SQS and DynamoDB. Default `http://localhost:4566`. */
  readonly endpoint?: string;
  /** `localstack` mode: per-service endpoints, over `endpoint` (as `AWS_ENDPOINT_URL_<SERVICE>` over `AWS_ENDPOINT_URL`). */
  readonly endpoints?: { readonly sqs?: string; readonly dynamodb?: string };
  /** Region in SQS records (`eventSourceARN`, `awsRegion`) and bus events. Default `us-east-1`. */
  readonly region?: string;
  /** Directory subscriber `entry` paths are relative to. Default `process.cwd()`. */
  readonly root?: string;
  /**
   * Subscriber handlers by subscriber name, used instead of importing the subscriber's `entry`
   * (and the only way to run a subscriber that has none).
   */
  readonly subscribers?: Readonly<Record<string, SubscriberHandler>>;
  /** Wraps the worker handler every poller invokes (fault injection, duplicate delivery, tracing). */
  readonly wrapHandler?: (handler: SqsHandler) => SqsHandler;
  /**
   * Seconds a failed batch item stays invisible before it is redelivered. Default 1: AWS waits
   * for the rest of the visibility timeout (minutes; set this to the queue's visibility timeout or
   * more to get that), which is too slow to develop with — but redelivering at once would let a
   * duplicate whose twin is still running (the worker answers "retry" while the twin holds the
   * lease) burn through maxReceiveCount into the DLQ in milliseconds, which AWS never does.
   */
  readonly failedItemVisibilitySeconds?: number;
  /**
   * Concurrent batches per queue, for queues whose topology sets no `maxConcurrency` (on AWS: no
   * cap). Default 2; a topology value above `maxLocalConcurrency` is capped to it (default 4),
   * because one process runs every queue.
   */
  readonly defaultConcurrency?: number;
  readonly maxLocalConcurrency?: number;
  /**
   * Periodic tasks: `false` turns them off. A rate schedule first fires one period after start
   * (`fireOnStart: true` fires it at start too, as a schedule created without a StartDate does on
   * AWS — but a local restart is not a deploy, so that is not the default).
   */
  readonly periodic?: boolean | { readonly fireOnStart?: boolean };
  /** Where local mode reports its own errors (pollers, bus, delays). Default the app's logger. */
  readonly logger?: Logger;
  /** Long-poll wait of an idle poller (ms): bounds how long `stop()` leaves a poll behind. Default 1000 (memory: 250). */
  readonly pollWaitMs?: number;
}

/** Options of {@link LocalRuntime.drain}. */
export interface DrainOptions {
  /** Give up (throw a TIMEOUT CeleriacError saying what is still busy) after this long. Default 30 000 ms. */
  readonly timeoutMs?: number;
  /**
   * Delayed messages (countdowns, retries, hops of long delays, chord deadline checks) due more
   * than this far in the (local) future are not waited for: drain reports them in `deferred`.
   * Default 60 000 ms. A chord's deadline check sits for a day (`chordDeadlineSeconds`), and a
   * countdown over 15 minutes hops in 900-second steps: neither holds a drain up. Use `tick()` to
   * bring them due.
   */
  readonly horizonMs?: number;
}

/** What {@link LocalRuntime.drain} found. */
export interface DrainReport {
  /** Wall-clock ms the drain took. */
  readonly elapsedMs: number;
  /** Delayed messages due beyond the horizon, left waiting, earliest first. */
  readonly deferred: readonly HeldMessage[];
}

/** One queue's state. */
export interface QueueStatus {
  readonly name: string;
  readonly deadLetterQueue: string;
  readonly visible: number;
  readonly inFlight: number;
  /** Delayed messages: held by local mode, plus any the queue itself holds. */
  readonly delayed: number;
  readonly deadLetters: number;
  readonly settings: LocalQueueSettings;
}

/** One EventBridge rule of the topology and how often local mode delivered it. */
export interface RuleStatus {
  readonly name: string;
  readonly description: string;
  readonly target: TopologyRule['target'];
  readonly delivered: number;
}

/** One periodic task and when it fires next (local time). */
export interface ScheduleStatus {
  readonly name: string;
  readonly task: string;
  readonly schedule: string;
  /** Epoch ms; undefined when the expression has no future occurrence, or schedules are off. */
  readonly nextAt: number | undefined;
  readonly fired: number;
}

/**
 * The names and URLs a deployed stack reports as CDK outputs (cdk/stack.ts: `AppName`,
 * `TableName`, `BusName`, `QueueUrls`, `DlqUrls`), as this runtime has them: what a client in
 * another process needs, with {@link LocalRuntime.endpoints}, to reach it as it would a stack.
 */
export interface LocalResources {
  readonly app: string;
  /** The DynamoDB table (`celeriac-<app>`); undefined in `memory` mode, which has none. */
  readonly table: string | undefined;
  /** The bus name events carry (`celeriac-<app>`). */
  readonly bus: string;
  /** Logical queue name → queue URL (`memory` mode: the in-memory queue's name). */
  readonly queueUrls: Readonly<Record<string, string>>;
  /** Logical queue name → dead-letter queue URL (`memory` mode: its name). */
  readonly dlqUrls: Readonly<Record<string, string>>;
}

/** A running local mode; see {@link startLocal}. */
export interface LocalRuntime {
  readonly mode: LocalMode;
  /** The backend the app now uses (`app.use(backend)` was called with it). */
  readonly backend: Backend;
  /** The topology being run: the same data the CDK stack deploys. */
  readonly topology: Topology;
  /** Endpoints of the services in `emulated` and `localstack` modes (for the CLI, or AWS_ENDPOINT_URL_* of a child process). */
  readonly endpoints: { readonly sqs?: string; readonly dynamodb?: string; readonly eventbridge?: string };
  /** Table, bus, queue and DLQ URLs: the stack outputs of this runtime (see {@link LocalResources}). */
  readonly resources: LocalResources;
  /** Recent events on the bus, oldest first, as EventBridge delivers them. */
  readonly events: readonly LocalBusEvent[];
  /**
   * Resolves when every queue is empty, no batch is being handled, no bus delivery is running and
   * no delayed message is due within the horizon (see {@link DrainOptions.horizonMs}).
   */
  drain(options?: DrainOptions): Promise<DrainReport>;
  /**
   * Jumps local time forward by `ms`: held delays and periodic schedules that fall due run now.
   * Resolves once their messages are sent (not handled: `drain()` for that).
   */
  tick(ms: number): Promise<void>;
  /** Local time (epoch ms): wall-clock time plus every `tick`. */
  now(): number;
  /** Listens to every bus event (or those matching an EventBridge pattern); returns the unsubscribe function. */
  subscribe(listener: BusListener, pattern?: unknown): () => void;
  /** Every queue's depth, DLQ included. */
  queues(): Promise<QueueStatus[]>;
  /** Bodies of up to `max` (≤ 10) messages in a queue's dead-letter queue, left in place. */
  deadLetters(queue: string, max?: number): Promise<string[]>;
  /** Delayed messages held on local time, earliest first. */
  held(): HeldMessage[];
  /** The topology's EventBridge rules, with local delivery counts. */
  rules(): RuleStatus[];
  /** The periodic tasks, with their next firing. */
  schedules(): ScheduleStatus[];
  /** Stops pollers, schedules, the bus and the emulators; the app is left without a backend. */
  stop(): Promise<void>;
}

interface LocalQueue {
  readonly name: string;
  /** Name in ARNs and on the service: `<app>-<queue>` on SQS, so one endpoint can hold many apps. */
  readonly physical: string;
  /** What the broker is given to reach the DLQ: its memory name or its URL. */
  readonly dlqRef: string;
  readonly dlqName: string;
  readonly settings: LocalQueueSettings;
}

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
  const mode: LocalMode = options.mode ?? 'emulated';
  if (mode !== 'emulated' && mode !== 'memory' && mode !== 'localstack') {
    throw new CeleriacError(
      ErrorCodes.INVALID_OPTIONS,
      `startLocal: mode must be "emulated", "memory" or "localstack", got "${String(mode)}"`,
    );
  }
  const topology = buildTopology(app.topology());
  const logger = options.logger ?? app.logger;
  const region = options.region ?? 'us-east-1';
  const report = (message: string, error: unknown, extra?: Record<string, unknown>): void => {
    logger.error(message, { ...(error === undefined ? {} : { error: serializeError(error) }), ...extra });
  };
  const activity = new Activity();
  const time = new LocalTime((e) => report('local timer failed', e));
  const queueSettings = (q: QueueInfo): LocalQueueSettings => ({
    batchSize: q.batchSize,
    maxBatchingWindowSeconds: q.maxBatchingWindowSeconds,
    visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
    functionTimeoutSeconds: q.functionTimeoutSeconds,
    maxReceiveCount: q.maxReceiveCount,
    maxConcurrency: Math.min(q.maxConcurrency ?? options.defaultConcurrency ?? 2, options.maxLocalConcurrency ?? 4),
  });

  // Everything started so far, stopped in reverse order if a later step fails.
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        report('local mode: stopping a component failed', e);
      }
    }
    cleanups.length = 0;
  };

  let bus: LocalBus | undefined;
  const ingest: LocalBus['ingest'] = (events) => bus?.ingest(events);
  try {
    // ── the backend ─────────────────────────────────────────────────────────────────────────
    let inner: FullBroker;
    let base: Omit<Backend, 'broker' | 'clock' | 'kind'>;
    let queues: LocalQueue[];
    let resources: LocalResources;
    const endpoints: { sqs?: string; dynamodb?: string; eventbridge?: string } = {};
    const busName = `celeriac-${topology.app}`;

    if (mode === 'memory') {
      const mb = memoryBackend({ pollIntervalMs: 5 });
      queues = topology.queues.map((q) => {
        const dlq = dlqNameOf(topology.app, q.name);
        mb.broker.configureQueue(q.name, { redrive: { queue: dlq, maxReceiveCount: q.maxReceiveCount } });
        return { name: q.name, physical: q.name, dlqRef: dlq, dlqName: dlq, settings: queueSettings(q) };
      });
      cleanups.push(mb.events.subscribe((batch) => ingest(batch.map((e) => ({ ...e, id: randomUUID() })))));
      resources = {
        app: topology.app,
        table: undefined,
        bus: busName,
        queueUrls: Object.fromEntries(queues.map((q) => [q.name, q.physical])),
        dlqUrls: Object.fromEntries(queues.map((q) => [q.name, q.dlqRef])),
      };
      inner = mb.broker;
      base = { store: mb.store, events: mb.events, ids: mb.ids, pollIntervalMs: 5 };
    } else {
      // Events go to the capture endpoint, which hands each accepted entry to the bus before
      // answering PutEvents — so a worker's publish has reached the bus when it returns.
      const eventbridge: EventBridgeEndpoint = await startEventBridgeEndpoint({
        onEvents: (captured) =>
          ingest(
            captured.map((c) => ({
              id: c.EventId,
              source: c.Source,
              detailType: c.DetailType,
              detail: JSON.parse(c.Detail) as Record<string, unknown>,
              time: c.Time === undefined ? time.now() : c.Time * 1000,
              ...(c.Resources === undefined ? {} : { resources: c.Resources }),
            })),
          ),
      });
      cleanups.push(() => eventbridge.stop());
      endpoints.eventbridge = eventbridge.endpoint;
      if (mode === 'emulated') {
        // Settled, not all(): when one emulator fails to start, the other is stopped too rather
        // than left listening (and holding the process open).
        const started = await Promise.allSettled([startDynalite(), startFauxqs()]);
        for (const s of started) if (s.status === 'fulfilled') cleanups.push(() => s.value.stop());
        const [dynamo, sqs] = started;
        if (dynamo.status === 'rejected') throw dynamo.reason;
        if (sqs.status === 'rejected') throw sqs.reason;
        endpoints.dynamodb = dynamo.value.endpoint;
        endpoints.sqs = sqs.value.endpoint;
      } else {
        const endpoint = options.endpoint ?? 'http://localhost:4566';
        endpoints.dynamodb = options.endpoints?.dynamodb ?? endpoint;
        endpoints.sqs = options.endpoints?.sqs ?? endpoint;
      }
      const table = `celeriac-${topology.app}`;
      const created = await Promise.all([
        ensureTable(endpoints.dynamodb as string, table),
        ...topology.queues.map((q) =>
          ensureQueue(endpoints.sqs as string, `${topology.app}-${q.name}`, {
            dlqName: dlqNameOf(topology.app, q.name),
            maxReceiveCount: q.maxReceiveCount,
            visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
          }),
        ),
      ]);
      const urls = created.slice(1) as { url: string; dlqUrl?: string }[];
      queues = topology.queues.map((q, i) => ({
        name: q.name,
        physical: `${topology.app}-${q.name}`,
        dlqRef: urls[i]?.dlqUrl as string,
        dlqName: dlqNameOf(topology.app, q.name),
        settings: queueSettings(q),
      }));
      resources = {
        app: topology.app,
        table,
        bus: busName,
        queueUrls: Object.fromEntries(queues.map((q, i) => [q.name, urls[i]?.url as string])),
        dlqUrls: Object.fromEntries(queues.map((q, i) => [q.name, urls[i]?.dlqUrl as string])),
      };
      const config = loadConfig({
        CELERIAC_APP: topology.app,
        CELERIAC_TABLE: table,
        CELERIAC_BUS: busName,
        CELERIAC_QUEUE_URLS: JSON.stringify(resources.queueUrls),
        CELERIAC_DLQ_URLS: JSON.stringify(resources.dlqUrls),
        // The emulator helpers create the table and queues in this region; `region` only names ARNs and events.
        AWS_REGION: EMULATOR_CLIENT_CONFIG.region,
      });
      const aws: AwsBackend = awsBackend(config, {
        endpoints: { sqs: endpoints.sqs, dynamodb: endpoints.dynamodb, eventbridge: endpoints.eventbridge },
        clientConfig: EMULATOR_CLIENT_CONFIG,
        clock: time,
        kind: mode,
      });
      cleanups.push(() => aws.destroy());
      if (mode === 'localstack') {
        // A shared LocalStack keeps queues between runs: start from empty ones.
        await Promise.all(
          queues
            .flatMap((q) => [q.name, q.dlqRef])
            .map((q) =>
              aws.broker.purge(q).catch((e: unknown) => logger.warn(`could not purge ${q} before the run`, { error: serializeError(e) })),
            ),
        );
      }
      inner = aws.broker;
      // Local reads cost nothing: poll results often so `get()` returns promptly.
      base = { store: aws.store, events: aws.events, ids: aws.ids, pollIntervalMs: 20 };
    }

    // ── broker, backend, worker ─────────────────────────────────────────────────────────────
    const broker = new LocalBroker(inner, time, activity, new Set(queues.map((q) => q.name)), (e, m) =>
      report('local mode: sending a delayed message when due failed; it is dropped', e, { id: m.id, queue: m.queue }),
    );
    const backend: Backend = {
      ...base,
      broker,
      clock: time,
      kind: mode,
      queueAliases: new Map(queues.map((q) => [q.physical, q.name])),
    };
    app.use(backend);
    cleanups.push(() => {
      app.use(() => {
        throw new CeleriacError(
          ErrorCodes.NOT_CONFIGURED,
          `app "${app.name}": its local runtime was stopped; start it again or call app.use(backend)`,
        );
      });
    });
    const worker = createWorker(app);
    const handler: SqsHandler = options.wrapHandler ? options.wrapHandler(worker) : worker;

    // ── bus ─────────────────────────────────────────────────────────────────────────────────
    const root = options.root ?? process.cwd();
    const warned = new Set<string>();
    const localBus = new LocalBus({
      topology,
      broker,
      region,
      busName,
      onActivity: () => activity.bump(),
      onError: report,
      loadSubscriber: async (s: SubscriberInfo) => {
        const given = options.subscribers?.[s.name];
        if (given !== undefined) return given;
        if (s.entry === undefined) {
          if (!warned.has(s.name)) {
            warned.add(s.name);
            logger.warn(
              `subscriber ${s.name} has no entry; pass startLocal(app, { subscribers: { ${s.name}: handler } }) to run it locally`,
            );
          }
          return undefined;
        }
        const mod = (await import(pathToFileURL(resolvePath(root, s.entry)).href)) as { handler?: unknown };
        if (typeof mod.handler !== 'function') {
          throw new CeleriacError(ErrorCodes.NOT_CONFIGURED, `subscriber ${s.name}: ${s.entry} has no exported function "handler"`);
        }
        return mod.handler as SubscriberHandler;
      },
    });
    bus = localBus;
    cleanups.push(() => localBus.stop());

    // ── pollers ─────────────────────────────────────────────────────────────────────────────
    const waitMs = options.pollWaitMs ?? (mode === 'memory' ? 250 : 1_000);
    const pollers = queues.map(
      (q) =>
        new QueuePoller({
          queue: q.name,
          arnQueueName: q.physical,
          consumer: broker,
          handler,
          settings: q.settings,
          region,
          waitMs,
          failedItemVisibilitySeconds: options.failedItemVisibilitySeconds ?? 1,
          onBatch: () => activity.bump(),
          onError: report,
        }),
    );
    // Stopping order: pollers finish their batches first (while the emulators still answer),
    // then the emulators stop, which also ends any long poll still waiting.
    cleanups.push(async () => {
      await Promise.all(pollers.map((p) => p.stop()));
    });
    for (const p of pollers) p.start();
    // Registered first so it runs last, after the emulators are stopped (cleanups run in reverse).
    cleanups.unshift(async () => {
      await Promise.all(pollers.map((p) => p.closed()));
    });
    // Run first on stop: no delay or schedule fires into a runtime being taken down.
    cleanups.push(() => broker.clear());
    cleanups.push(() => time.stop());

    // ── periodic tasks ──────────────────────────────────────────────────────────────────────
    const schedules = topology.periodic.map((p) => ({ p, nextAt: undefined as number | undefined, fired: 0 }));
    if (options.periodic !== false) {
      const fireOnStart = typeof options.periodic === 'object' && options.periodic.fireOnStart === true;
      const started = time.now();
      for (const s of schedules) {
        const { p } = s;
        const schedule = parseSchedule(p.schedule, started);
        const fire = async (): Promise<void> => {
          const at = time.now();
          // Missed occurrences (a tick over several periods) coalesce into this one firing.
          s.nextAt = schedule.next(at);
          if (s.nextAt !== undefined) time.at(s.nextAt, fire);
          s.fired++;
          // The body the deployed schedule sends: the topology's minimal call for the task.
          await broker.send([{ queue: p.queue, body: p.input, id: `${p.name}@${new Date(at).toISOString()}` }]);
        };
        s.nextAt = fireOnStart && p.schedule.startsWith('rate(') ? started : schedule.next(started);
        if (s.nextAt !== undefined) time.at(s.nextAt, fire);
      }
    }

    // ── the handle ──────────────────────────────────────────────────────────────────────────
    const busy = async (horizonMs: number): Promise<string | undefined> => {
      for (const p of pollers) if (p.inFlight > 0) return `queue ${p.queue}: ${p.inFlight} message(s) being handled`;
      if (localBus.pending > 0) return `event bus: ${localBus.pending} delivery(ies) running`;
      if (time.busy) return 'local timers: a due delay or schedule is being sent';
      const limit = time.now() + horizonMs;
      const soon = broker.held().filter((h) => h.dueAt <= limit);
      if (soon.length > 0) return `${soon.length} delayed message(s) due within ${horizonMs} ms`;
      const depths = await Promise.all(queues.map((q) => inner.depth(q.name)));
      for (let i = 0; i < queues.length; i++) {
        const d = depths[i] as { visible: number; inFlight: number; delayed: number };
        const n = d.visible + d.inFlight + d.delayed;
        if (n > 0) return `queue ${queues[i]?.name}: ${d.visible} visible, ${d.inFlight} in flight, ${d.delayed} delayed`;
      }
      return undefined;
    };

    let stopped: Promise<void> | undefined;
    const runtime: LocalRuntime = {
      mode,
      backend,
      topology,
      endpoints,
      resources,
      get events() {
        return localBus.events;
      },
      async drain(o: DrainOptions = {}): Promise<DrainReport> {
        const timeoutMs = o.timeoutMs ?? 30_000;
        const horizonMs = o.horizonMs ?? 60_000;
        const started = Date.now();
        // Idle twice in a row with no activity in between: a single idle observation could fall
        // between a receive and the send it causes on another queue.
        let idleAt: number | undefined;
        for (;;) {
          const seq = activity.seq;
          const reason = await busy(horizonMs);
          if (reason === undefined && activity.seq === seq) {
            if (idleAt === seq) {
              const limit = time.now() + horizonMs;
              return { elapsedMs: Date.now() - started, deferred: broker.held().filter((h) => h.dueAt > limit) };
            }
            idleAt = seq;
          } else {
            idleAt = undefined;
          }
          if (Date.now() - started > timeoutMs) {
            throw new CeleriacError(ErrorCodes.TIMEOUT, `drain: still busy after ${timeoutMs} ms (${reason ?? 'activity while checking'})`);
          }
          await new Promise((r) => setTimeout(r, idleAt === undefined ? 10 : 20));
        }
      },
      tick: (ms) => time.advance(ms),
      now: () => time.now(),
      subscribe: (listener, pattern) => localBus.subscribe(listener, pattern),
      async queues(): Promise<QueueStatus[]> {
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
      },
      async deadLetters(queue: string, max = 10): Promise<string[]> {
        const q = queues.find((x) => x.name === queue);
        if (q === undefined) throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `no queue "${queue}" in app "${topology.app}"`);
        // Visibility 0: looking does not hide them from the next look (or a redrive).
        const msgs = await inner.receive(q.dlqRef, { max: Math.min(10, Math.max(1, max)), visibilityTimeoutSeconds: 0, waitMs: 0 });
        return msgs.map((m) => m.body);
      },
      held: () => broker.held(),
      rules: () => {
        const counts = localBus.deliveries();
        return topology.rules.map((r) => ({
          name: r.name,
          description: r.description,
          target: r.target,
          delivered: counts.get(r.name) ?? 0,
        }));
      },
      schedules: () => schedules.map((s) => ({ name: s.p.name, task: s.p.task, schedule: s.p.schedule, nextAt: s.nextAt, fired: s.fired })),
      stop(): Promise<void> {
        stopped ??= cleanup();
        return stopped;
      },
    };
    return runtime;
  } catch (e) {
    await cleanup();
    throw e;
  }
}

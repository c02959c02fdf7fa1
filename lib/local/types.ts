/**
 * The public types of local mode (`celeriac/local` re-exports every one): the options of
 * `startLocal`, the handle it returns and what the handle reports. They live apart from
 * lib/local/index.ts so the modules `startLocal` is composed of can name them without importing
 * the entry point (which imports them: a cycle).
 */
import type { Backend } from '../ports';
import type { QueueInfo, Topology, TopologyRule } from '../routing';
import type { Logger } from '../runtime/app-port';
import type { HeldMessage } from './broker';
import type { BusListener, LocalBusEvent, SubscriberHandler } from './bus';
import type { SqsHandler } from './poller';

/** Where local mode runs the app's queues and table. */
export type LocalMode = 'emulated' | 'memory' | 'localstack';

/** A queue's local settings: the topology's, with local overrides applied. */
export type LocalQueueSettings = Pick<
  QueueInfo,
  'batchSize' | 'maxBatchingWindowSeconds' | 'visibilityTimeoutSeconds' | 'functionTimeoutSeconds' | 'maxReceiveCount'
> & { readonly maxConcurrency: number };

/** Options of `startLocal`; every one has a default. */
export interface StartLocalOptions {
  /** Default `emulated`. */
  readonly mode?: LocalMode;
  /** `localstack` mode: the endpoint serving SQS and DynamoDB. Default `http://localhost:4566`. */
  readonly endpoint?: string;
  /**
   * `localstack` mode: per-service endpoints, over `endpoint` (as `AWS_ENDPOINT_URL_<SERVICE>` over
   * `AWS_ENDPOINT_URL`). `s3` holds the large payloads (README, "Large payloads"), in bucket
   * `celeriac-payloads`, created at start; without it, S3 is at `endpoint` unless only `sqs` and
   * `dynamodb` are named (then no payload store: an oversized value fails as without a bucket).
   */
  readonly endpoints?: { readonly sqs?: string; readonly dynamodb?: string; readonly s3?: string };
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

/** A running local mode; see `startLocal`. */
export interface LocalRuntime {
  readonly mode: LocalMode;
  /** The backend the app now uses (`app.use(backend)` was called with it). */
  readonly backend: Backend;
  /** The topology being run: the same data the CDK stack deploys. */
  readonly topology: Topology;
  /** Endpoints of the services in `emulated` and `localstack` modes (for the CLI, or AWS_ENDPOINT_URL_* of a child process). */
  readonly endpoints: { readonly sqs?: string; readonly dynamodb?: string; readonly eventbridge?: string; readonly s3?: string };
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

/** The service endpoints of a local runtime ({@link LocalRuntime.endpoints}). */
export type LocalEndpoints = LocalRuntime['endpoints'];

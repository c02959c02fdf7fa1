/**
 * Ports: what the runtime needs from the outside world, and nothing more. Each has a memory
 * adapter (lib/adapters/memory) and an AWS adapter (lib/adapters/aws), both held to one contract
 * suite (test/contracts). Type-only: no behaviour lives here.
 */

import type { SerializedError } from '../protocol/failure';
import type { Json, JsonObject } from '../protocol/json';
import type { PlanRecord } from '../protocol/plan';
import type { TaskState } from '../results/states';

// ── Broker ─────────────────────────────────────────────────────────────────────────────────

/** One message to send. `body` is an encoded envelope (or any JSON for foreign calls). */
export interface OutgoingMessage {
  readonly queue: string;
  readonly body: string;
  /**
   * Seconds, 0…900 (SQS DelaySeconds). Longer delays go to the backend's {@link DelayedSender} when
   * it has one, else the worker re-delays them in hops.
   */
  readonly delaySeconds?: number;
  /** For logs and duplicate-free batching; the envelope id. */
  readonly id: string;
  /**
   * The tenant the message belongs to: SQS `MessageGroupId` on a standard queue, which makes it a
   * fair queue (a consumer gets quiet tenants' messages before a noisy one's backlog). The
   * envelope's `headers.fairnessKey`; lib/protocol/fairness.ts has the rule.
   */
  readonly groupId?: string;
}

/**
 * Sends a message at a time beyond the broker's own delay limit (SQS: 15 minutes): EventBridge
 * Scheduler one-time schedules on AWS. Without one, the worker re-delays such messages in hops.
 */
export interface DelayedSender {
  /** Largest body it takes (bytes); a larger one goes the hop way. */
  readonly maxBodyBytes: number;
  /**
   * Arranges for `message` to reach its queue at `at` (epoch ms), once: asking again for the same
   * message id, queue and time (a redelivered hop) changes nothing.
   */
  sendAt(message: OutgoingMessage, at: number): Promise<void>;
}

export interface Broker {
  /**
   * Sends messages; resolves when every one is accepted. Rejects with a CeleriacError
   * (`PUBLISH_FAILED`, retryable) naming the ones that were not, after the adapter's own retries.
   */
  send(messages: readonly OutgoingMessage[]): Promise<void>;
}

/** A message as received by a consumer (SQS ReceiveMessage semantics). */
export interface ReceivedMessage {
  readonly messageId: string;
  readonly receiptHandle: string;
  readonly body: string;
  /** ApproximateReceiveCount: 1 on the first delivery. */
  readonly receiveCount: number;
  /** Epoch ms of the send (SentTimestamp). */
  readonly sentAt: number;
  /** Epoch ms of the first receive (ApproximateFirstReceiveTimestamp). */
  readonly firstReceivedAt: number;
  readonly attributes?: Readonly<Record<string, string>>;
}

/**
 * Pulling from queues, as a Lambda event source mapping does. Used by local pollers and the CLI;
 * on AWS the event source mapping does this itself.
 */
export interface QueueConsumer {
  /** Up to `max` (≤ 10) visible messages, hidden for `visibilityTimeoutSeconds`; waits up to `waitMs` for one. */
  receive(queue: string, opts: { max: number; visibilityTimeoutSeconds: number; waitMs: number }): Promise<ReceivedMessage[]>;
  delete(queue: string, receiptHandles: readonly string[]): Promise<void>;
  /** 0 makes a message visible again at once (a failed batch item). */
  changeVisibility(queue: string, receiptHandle: string, seconds: number): Promise<void>;
}

/** Queue administration, for local mode and the CLI. */
export interface QueueAdmin {
  depth(queue: string): Promise<{ visible: number; inFlight: number; delayed: number }>;
  purge(queue: string): Promise<void>;
}

// ── Result store ───────────────────────────────────────────────────────────────────────────

/**
 * A task's stored record. PENDING is the absence of one. `cont` tracks the continuations
 * (next chain step, callbacks, joins, events) of a ready record: `pending` while the worker that
 * wrote the outcome publishes them under its lease, `done` after.
 */
export interface ResultRecord {
  readonly id: string;
  readonly state: TaskState;
  readonly result?: Json;
  readonly error?: SerializedError;
  readonly traceback?: string;
  /** Custom state meta (`updateState`). */
  readonly meta?: Json;
  readonly task?: string;
  readonly rootId?: string;
  readonly parentId?: string | null;
  readonly groupId?: string;
  readonly children?: readonly string[];
  readonly retries?: number;
  readonly queue?: string;
  readonly args?: readonly Json[];
  readonly kwargs?: JsonObject;
  /** Epoch ms. */
  readonly dateDone?: number;
  readonly startedAt?: number;
  readonly durationMs?: number;
  readonly cont?: 'pending' | 'done';
  readonly lease?: Lease;
  /** Set when REVOKED was written by `revoke()` (vs. expiry at the worker). */
  readonly revokedBy?: 'client' | 'expired' | 'chord' | 'duplicate';
}

/**
 * A delivery's hold on a ready record's continuations: `owner` names the delivery, `until` (epoch
 * ms) is when a redelivery may take over because the holder is presumed dead.
 */
export interface Lease {
  readonly owner: string;
  readonly until: number;
}

/**
 * What an idempotency key stands for (README, "Call once: idempotency keys"): the call that
 * claimed it first, until `expiresAt`.
 */
export interface CallClaim {
  /** The id of the first call's handle (a task id, a chain's last task, a group's or chord body's id). */
  readonly id: string;
  /** The seed the first producer derived its ids from, so a later one rebuilds the same handle (absent: claimed by a queue message). */
  readonly seed?: string;
  /** Epoch ms after which the key is free again. */
  readonly expiresAt: number;
}

/** The outcome of a conditional write. */
export type WriteResult = { readonly written: true } | { readonly written: false; readonly current: ResultRecord | undefined };

/** A fan-in shard: which members (by index) have finished, and which of those failed. */
export interface JoinShard {
  readonly done: readonly number[];
  readonly failed: readonly number[];
}

/** A shard right after an add: how many members it holds, and which of them failed. */
export interface JoinCount {
  readonly count: number;
  readonly failed: readonly number[];
}

/** How a {@link ResultStore} read is made. */
export interface ReadOptions {
  /**
   * `false`: an eventually consistent read (DynamoDB: half the read units), which may miss a
   * write made within about the last second. Default `true` (strongly consistent). An adapter
   * with nothing cheaper may always read strongly consistently.
   */
  readonly consistent?: boolean;
}

export interface ResultStore {
  /** Strongly consistent read (unless `options.consistent` is false). */
  get(id: string, options?: ReadOptions): Promise<ResultRecord | undefined>;
  /** Strongly consistent reads (unless `options.consistent` is false), in the order asked; missing → undefined. */
  getMany(ids: readonly string[], options?: ReadOptions): Promise<(ResultRecord | undefined)[]>;
  /**
   * Writes a record if no ready record exists (absent, or state not in SUCCESS/FAILURE/REVOKED).
   * This is the exactly-once guard: of two racing writers exactly one gets `written: true`.
   */
  writeIfNotReady(record: ResultRecord): Promise<WriteResult>;
  /**
   * Writes a non-ready state (STARTED, RETRY, custom) if no ready record exists and the stored
   * attempt number is not newer than `record.retries`.
   */
  writeProgress(record: ResultRecord): Promise<WriteResult>;
  /** Marks a ready record's continuations done and drops its lease. */
  finishContinuations(id: string): Promise<void>;
  /**
   * Takes over the continuations of a ready record whose lease expired (or that has none):
   * succeeds only if the lease is still the one read (`expectedOwner`, undefined = none).
   */
  takeOver(id: string, expectedOwner: string | undefined, lease: Lease): Promise<boolean>;
  /** Deletes a record (`forget()`). */
  delete(id: string): Promise<void>;

  /**
   * Stores a workflow plan in its stored form (idempotent: the same id always holds the same plan).
   * The store keeps it as given; readers decode it (`decodePlan`) as untrusted input.
   */
  putPlan(plan: PlanRecord): Promise<void>;
  getPlan(id: string): Promise<PlanRecord | undefined>;

  /**
   * Atomically and idempotently adds member `index` to shard `shard` of join `joinId`; returns the
   * shard's count and failed members after the add (the member that completes a shard sees the
   * full count). Adding the same index twice changes nothing (set semantics).
   */
  joinAdd(joinId: string, shard: number, index: number, failed: boolean): Promise<JoinCount>;
  /** Strongly consistent read of shards `0…count-1`. */
  joinRead(joinId: string, count: number): Promise<JoinShard[]>;
  /** Creates marker `key` once: true for the one caller that created it. */
  claim(key: string): Promise<boolean>;
  /**
   * Claims idempotency key `key` for `claim`, in one conditional write: it is written when no
   * claim holds the key or the one that does expired (`expiresAt <= now`). Returns undefined when
   * this claim was written, else the unexpired claim that holds the key. Of racing callers exactly
   * one writes.
   */
  claimCall(key: string, claim: CallClaim, now: number): Promise<CallClaim | undefined>;
  /** Frees `key` if it is still held by a claim for `id` (its call could not be published). */
  releaseCall(key: string, id: string): Promise<void>;
}

// ── Events ─────────────────────────────────────────────────────────────────────────────────

/** One lifecycle event, as published to the bus (EventBridge entry shape, minus the bus name). */
export interface BusEvent {
  readonly source: string;
  readonly detailType: string;
  readonly detail: JsonObject;
  /** Epoch ms. */
  readonly time: number;
  readonly resources?: readonly string[];
}

export interface EventPublisher {
  /** Publishes events (adapters batch ≤ 10 per call and retry failed entries). */
  publish(events: readonly BusEvent[]): Promise<void>;
}

// ── Flow control: rate limits and concurrency per key, across every worker ──────────────────

/** What {@link FlowControl.reserveStart} decided: start at `startAt`, or come back in `retryInMs`. */
export type StartDecision = { readonly ok: true; readonly startAt: number } | { readonly ok: false; readonly retryInMs: number };

/** What {@link FlowControl.acquireSlot} decided. */
export type SlotDecision = { readonly ok: true; readonly slot: number } | { readonly ok: false; readonly retryInMs: number };

/**
 * Shared counters that keep tasks under a rate and a concurrency, whichever worker runs them.
 * Every decision is one conditional write (or a few, for slots), so concurrent workers never
 * both pass a limit; a crashed holder's slot frees itself when its lease ends.
 */
export interface FlowControl {
  /**
   * Reserves the next start of `key`, starts being at least `intervalMs` apart (GCRA without
   * burst: Celery's token bucket of capacity 1, shared by all workers). The start is at `startAt`
   * (now, or the next free time within `horizonMs`): the caller waits until then, and no other
   * caller gets that time. A key booked past the horizon refuses: try again in `retryInMs`.
   */
  reserveStart(key: string, intervalMs: number, now: number, horizonMs: number): Promise<StartDecision>;
  /** One of `limit` slots of `key`, held by `owner` until `until` (epoch ms) unless released. */
  acquireSlot(key: string, limit: number, owner: string, until: number, now: number): Promise<SlotDecision>;
  /** Frees a slot `owner` holds (a slot since taken over by another owner is left alone). */
  releaseSlot(key: string, slot: number, owner: string): Promise<void>;
}

// ── Payloads stored by reference (claim check) ────────────────────────────────────────────

/**
 * A payload kept in a {@link PayloadStore}, as it travels in messages and records instead of the
 * value: its key, size and digest. Plain JSON.
 */
export interface PayloadRef {
  /** The object's key: `<prefix>/<path>`, the prefix being the app's. */
  readonly key: string;
  /** UTF-8 bytes of the stored text. */
  readonly bytes: number;
  /** SHA-256 of the stored text, base64url: a payload that changed under its key is refused. */
  readonly sha256: string;
}

/**
 * Where payloads too big for a message or an item are kept (S3 on AWS), each under a key the
 * caller chooses deterministically, so a redelivered put writes the same object again.
 * Expiry is the store's own (an S3 lifecycle rule matching the results' TTL).
 */
export interface PayloadStore {
  /** The prefix every key of this store starts with (the app's): a reference outside it is foreign. */
  readonly prefix: string;
  /** Stores `text` under `<prefix>/<path>` (overwriting) and returns its reference. */
  put(path: string, text: string): Promise<PayloadRef>;
  /**
   * The text `ref` points to.
   * @throws CeleriacError PAYLOAD_FOREIGN (not under this store's prefix), PAYLOAD_NOT_FOUND (gone
   *   or never written), PAYLOAD_CORRUPT (its digest or size differ): none of them retryable.
   */
  get(ref: PayloadRef): Promise<string>;
  /** Deletes the objects (absent ones are fine); keys outside the prefix are refused (PAYLOAD_FOREIGN). */
  delete(keys: readonly string[]): Promise<void>;
  /**
   * Deletes every object under `<prefix>/<path>/` (a task's folder: what `forget()` removes) and
   * nothing else: not `<prefix>/<path>x/…`, not the path's own key, not another prefix's. Returns
   * how many objects it deleted.
   * @throws CeleriacError INVALID_ARGS (a path that is empty or would climb out of the prefix).
   */
  deleteUnder(path: string): Promise<number>;
}

// ── Clock and ids ──────────────────────────────────────────────────────────────────────────

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export interface Ids {
  /** A fresh unique id (UUID v4). */
  uuid(): string;
}

/** Everything an app needs to publish, run and read tasks. */
export interface Backend {
  readonly broker: Broker;
  readonly store: ResultStore;
  readonly events: EventPublisher;
  readonly clock: Clock;
  readonly ids: Ids;
  /** Which backend this is, for logs and the CLI: `memory`, `emulated`, `aws`, `localstack`. */
  readonly kind: string;
  /** Polling interval for `get()` when the caller gives none (ms). */
  readonly pollIntervalMs?: number;
  /** Physical queue name (as in an SQS ARN or URL) → logical queue name, where they differ. */
  readonly queueAliases?: ReadonlyMap<string, string>;
  /** Long delays (countdown / eta past the broker's limit), when the deployment has a scheduler. */
  readonly delayed?: DelayedSender;
  /** Rate limits and concurrency limits shared by every worker (a task with neither never touches it). */
  readonly flow?: FlowControl;
  /**
   * Where values over the app's payload threshold are kept (README, "Large payloads"). Without
   * one, an oversized value is refused (MESSAGE_TOO_LARGE / RESULT_TOO_LARGE) as before.
   */
  readonly payloads?: PayloadStore;
}

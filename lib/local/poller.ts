/**
 * Local pollers: what a Lambda SQS event source mapping does, in-process. Each poller receives
 * from one queue and invokes the SAME handler that is deployed (`createWorker(app)`) with real
 * `aws-lambda` SQS events, then applies the partial batch response:
 *
 * - batches of up to `batchSize` records, gathered for up to `maxBatchingWindowSeconds`;
 * - at most `maxConcurrency` batches of one queue in flight at once;
 * - messages are received with the queue's visibility timeout; a record named in
 *   `batchItemFailures` is left for redelivery (visible again after `failedItemVisibilitySeconds`;
 *   on AWS it is the rest of the visibility timeout), the others deleted;
 * - a handler that throws, times out (`functionTimeoutSeconds`) or answers with an identifier not
 *   in the batch fails the whole batch, as Lambda does;
 * - redelivery counts up `ApproximateReceiveCount`, and the queue's redrive policy moves a
 *   message received `maxReceiveCount` times to the DLQ on its next receive — the queue itself
 *   (memory broker or emulator) does that, exactly as SQS does.
 */
import { createHash } from 'node:crypto';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { QueueConsumer, ReceivedMessage } from '../ports';

/** The account id local ARNs carry (LocalStack's and the emulators' convention). */
export const LOCAL_ACCOUNT = '000000000000';

/** An SQS-triggered Lambda handler: what `createWorker(app)` returns. */
export type SqsHandler = (event: SQSEvent, context?: LambdaContextLike) => Promise<SQSBatchResponse | undefined>;

/** The Lambda context fields local mode provides. */
export interface LambdaContextLike {
  readonly functionName: string;
  readonly awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

/** Event source mapping settings of one queue (the topology's, defaults filled in). */
export interface PollerSettings {
  /** Records per invocation, 1…10 000 (more than 10 needs a batching window on AWS). */
  readonly batchSize: number;
  /** Seconds to gather a fuller batch, 0…300. */
  readonly maxBatchingWindowSeconds: number;
  /** Concurrent invocations for this queue (at least 1 locally; AWS's floor is 2). */
  readonly maxConcurrency: number;
  /** The queue's visibility timeout, used for every receive. */
  readonly visibilityTimeoutSeconds: number;
  /** The function's timeout: past it an invocation counts as failed (Lambda would kill it). */
  readonly functionTimeoutSeconds: number;
}

export interface PollerOptions {
  /** The queue name the consumer knows (logical). */
  readonly queue: string;
  /** The queue's name on the service, as in its ARN (`eventSourceARN`). Default `queue`. */
  readonly arnQueueName?: string;
  readonly consumer: QueueConsumer;
  readonly handler: SqsHandler;
  readonly settings: PollerSettings;
  /** Region in `eventSourceARN` and `awsRegion`. Default `us-east-1`. */
  readonly region?: string;
  /**
   * How long a failed record stays invisible before it is redelivered. Default 0 (at once). A value
   * of at least `settings.visibilityTimeoutSeconds` leaves the message alone until its visibility
   * timeout ends, which is AWS's timing.
   */
  readonly failedItemVisibilitySeconds?: number;
  /** Long-poll wait for an empty queue, ms. Default 1000. */
  readonly waitMs?: number;
  /** Called around every batch, for activity tracking. */
  readonly onBatch?: (phase: 'start' | 'end', records: number) => void;
  /** Where invocation and infrastructure errors go (never thrown: a poller keeps polling). */
  readonly onError: (message: string, error: unknown, extra?: Record<string, unknown>) => void;
}

/**
 * Builds the SQS event a Lambda event source mapping delivers for these messages.
 *
 * @example
 * ```ts
 * const event = sqsEvent('default', await consumer.receive('default', { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 }));
 * await handler(event);
 * ```
 */
export function sqsEvent(queue: string, messages: readonly ReceivedMessage[], region = 'us-east-1'): SQSEvent {
  return {
    Records: messages.map(
      (m): SQSRecord => ({
        messageId: m.messageId,
        receiptHandle: m.receiptHandle,
        body: m.body,
        attributes: {
          ApproximateReceiveCount: String(m.receiveCount),
          SentTimestamp: String(m.sentAt),
          SenderId: m.attributes?.SenderId ?? 'AIDACELERIACLOCAL',
          ApproximateFirstReceiveTimestamp: String(m.firstReceivedAt),
        },
        messageAttributes: {},
        // Computed when read (as SQS sends it, it is there for whoever checks): the worker never does.
        get md5OfBody() {
          return createHash('md5').update(m.body, 'utf8').digest('hex');
        },
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${region}:${LOCAL_ACCOUNT}:${queue}`,
        awsRegion: region,
      }),
    ),
  };
}

let invocationSeq = 0;

/** One queue's event source mapping. `start()` begins polling; `stop()` lets in-flight batches finish. */
export class QueuePoller {
  readonly queue: string;
  readonly #o: PollerOptions;
  readonly #loops: Promise<void>[] = [];
  readonly #batches = new Set<Promise<void>>();
  #stopping = false;
  #inFlight = 0;
  #invocations = 0;

  constructor(options: PollerOptions) {
    this.queue = options.queue;
    this.#o = options;
  }

  /** Records received and not yet settled (deleted or released). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Handler invocations so far. */
  get invocations(): number {
    return this.#invocations;
  }

  start(): void {
    if (this.#loops.length > 0) return;
    const n = Math.max(1, Math.floor(this.#o.settings.maxConcurrency));
    for (let i = 0; i < n; i++) this.#loops.push(this.#loop());
  }

  /** Stops receiving; resolves once the batches in flight have been handled and settled. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.allSettled([...this.#batches]);
  }

  /**
   * Resolves when every polling loop has exited. A loop blocked in a long poll exits when that
   * poll returns (at most `waitMs`), or fails because its endpoint was stopped.
   */
  async closed(): Promise<void> {
    await Promise.allSettled(this.#loops);
  }

  async #loop(): Promise<void> {
    const { consumer, settings } = this.#o;
    const waitMs = this.#o.waitMs ?? 1_000;
    while (!this.#stopping) {
      let msgs: ReceivedMessage[];
      try {
        msgs = await consumer.receive(this.queue, {
          max: Math.min(10, settings.batchSize),
          visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
          waitMs,
        });
        if (msgs.length > 0 && !this.#stopping) msgs = await this.#gather(msgs);
      } catch (e) {
        if (this.#stopping) return;
        this.#o.onError(`poller ${this.queue}: receive failed`, e);
        await sleep(250);
        continue;
      }
      // Received after stop() began: leave them; they become visible again after the timeout.
      if (msgs.length === 0 || this.#stopping) continue;
      const batch = this.#invoke(msgs);
      this.#batches.add(batch);
      try {
        await batch;
      } finally {
        this.#batches.delete(batch);
      }
    }
  }

  /** Fills a batch up to `batchSize` within the batching window (Lambda's MaximumBatchingWindowInSeconds). */
  async #gather(first: ReceivedMessage[]): Promise<ReceivedMessage[]> {
    const { consumer, settings } = this.#o;
    const windowMs = settings.maxBatchingWindowSeconds * 1000;
    if (windowMs <= 0 && settings.batchSize <= 10) return first;
    const out = [...first];
    const until = Date.now() + windowMs;
    while (out.length < settings.batchSize && !this.#stopping) {
      const more = await consumer.receive(this.queue, {
        max: Math.min(10, settings.batchSize - out.length),
        visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
        waitMs: 0,
      });
      out.push(...more);
      const left = until - Date.now();
      if (left <= 0) break;
      if (more.length === 0) await sleep(Math.min(left, 25));
    }
    return out;
  }

  async #invoke(msgs: ReceivedMessage[]): Promise<void> {
    const { consumer, settings, handler } = this.#o;
    this.#inFlight += msgs.length;
    this.#o.onBatch?.('start', msgs.length);
    try {
      const region = this.#o.region ?? 'us-east-1';
      const event = sqsEvent(this.#o.arnQueueName ?? this.queue, msgs, region);
      const timeoutMs = settings.functionTimeoutSeconds * 1000;
      const started = Date.now();
      const context: LambdaContextLike = {
        functionName: `celeriac-worker-${this.queue}`,
        awsRequestId: `local-${++invocationSeq}`,
        getRemainingTimeInMillis: () => Math.max(0, started + timeoutMs - Date.now()),
      };
      this.#invocations++;
      const failed = await this.#run(handler, event, context, timeoutMs, msgs);
      const ok = msgs.filter((m) => !failed.has(m.messageId)).map((m) => m.receiptHandle);
      const retry = msgs.filter((m) => failed.has(m.messageId));
      try {
        if (ok.length > 0) await consumer.delete(this.queue, ok);
        const seconds = this.#o.failedItemVisibilitySeconds ?? 0;
        if (seconds < settings.visibilityTimeoutSeconds) {
          await Promise.all(retry.map((m) => consumer.changeVisibility(this.queue, m.receiptHandle, seconds)));
        }
      } catch (e) {
        // As on AWS: a message not deleted comes back after its visibility timeout.
        this.#o.onError(`poller ${this.queue}: settling a batch failed`, e);
      }
    } finally {
      this.#inFlight -= msgs.length;
      this.#o.onBatch?.('end', msgs.length);
    }
  }

  /** Invokes the handler; returns the ids to redeliver (all of them when the invocation failed). */
  async #run(
    handler: SqsHandler,
    event: SQSEvent,
    context: LambdaContextLike,
    timeoutMs: number,
    msgs: readonly ReceivedMessage[],
  ): Promise<Set<string>> {
    const all = new Set(msgs.map((m) => m.messageId));
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), timeoutMs);
      });
      const res = await Promise.race([handler(event, context), timeout]);
      if (res === 'timeout') {
        this.#o.onError(
          `poller ${this.queue}: invocation ran past the function timeout (${timeoutMs / 1000} s); on AWS it would be killed, so the whole batch is redelivered`,
          undefined,
          { records: msgs.length },
        );
        return all;
      }
      if (res === undefined || res === null) return new Set();
      const failures = (res as SQSBatchResponse).batchItemFailures ?? [];
      const ids = new Set<string>();
      for (const f of failures) {
        const id = f?.itemIdentifier;
        // Lambda: an empty or unknown identifier fails the whole batch.
        if (typeof id !== 'string' || id === '' || !all.has(id)) {
          this.#o.onError(
            `poller ${this.queue}: batchItemFailures names "${String(id)}", not in the batch; the whole batch is redelivered`,
            undefined,
          );
          return all;
        }
        ids.add(id);
      }
      return ids;
    } catch (e) {
      this.#o.onError(`poller ${this.queue}: the handler threw; the whole batch is redelivered`, e, { records: msgs.length });
      return all;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

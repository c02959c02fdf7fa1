import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  type DeleteMessageBatchCommandOutput,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { CeleriacError, ErrorCodes } from '../../errors';
import type { Broker, Clock, OutgoingMessage, QueueAdmin, QueueConsumer, ReceivedMessage } from '../../ports';
import { checkOutgoing, SQS_MAX_BATCH_BYTES, SQS_MAX_BATCH_ENTRIES, SQS_MAX_VISIBILITY_SECONDS } from '../../protocol/limits';
import { systemClock } from '../system';
import { type BatchOutcome, Coalescer, type EntryFailure } from './coalescer';
import { backendError, DEFAULT_RETRY, errorName, isTransient, type RetryPolicy } from './retry';

/** Errors that mean the queue itself is missing: retrying cannot help. */
const NO_QUEUE = new Set(['QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue']);
/** Delete/visibility answers for a handle that no longer acts (message re-received or gone). */
const STALE_HANDLE = new Set([
  'ReceiptHandleIsInvalid',
  'MessageNotInflight',
  'InvalidParameterValue',
  'AWS.SimpleQueueService.MessageNotInflight',
]);

export interface SqsBrokerOptions {
  readonly client: SQSClient;
  /** Logical queue name → URL (`CELERIAC_QUEUE_URLS`). Names not listed are looked up with GetQueueUrl. */
  readonly queueUrls?: Readonly<Record<string, string>>;
  readonly clock?: Clock;
  /** Backoff for failed batch entries (default 5 attempts, 50 ms…2 s, full jitter). */
  readonly retry?: Partial<RetryPolicy>;
  /**
   * Sends characters beyond U+FFFF (emoji…) in JSON bodies as `\uXXXX` surrogate escapes — the
   * same JSON value. SQS accepts those characters; fauxqs 2 refuses them, so emulated local mode
   * turns this on. Bodies that are not JSON are sent unchanged.
   */
  readonly escapeNonBmpInJson?: boolean;
}

/**
 * {@link Broker}, {@link QueueConsumer} and {@link QueueAdmin} over Amazon SQS.
 *
 * `send` coalesces concurrent calls into SendMessageBatch requests per queue (≤ 10 entries,
 * ≤ 1 MiB), flushed when full or on the next event-loop turn; entries SQS fails for a
 * non-sender reason are resent with backoff, and whatever still failed rejects the call with a
 * `PUBLISH_FAILED` error naming the message ids. Oversized messages and bad delays are refused
 * before anything is sent.
 */
export class SqsBroker implements Broker, QueueConsumer, QueueAdmin {
  private readonly client: SQSClient;
  private readonly queueUrls: Readonly<Record<string, string>>;
  private readonly resolved = new Map<string, Promise<string>>();
  private readonly coalescer: Coalescer<OutgoingMessage>;
  private readonly escapeNonBmp: boolean;

  constructor(opts: SqsBrokerOptions) {
    this.client = opts.client;
    this.escapeNonBmp = opts.escapeNonBmpInJson ?? false;
    this.queueUrls = opts.queueUrls ?? {};
    this.coalescer = new Coalescer<OutgoingMessage>({
      maxEntries: SQS_MAX_BATCH_ENTRIES,
      maxBytes: SQS_MAX_BATCH_BYTES,
      send: (queue, batch) => this.sendBatch(queue, batch),
      classify: (e): EntryFailure =>
        e instanceof CeleriacError
          ? { code: e.code, message: e.message, retryable: e.retryable }
          : { code: errorName(e), message: e instanceof Error ? e.message : String(e), retryable: isTransient(e) },
      retry: { ...DEFAULT_RETRY, ...opts.retry },
      clock: opts.clock ?? systemClock,
    });
  }

  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const sizes = checkOutgoing(messages);
    const byQueue = new Map<string, { value: OutgoingMessage; bytes: number }[]>();
    messages.forEach((m, i) => {
      let list = byQueue.get(m.queue);
      if (list === undefined) {
        list = [];
        byQueue.set(m.queue, list);
      }
      list.push({ value: m, bytes: sizes[i] as number });
    });
    const results = await Promise.all([...byQueue].map(([queue, entries]) => this.coalescer.submit(queue, entries)));
    const failed = results.flat();
    if (failed.length === 0) return;
    const retryable = failed.every((f) => f.retryable);
    const first = failed[0] as (typeof failed)[number];
    throw new CeleriacError(
      ErrorCodes.PUBLISH_FAILED,
      `SQS did not accept ${failed.length} of ${messages.length} message(s) (${failed.map((f) => f.value.id).join(', ')}): ${first.code}: ${first.message}`,
      { retryable, details: { failed: failed.map((f) => ({ id: f.value.id, queue: f.value.queue, code: f.code, message: f.message })) } },
    );
  }

  async receive(queue: string, opts: { max: number; visibilityTimeoutSeconds: number; waitMs: number }): Promise<ReceivedMessage[]> {
    const url = await this.url(queue);
    try {
      const out = await this.client.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: Math.min(SQS_MAX_BATCH_ENTRIES, Math.max(1, opts.max)),
          VisibilityTimeout: Math.min(SQS_MAX_VISIBILITY_SECONDS, Math.max(0, opts.visibilityTimeoutSeconds)),
          WaitTimeSeconds: Math.min(20, Math.max(0, Math.ceil(opts.waitMs / 1000))),
          MessageSystemAttributeNames: ['All'],
        }),
      );
      return (out.Messages ?? []).map((m) => {
        const attrs = (m.Attributes ?? {}) as Record<string, string>;
        const sentAt = Number(attrs.SentTimestamp ?? 0);
        return {
          messageId: m.MessageId ?? '',
          receiptHandle: m.ReceiptHandle ?? '',
          body: m.Body ?? '',
          receiveCount: Number(attrs.ApproximateReceiveCount ?? 1),
          sentAt,
          firstReceivedAt: Number(attrs.ApproximateFirstReceiveTimestamp ?? sentAt),
          attributes: attrs,
        };
      });
    } catch (e) {
      throw backendError(`ReceiveMessage from ${queue}`, e);
    }
  }

  async delete(queue: string, receiptHandles: readonly string[]): Promise<void> {
    if (receiptHandles.length === 0) return;
    const url = await this.url(queue);
    const chunks: string[][] = [];
    for (let i = 0; i < receiptHandles.length; i += SQS_MAX_BATCH_ENTRIES) chunks.push(receiptHandles.slice(i, i + SQS_MAX_BATCH_ENTRIES));
    await Promise.all(
      chunks.map(async (chunk) => {
        let out: DeleteMessageBatchCommandOutput;
        try {
          out = await this.client.send(
            new DeleteMessageBatchCommand({ QueueUrl: url, Entries: chunk.map((h, i) => ({ Id: String(i), ReceiptHandle: h })) }),
          );
        } catch (e) {
          throw backendError(`DeleteMessageBatch on ${queue}`, e);
        }
        // A stale handle means the message was received again meanwhile: that delivery owns it now.
        const failed = (out.Failed ?? []).filter((f) => !STALE_HANDLE.has(f.Code ?? ''));
        if (failed.length > 0) {
          throw new CeleriacError(
            ErrorCodes.BACKEND_UNAVAILABLE,
            `SQS did not delete ${failed.length} message(s) from ${queue}: ${failed[0]?.Code}: ${failed[0]?.Message}`,
            {
              retryable: failed.every((f) => f.SenderFault !== true),
              details: { failed },
            },
          );
        }
      }),
    );
  }

  async changeVisibility(queue: string, receiptHandle: string, seconds: number): Promise<void> {
    const url = await this.url(queue);
    try {
      await this.client.send(
        new ChangeMessageVisibilityCommand({ QueueUrl: url, ReceiptHandle: receiptHandle, VisibilityTimeout: seconds }),
      );
    } catch (e) {
      if (STALE_HANDLE.has(errorName(e))) return;
      throw backendError(`ChangeMessageVisibility on ${queue}`, e);
    }
  }

  async depth(queue: string): Promise<{ visible: number; inFlight: number; delayed: number }> {
    const url = await this.url(queue);
    try {
      const out = await this.client.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible', 'ApproximateNumberOfMessagesDelayed'],
        }),
      );
      const a = out.Attributes ?? {};
      return {
        visible: Number(a.ApproximateNumberOfMessages ?? 0),
        inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
        delayed: Number(a.ApproximateNumberOfMessagesDelayed ?? 0),
      };
    } catch (e) {
      throw backendError(`GetQueueAttributes on ${queue}`, e);
    }
  }

  async purge(queue: string): Promise<void> {
    const url = await this.url(queue);
    try {
      await this.client.send(new PurgeQueueCommand({ QueueUrl: url }));
    } catch (e) {
      throw backendError(`PurgeQueue on ${queue}`, e);
    }
  }

  /** The URL for a logical queue name (a full URL passes through, for DLQs and the CLI). */
  url(queue: string): Promise<string> {
    const known = this.queueUrls[queue];
    if (known !== undefined) return Promise.resolve(known);
    if (queue.startsWith('https://') || queue.startsWith('http://')) return Promise.resolve(queue);
    let p = this.resolved.get(queue);
    if (p === undefined) {
      p = this.lookup(queue);
      this.resolved.set(queue, p);
      // A failed lookup is not cached: the queue may exist by the next call.
      p.catch(() => this.resolved.delete(queue));
    }
    return p;
  }

  private async lookup(queue: string): Promise<string> {
    try {
      const out = await this.client.send(new GetQueueUrlCommand({ QueueName: queue }));
      if (out.QueueUrl === undefined) throw new Error('GetQueueUrl returned no URL');
      return out.QueueUrl;
    } catch (e) {
      if (NO_QUEUE.has(errorName(e))) {
        throw new CeleriacError(
          ErrorCodes.NOT_CONFIGURED,
          `queue "${queue}" has no URL in CELERIAC_QUEUE_URLS and no SQS queue of that name exists`,
          { cause: e, details: { queue } },
        );
      }
      throw backendError(`GetQueueUrl for ${queue}`, e);
    }
  }

  private async sendBatch(queue: string, batch: readonly OutgoingMessage[]): Promise<BatchOutcome> {
    const url = await this.url(queue);
    const out = await this.client.send(
      new SendMessageBatchCommand({
        QueueUrl: url,
        // Entry ids are positions: envelope ids may repeat within a batch (a re-sent message).
        Entries: batch.map((m, i) => ({
          Id: String(i),
          MessageBody: this.escapeNonBmp ? escapeNonBmpInJson(m.body) : m.body,
          ...(m.delaySeconds ? { DelaySeconds: m.delaySeconds } : {}),
          // On a standard queue a group id makes SQS deliver fairly across tenants (fair queues).
          ...(m.groupId !== undefined ? { MessageGroupId: m.groupId } : {}),
        })),
      }),
    );
    const outcome: (EntryFailure | undefined)[] = batch.map(() => ({
      code: 'NoAnswer',
      message: 'SQS reported neither success nor failure',
      retryable: true,
    }));
    for (const s of out.Successful ?? []) outcome[Number(s.Id)] = undefined;
    for (const f of out.Failed ?? []) {
      outcome[Number(f.Id)] = { code: f.Code ?? 'Unknown', message: f.Message ?? '', retryable: f.SenderFault !== true };
    }
    return outcome;
  }
}

const SURROGATE = /[\uD800-\uDFFF]/;
const NON_BMP = /[\u{10000}-\u{10FFFF}]/gu;

/** Escapes astral characters of a JSON text (where they can only sit inside strings). */
export function escapeNonBmpInJson(body: string): string {
  if (!SURROGATE.test(body)) return body;
  try {
    JSON.parse(body);
  } catch {
    return body;
  }
  return body.replace(NON_BMP, (c) => {
    const hi = c.charCodeAt(0).toString(16);
    const lo = c.charCodeAt(1).toString(16);
    return `\\u${hi}\\u${lo}`;
  });
}

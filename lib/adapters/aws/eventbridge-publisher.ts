import { type EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { CeleriacError, ErrorCodes } from '../../errors';
import type { BusEvent, Clock, EventPublisher } from '../../ports';
import { EVENTS_MAX_BATCH_BYTES, EVENTS_MAX_BATCH_ENTRIES, eventEntryBytes, eventTooLarge } from '../../protocol/limits';
import { systemClock } from '../system';
import { type BatchOutcome, Coalescer, type EntryFailure } from './coalescer';
import { DEFAULT_RETRY, errorName, isTransient, type RetryPolicy } from './retry';

/**
 * Entry error codes that will fail again however often they are retried: the PutEventsResultEntry
 * reference's non-retryable list (AccessDeniedException, InvalidAccountIdException,
 * InvalidArgument, MalformedDetail, RedactionFailure, NotAuthorizedForSourceException,
 * NotAuthorizedForDetailTypeException), and a bus that does not exist or a request refused whole.
 */
const PERMANENT_ENTRY_ERRORS = new Set([
  'AccessDeniedException',
  'InvalidAccountIdException',
  'InvalidArgument',
  'MalformedDetail',
  'RedactionFailure',
  'NotAuthorizedForSourceException',
  'NotAuthorizedForDetailTypeException',
  'ValidationException',
  'ResourceNotFoundException',
]);

export interface EventBridgePublisherOptions {
  readonly client: EventBridgeClient;
  /** Bus name or ARN (`CELERIAC_BUS`); the account's default bus when omitted. */
  readonly bus?: string;
  readonly clock?: Clock;
  /** Backoff for failed entries (default 5 attempts, 50 ms…2 s, full jitter). */
  readonly retry?: Partial<RetryPolicy>;
}

interface Prepared {
  readonly entry: PutEventsRequestEntry;
  readonly event: BusEvent;
}

/**
 * {@link EventPublisher} over EventBridge PutEvents. Events from concurrent callers share
 * requests (≤ 10 entries, ≤ 256 KB each); entries reported in `Entries[].ErrorCode` are resent
 * with backoff unless the code is permanent, and what still failed rejects with `PUBLISH_FAILED`.
 * An event too large for any request is refused up front with `MESSAGE_TOO_LARGE`.
 */
export class EventBridgePublisher implements EventPublisher {
  private readonly client: EventBridgeClient;
  private readonly bus: string | undefined;
  private readonly coalescer: Coalescer<Prepared>;

  constructor(opts: EventBridgePublisherOptions) {
    this.client = opts.client;
    this.bus = opts.bus;
    this.coalescer = new Coalescer<Prepared>({
      maxEntries: EVENTS_MAX_BATCH_ENTRIES,
      maxBytes: EVENTS_MAX_BATCH_BYTES,
      send: (_key, batch) => this.put(batch),
      classify: (e): EntryFailure => ({
        code: errorName(e),
        message: e instanceof Error ? e.message : String(e),
        retryable: isTransient(e),
      }),
      retry: { ...DEFAULT_RETRY, ...opts.retry },
      clock: opts.clock ?? systemClock,
    });
  }

  async publish(events: readonly BusEvent[]): Promise<void> {
    if (events.length === 0) return;
    const prepared = events.map((event) => {
      const detail = JSON.stringify(event.detail);
      const bytes = eventEntryBytes(event.source, event.detailType, detail, event.resources);
      if (bytes > EVENTS_MAX_BATCH_BYTES) throw eventTooLarge(event.detailType, bytes, event.detail.id);
      const entry: PutEventsRequestEntry = {
        Source: event.source,
        DetailType: event.detailType,
        Detail: detail,
        Time: new Date(event.time),
        ...(event.resources === undefined ? {} : { Resources: [...event.resources] }),
        ...(this.bus === undefined ? {} : { EventBusName: this.bus }),
      };
      return { value: { entry, event }, bytes };
    });
    const failed = await this.coalescer.submit('', prepared);
    if (failed.length === 0) return;
    const first = failed[0] as (typeof failed)[number];
    const name = (f: (typeof failed)[number]): string => {
      const id = f.value.event.detail.id;
      return typeof id === 'string' ? `${f.value.event.detailType} ${id}` : f.value.event.detailType;
    };
    throw new CeleriacError(
      ErrorCodes.PUBLISH_FAILED,
      `EventBridge did not accept ${failed.length} of ${events.length} event(s) (${failed.map(name).join(', ')}): ${first.code}: ${first.message}`,
      {
        retryable: failed.every((f) => f.retryable),
        details: { failed: failed.map((f) => ({ event: name(f), code: f.code, message: f.message })) },
      },
    );
  }

  private async put(batch: readonly Prepared[]): Promise<BatchOutcome> {
    const out = await this.client.send(new PutEventsCommand({ Entries: batch.map((p) => p.entry) }));
    const results = out.Entries ?? [];
    return batch.map((_, i): EntryFailure | undefined => {
      const r = results[i];
      if (r === undefined) return { code: 'NoAnswer', message: 'EventBridge returned no result for this entry', retryable: true };
      if (r.ErrorCode === undefined || r.ErrorCode === null || r.ErrorCode === '') return undefined;
      return { code: r.ErrorCode, message: r.ErrorMessage ?? '', retryable: !PERMANENT_ENTRY_ERRORS.has(r.ErrorCode) };
    });
  }
}

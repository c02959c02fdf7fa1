import type { BusEvent, EventPublisher } from '../../ports';
import { EVENTS_MAX_BATCH_BYTES, eventEntryBytes, eventTooLarge } from '../../protocol/limits';

/** Receives each published batch; a returned promise is awaited by `publish`. */
export type BusListener = (events: readonly BusEvent[]) => void | Promise<void>;

export interface MemoryEventPublisherOptions {
  /**
   * How many recent events `events` retains at least (default 100,000; at most twice that): a long local run must not grow
   * without bound. Older ones are dropped in bulk, which keeps appends O(1) amortised.
   */
  readonly keep?: number;
  /** Where a listener's failure goes (default `console.error`): as on EventBridge, a target's failure never fails the publish. */
  readonly onListenerError?: (error: unknown) => void;
}

/**
 * The in-memory {@link EventPublisher}: records events (copied, so later mutation by the caller
 * changes nothing) and hands each batch to subscribers — the local event bus subscribes here.
 * Enforces EventBridge's entry size limit so oversized events fail in memory mode too.
 */
export class MemoryEventPublisher implements EventPublisher {
  // Stored as JSON (what EventBridge would carry) and parsed only when read: publishing stays a
  // single stringify, and readers still get copies they cannot use to mutate the log.
  private readonly log: StoredEvent[] = [];
  private readonly listeners: BusListener[] = [];
  private readonly keep: number;
  private readonly onListenerError: (error: unknown) => void;

  constructor(opts: MemoryEventPublisherOptions = {}) {
    this.keep = opts.keep ?? 100_000;
    this.onListenerError = opts.onListenerError ?? ((e) => console.error('celeriac: event listener failed', e));
  }

  /** Events published so far (at least the most recent `keep`), oldest first. */
  get events(): readonly BusEvent[] {
    return this.log.map(materialize);
  }

  async publish(events: readonly BusEvent[]): Promise<void> {
    const stored: StoredEvent[] = [];
    for (const e of events) {
      const json = JSON.stringify(e.detail);
      const bytes = eventEntryBytes(e.source, e.detailType, json, e.resources);
      if (bytes > EVENTS_MAX_BATCH_BYTES) throw eventTooLarge(e.detailType, bytes, e.detail.id);
      stored.push({
        source: e.source,
        detailType: e.detailType,
        json,
        time: e.time,
        resources: e.resources === undefined ? undefined : e.resources.length === 0 ? NONE : [...e.resources],
      });
    }
    for (const c of stored) this.log.push(c);
    if (this.log.length > this.keep * 2) this.log.splice(0, this.log.length - this.keep);
    if (this.listeners.length === 0 || stored.length === 0) return;
    const copies = stored.map(materialize);
    if (this.listeners.length === 0 || copies.length === 0) return;
    const pending: Promise<void>[] = [];
    for (const l of this.listeners) {
      try {
        const r = l(copies);
        if (r !== undefined) pending.push(r.catch(this.onListenerError));
      } catch (e) {
        this.onListenerError(e);
      }
    }
    if (pending.length > 0) await Promise.all(pending);
  }

  /** Calls `listener` with every published batch; returns the unsubscribe function. */
  subscribe(listener: BusListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i !== -1) this.listeners.splice(i, 1);
    };
  }

  /** Forgets recorded events (subscribers stay). */
  clear(): void {
    this.log.length = 0;
  }
}

const NONE: readonly string[] = Object.freeze([]);

interface StoredEvent {
  readonly source: string;
  readonly detailType: string;
  readonly json: string;
  readonly time: number;
  readonly resources: readonly string[] | undefined;
}

function materialize(e: StoredEvent): BusEvent {
  return {
    source: e.source,
    detailType: e.detailType,
    detail: JSON.parse(e.json) as BusEvent['detail'],
    time: e.time,
    ...(e.resources === undefined ? {} : { resources: e.resources.length === 0 ? [] : [...e.resources] }),
  };
}

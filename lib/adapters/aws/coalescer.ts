import type { Clock } from '../../ports';
import { backoffMs, type RetryPolicy } from './retry';

/** Why one entry was not accepted. */
export interface EntryFailure {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
}

/** Per entry, in order: undefined when accepted. */
export type BatchOutcome = readonly (EntryFailure | undefined)[];

export interface CoalescerOptions<T> {
  readonly maxEntries: number;
  readonly maxBytes: number;
  /** Sends one batch for `key`. A throw fails every entry with `classify(error)`. */
  readonly send: (key: string, batch: readonly T[]) => Promise<BatchOutcome>;
  readonly classify: (error: unknown) => EntryFailure;
  readonly retry: RetryPolicy;
  readonly clock: Clock;
}

interface Pending<T> {
  readonly value: T;
  readonly bytes: number;
  readonly done: (outcome: EntryFailure | undefined) => void;
}

interface OpenBatch<T> {
  items: Pending<T>[];
  bytes: number;
}

/**
 * Packs entries from concurrent callers into batch requests per key (an SQS queue, an event
 * bus): a batch is sent as soon as it is full (entries or bytes) or on the next turn of the event
 * loop, so callers that publish at the same moment share requests without anyone waiting for a
 * timer. Entries that fail retryably are resent with backoff; each caller learns the final
 * outcome of its own entries.
 */
export class Coalescer<T> {
  private readonly open = new Map<string, OpenBatch<T>>();
  private scheduled = false;

  constructor(private readonly opts: CoalescerOptions<T>) {}

  /** Queues entries; resolves with the failures among them after retries (empty: all accepted). */
  submit(
    key: string,
    entries: readonly { readonly value: T; readonly bytes: number }[],
  ): Promise<(EntryFailure & { readonly value: T })[]> {
    const outcomes = entries.map(
      (e) =>
        new Promise<(EntryFailure & { readonly value: T }) | undefined>((resolve) => {
          this.add(key, { value: e.value, bytes: e.bytes, done: (f) => resolve(f === undefined ? undefined : { ...f, value: e.value }) });
        }),
    );
    return Promise.all(outcomes).then((all) => all.filter((f) => f !== undefined));
  }

  private add(key: string, p: Pending<T>): void {
    let b = this.open.get(key);
    if (b !== undefined && b.items.length > 0 && b.bytes + p.bytes > this.opts.maxBytes) {
      this.dispatch(key, b.items);
      b = undefined;
    }
    if (b === undefined) {
      b = { items: [], bytes: 0 };
      this.open.set(key, b);
    }
    b.items.push(p);
    b.bytes += p.bytes;
    if (b.items.length >= this.opts.maxEntries) {
      this.open.delete(key);
      this.dispatch(key, b.items);
      return;
    }
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flushAll());
    }
  }

  private flushAll(): void {
    this.scheduled = false;
    const batches = [...this.open];
    this.open.clear();
    for (const [key, b] of batches) if (b.items.length > 0) this.dispatch(key, b.items);
  }

  private dispatch(key: string, items: Pending<T>[]): void {
    if (this.open.get(key)?.items === items) this.open.delete(key);
    void this.run(key, items);
  }

  private async run(key: string, items: readonly Pending<T>[]): Promise<void> {
    const { retry, clock } = this.opts;
    let pending = items;
    for (let attempt = 1; pending.length > 0; attempt++) {
      let outcome: BatchOutcome;
      try {
        outcome = await this.opts.send(
          key,
          pending.map((p) => p.value),
        );
      } catch (e) {
        const f = this.opts.classify(e);
        outcome = pending.map(() => f);
      }
      const again: Pending<T>[] = [];
      for (let i = 0; i < pending.length; i++) {
        const p = pending[i] as Pending<T>;
        const f = outcome[i];
        if (f === undefined) p.done(undefined);
        else if (f.retryable && attempt < retry.attempts) again.push(p);
        else p.done(f);
      }
      pending = again;
      if (pending.length > 0) await clock.sleep(backoffMs(retry, attempt));
    }
  }
}

/**
 * The broker local mode hands to the app: the real adapter (memory, or SQS against an emulator)
 * behind a thin layer that
 *
 * - holds delayed messages (SQS `DelaySeconds`) on local time and sends them when due. The
 *   emulators only know wall-clock time, so a delay they held could not be fast-forwarded by
 *   `tick()`; and SQS exposes only a count of delayed messages, while `drain()` needs each one's
 *   due time to tell a 5-second countdown (wait for it) from a chord deadline check a day away
 *   (ignore it). What the worker sees is the same: the message arrives when its delay is over.
 * - counts activity, so `drain()` can tell that nothing moved between two idle observations.
 */

import { CeleriacError, ErrorCodes } from '../errors';
import type { Broker, OutgoingMessage, QueueAdmin, QueueConsumer, ReceivedMessage } from '../ports';
import { checkOutgoing } from '../protocol/limits';
import type { Activity, LocalTime } from './time';

/** A full broker: what the memory and SQS adapters both are. */
export type FullBroker = Broker & QueueConsumer & QueueAdmin;

/** A delayed message waiting on local time. */
export interface HeldMessage {
  readonly queue: string;
  /** The envelope id (the `id` of the outgoing message). */
  readonly id: string;
  /** Epoch ms of local time when it is sent on. */
  readonly dueAt: number;
  /** The task name, when the body is an envelope. */
  readonly task?: string;
}

interface Held extends HeldMessage {
  readonly message: OutgoingMessage;
  readonly cancel: () => void;
}

/**
 * The broker local mode gives the app: the adapter's queues, with delays held on local time, sends
 * limited to the topology's queues, and activity counted for `drain()`.
 */
export class LocalBroker implements Broker, QueueConsumer, QueueAdmin {
  readonly #inner: FullBroker;
  readonly #time: LocalTime;
  readonly #activity: Activity;
  readonly #queues: ReadonlySet<string>;
  readonly #held = new Set<Held>();
  readonly #onError: (error: unknown, message: OutgoingMessage) => void;

  /** @param queues the (logical) queues local mode created: the topology's. */
  constructor(
    inner: FullBroker,
    time: LocalTime,
    activity: Activity,
    queues: ReadonlySet<string>,
    onError: (error: unknown, message: OutgoingMessage) => void,
  ) {
    this.#inner = inner;
    this.#time = time;
    this.#activity = activity;
    this.#queues = queues;
    this.#onError = onError;
  }

  /** The adapter underneath. */
  get inner(): FullBroker {
    return this.#inner;
  }

  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    // Same validation as the adapter, up front: a held message must fail now, not when due.
    checkOutgoing(messages);
    // Only the topology's queues exist on AWS. The SQS adapter finds that out itself; the memory
    // broker would create any queue on first use, so local mode refuses the send for it.
    const unknown = messages.find((m) => !this.#queues.has(m.queue));
    if (unknown !== undefined) {
      throw new CeleriacError(
        ErrorCodes.NOT_CONFIGURED,
        `queue "${unknown.queue}" is not in the app's topology (no task lives on it), so it does not exist when deployed either; known queues: ${[...this.#queues].join(', ')}`,
        { details: { queue: unknown.queue, id: unknown.id } },
      );
    }
    const now: OutgoingMessage[] = [];
    for (const m of messages) {
      if (m.delaySeconds && m.delaySeconds > 0) this.#hold(m);
      else now.push(m);
    }
    this.#activity.bump();
    if (now.length > 0) await this.#inner.send(now);
    this.#activity.bump();
  }

  receive(queue: string, opts: { max: number; visibilityTimeoutSeconds: number; waitMs: number }): Promise<ReceivedMessage[]> {
    return this.#inner.receive(queue, opts);
  }

  async delete(queue: string, receiptHandles: readonly string[]): Promise<void> {
    await this.#inner.delete(queue, receiptHandles);
    this.#activity.bump();
  }

  async changeVisibility(queue: string, receiptHandle: string, seconds: number): Promise<void> {
    await this.#inner.changeVisibility(queue, receiptHandle, seconds);
    this.#activity.bump();
  }

  /** Depth as SQS reports it, plus the messages held here as `delayed`. */
  async depth(queue: string): Promise<{ visible: number; inFlight: number; delayed: number }> {
    const d = await this.#inner.depth(queue);
    let held = 0;
    for (const h of this.#held) if (h.queue === queue) held++;
    return { visible: d.visible, inFlight: d.inFlight, delayed: d.delayed + held };
  }

  async purge(queue: string): Promise<void> {
    for (const h of [...this.#held]) {
      if (h.queue !== queue) continue;
      h.cancel();
      this.#held.delete(h);
    }
    await this.#inner.purge(queue);
    this.#activity.bump();
  }

  /** Delayed messages still held, earliest first. */
  held(): HeldMessage[] {
    return [...this.#held]
      .sort((a, b) => a.dueAt - b.dueAt)
      .map((h) => ({ queue: h.queue, id: h.id, dueAt: h.dueAt, ...(h.task === undefined ? {} : { task: h.task }) }));
  }

  /** Drops every held message (on stop: like the in-memory emulators, local state does not outlive the run). */
  clear(): void {
    for (const h of this.#held) h.cancel();
    this.#held.clear();
  }

  #hold(m: OutgoingMessage): void {
    const dueAt = this.#time.now() + (m.delaySeconds as number) * 1000;
    const { delaySeconds: _delay, ...message } = m;
    const task = taskOf(m.body);
    const held: Held = {
      queue: m.queue,
      id: m.id,
      dueAt,
      ...(task === undefined ? {} : { task }),
      message,
      cancel: this.#time.at(dueAt, async () => {
        try {
          await this.#inner.send([message]);
        } catch (e) {
          this.#onError(e, message);
        } finally {
          this.#held.delete(held);
          this.#activity.bump();
        }
      }),
    };
    this.#held.add(held);
  }
}

function taskOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { task?: unknown };
    return typeof parsed.task === 'string' ? parsed.task : undefined;
  } catch {
    return undefined;
  }
}

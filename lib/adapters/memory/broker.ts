import { CeleriacError, ErrorCodes } from '../../errors';
import type { Broker, Clock, Ids, OutgoingMessage, QueueAdmin, QueueConsumer, ReceivedMessage } from '../../ports';
import { checkOutgoing, SQS_MAX_BATCH_ENTRIES, SQS_MAX_VISIBILITY_SECONDS } from '../../protocol/limits';
import { sleepOn, systemClock } from './clock';
import { MinHeap } from './heap';
import { randomIds } from './ids';

// Message states. A message is in exactly one; `gen` changes with every transition, so a timer
// entry whose `gen` no longer matches is stale and ignored when popped.
const READY = 0;
const DELAYED = 1;
const IN_FLIGHT = 2;
const GONE = 3;

interface Msg {
  readonly messageId: string;
  readonly body: string;
  readonly sentAt: number;
  /** SQS MessageGroupId: the tenant, for fair receives. */
  readonly group: string | undefined;
  /** Order of becoming visible, across the queue's lanes (ties between lanes go to the oldest). */
  seq: number;
  state: number;
  gen: number;
  receiveCount: number;
  firstReceivedAt: number;
  /** The latest receipt handle: the only one that deletes or changes visibility (as SQS). */
  receipt: string | undefined;
}

/** When a delayed message becomes visible, or an in-flight one times out. */
interface Timer {
  readonly at: number;
  readonly msg: Msg;
  readonly gen: number;
}

/** Where messages received too often go (SQS RedrivePolicy). */
export interface MemoryRedrivePolicy {
  /** Dead-letter queue name (created on demand like any other). */
  readonly queue: string;
  /** A message received this many times is moved on its next receive, as SQS does. */
  readonly maxReceiveCount: number;
}

/** Visible messages of one tenant (or of none) in arrival order; entries may be stale (GONE). */
class Lane {
  /** The group id of a tenant's lane; undefined for the lane of ungrouped messages. */
  readonly group: string | undefined;
  ready: (Msg | undefined)[] = [];
  head = 0;
  /** Messages of this lane in flight (kept for grouped lanes only). */
  inFlight = 0;

  constructor(group?: string) {
    this.group = group;
  }

  /** The next visible message, left in place; stale entries before it are dropped. */
  peek(): Msg | undefined {
    const ready = this.ready;
    while (this.head < ready.length) {
      const m = ready[this.head];
      if (m !== undefined && m.state === READY) return m;
      ready[this.head++] = undefined;
    }
    ready.length = 0;
    this.head = 0;
    return undefined;
  }

  /** Drops the message {@link peek} returned. */
  shift(): void {
    this.ready[this.head++] = undefined;
    // Keeps the array from growing without bound when consumers lag behind producers.
    if (this.head > 1024 && this.head * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.head = 0;
    }
  }
}

class QueueState {
  /** Visible messages without a group id. */
  free = new Lane();
  /** One lane per message group id (tenant) that has visible or in-flight messages. */
  readonly groups = new Map<string, Lane>();
  /** The group lanes that may have visible messages. */
  readonly active = new Set<Lane>();
  seq = 0;
  readonly timers = new MinHeap<Timer>();
  readonly receipts = new Map<string, Msg>();
  visible = 0;
  delayed = 0;
  inFlight = 0;
  waiters: (() => void)[] = [];
  redrive: MemoryRedrivePolicy | undefined;
}

/** Called after messages land in a queue (before any receive can see them). */
export type SendListener = (queue: string, count: number) => void;

export interface MemoryBrokerOptions {
  readonly clock?: Clock;
  readonly ids?: Ids;
}

/**
 * In-memory queues with SQS standard-queue semantics: DelaySeconds, visibility timeouts, receive
 * counts, per-receive receipt handles (only the latest one acts), redrive to a dead-letter queue,
 * long polling. Queues are created on first use.
 *
 * Fair queues: a message sent with a group id (SQS `MessageGroupId`: its tenant) is received
 * before the messages of tenants that have more in flight, as SQS fair queues prioritise quiet
 * tenants over a noisy one. Here the rule is exact rather than SQS's approximate detection: a
 * receive takes, one message at a time, from the tenant with the fewest messages in flight (a
 * message without a group id counts as a tenant of its own, with none), the oldest on a tie. So a
 * noisy tenant's backlog delays a quiet tenant's message by about one message per tenant.
 *
 * Every operation is O(1) amortised: visible messages sit in an array consumed from a head index,
 * and delays and visibility timeouts are one min-heap evaluated lazily when a queue is touched —
 * there is no timer per message. Time comes from the injected {@link Clock}, so a fake clock
 * drives timeouts in tests.
 */
export class MemoryBroker implements Broker, QueueConsumer, QueueAdmin {
  private readonly queues = new Map<string, QueueState>();
  private readonly listeners: SendListener[] = [];
  private readonly clock: Clock;
  private readonly ids: Ids;

  constructor(opts: MemoryBrokerOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.ids = opts.ids ?? randomIds;
  }

  /** Creates (or reconfigures) a queue; `redrive` moves over-received messages to a DLQ. */
  configureQueue(name: string, opts: { redrive?: MemoryRedrivePolicy } = {}): void {
    const q = this.queue(name);
    if (opts.redrive !== undefined) {
      if (!Number.isInteger(opts.redrive.maxReceiveCount) || opts.redrive.maxReceiveCount < 1) {
        throw new CeleriacError(
          ErrorCodes.INVALID_OPTIONS,
          `maxReceiveCount must be a positive integer, got ${opts.redrive.maxReceiveCount}`,
        );
      }
      if (opts.redrive.queue === name)
        throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `queue "${name}" cannot be its own dead-letter queue`);
      this.queue(opts.redrive.queue);
    }
    q.redrive = opts.redrive;
  }

  /** Names of every queue that exists so far. */
  queueNames(): string[] {
    return [...this.queues.keys()];
  }

  async send(messages: readonly OutgoingMessage[]): Promise<void> {
    checkOutgoing(messages);
    const now = this.clock.now();
    let touched: Map<string, number> | undefined;
    for (const m of messages) {
      const q = this.queue(m.queue);
      const delayMs = (m.delaySeconds ?? 0) * 1000;
      const msg: Msg = {
        messageId: this.ids.uuid(),
        body: m.body,
        sentAt: now,
        group: m.groupId,
        seq: 0,
        state: READY,
        gen: 0,
        receiveCount: 0,
        firstReceivedAt: 0,
        receipt: undefined,
      };
      if (delayMs > 0) {
        msg.state = DELAYED;
        q.delayed++;
        q.timers.push({ at: now + delayMs, msg, gen: 0 });
      } else {
        q.visible++;
        this.pushReady(q, msg);
      }
      touched ??= new Map();
      touched.set(m.queue, (touched.get(m.queue) ?? 0) + 1);
    }
    if (touched === undefined) return;
    for (const [name, count] of touched) {
      const q = this.queues.get(name) as QueueState;
      if (q.visible > 0) this.wake(q);
      for (const l of this.listeners) l(name, count);
    }
  }

  async receive(queue: string, opts: { max: number; visibilityTimeoutSeconds: number; waitMs: number }): Promise<ReceivedMessage[]> {
    const { max, visibilityTimeoutSeconds: vt, waitMs } = opts;
    if (!Number.isInteger(max) || max < 1 || max > SQS_MAX_BATCH_ENTRIES) {
      throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `receive max must be an integer 1…${SQS_MAX_BATCH_ENTRIES}, got ${max}`);
    }
    if (!Number.isInteger(vt) || vt < 0 || vt > SQS_MAX_VISIBILITY_SECONDS) {
      throw new CeleriacError(
        ErrorCodes.INVALID_OPTIONS,
        `visibilityTimeoutSeconds must be an integer 0…${SQS_MAX_VISIBILITY_SECONDS}, got ${vt}`,
      );
    }
    const q = this.queue(queue);
    const deadline = this.clock.now() + Math.max(0, waitMs);
    for (;;) {
      const out = this.take(q, max, vt);
      if (out.length > 0) return out;
      const now = this.clock.now();
      if (now >= deadline) return out;
      await this.waitFor(q, Math.min(deadline, q.timers.peekAt()) - now);
    }
  }

  async delete(queue: string, receiptHandles: readonly string[]): Promise<void> {
    const q = this.queues.get(queue);
    if (q === undefined) return;
    for (const h of receiptHandles) {
      const m = q.receipts.get(h);
      if (m === undefined) continue;
      q.receipts.delete(h);
      if (m.state === IN_FLIGHT) this.land(q, m);
      else if (m.state === READY) q.visible--;
      m.state = GONE;
      m.gen++;
      m.receipt = undefined;
    }
    this.compactTimers(q);
  }

  async changeVisibility(queue: string, receiptHandle: string, seconds: number): Promise<void> {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > SQS_MAX_VISIBILITY_SECONDS) {
      throw new CeleriacError(
        ErrorCodes.INVALID_OPTIONS,
        `visibility timeout must be an integer 0…${SQS_MAX_VISIBILITY_SECONDS}, got ${seconds}`,
      );
    }
    const q = this.queues.get(queue);
    const m = q?.receipts.get(receiptHandle);
    // As SQS: only an in-flight message's latest receipt acts; anything else is a no-op here
    // (SQS answers MessageNotInflight, which the SQS adapter also swallows).
    if (q === undefined || m === undefined || m.state !== IN_FLIGHT) return;
    m.gen++;
    if (seconds === 0) {
      this.land(q, m);
      m.state = READY;
      q.visible++;
      this.pushReady(q, m);
      this.wake(q);
    } else {
      q.timers.push({ at: this.clock.now() + seconds * 1000, msg: m, gen: m.gen });
      this.compactTimers(q);
    }
  }

  async depth(queue: string): Promise<{ visible: number; inFlight: number; delayed: number }> {
    const q = this.queues.get(queue);
    if (q === undefined) return { visible: 0, inFlight: 0, delayed: 0 };
    this.promote(q, this.clock.now());
    return { visible: q.visible, inFlight: q.inFlight, delayed: q.delayed };
  }

  async purge(queue: string): Promise<void> {
    const q = this.queues.get(queue);
    if (q === undefined) return;
    for (const m of q.receipts.values()) m.state = GONE;
    for (const lane of [q.free, ...q.groups.values()]) {
      for (let i = lane.head; i < lane.ready.length; i++) {
        const m = lane.ready[i];
        if (m !== undefined) m.state = GONE;
      }
    }
    q.free = new Lane();
    q.groups.clear();
    q.active.clear();
    q.timers.clear();
    q.receipts.clear();
    q.visible = 0;
    q.delayed = 0;
    q.inFlight = 0;
  }

  /** Registers a listener called after every send; returns the unsubscribe function. */
  onSend(listener: SendListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i !== -1) this.listeners.splice(i, 1);
    };
  }

  /**
   * Resolves true as soon as `queue` has a visible message (at once if it has one now), false
   * after `timeoutMs` without one. Lets a poller sleep instead of spinning on empty receives.
   */
  async waitForMessage(queue: string, timeoutMs: number): Promise<boolean> {
    const q = this.queue(queue);
    const deadline = this.clock.now() + Math.max(0, timeoutMs);
    for (;;) {
      const now = this.clock.now();
      this.promote(q, now);
      if (q.visible > 0) return true;
      if (now >= deadline) return false;
      await this.waitFor(q, Math.min(deadline, q.timers.peekAt()) - now);
    }
  }

  private queue(name: string): QueueState {
    let q = this.queues.get(name);
    if (q === undefined) {
      q = new QueueState();
      this.queues.set(name, q);
    }
    return q;
  }

  /** Moves due delayed and timed-out in-flight messages to the visible list. */
  private promote(q: QueueState, now: number): void {
    for (let t = q.timers.popDue(now); t !== undefined; t = q.timers.popDue(now)) {
      const m = t.msg;
      if (t.gen !== m.gen) continue;
      if (m.state === DELAYED) q.delayed--;
      else if (m.state === IN_FLIGHT) this.land(q, m);
      else continue;
      m.state = READY;
      m.gen++;
      q.visible++;
      this.pushReady(q, m);
    }
  }

  /** Makes `m` (READY) the last visible message of its lane. */
  private pushReady(q: QueueState, m: Msg): void {
    m.seq = q.seq++;
    if (m.group === undefined) {
      q.free.ready.push(m);
      return;
    }
    let lane = q.groups.get(m.group);
    if (lane === undefined) {
      lane = new Lane(m.group);
      q.groups.set(m.group, lane);
    }
    lane.ready.push(m);
    q.active.add(lane);
  }

  /** `m` leaves the in-flight state (deleted, timed out, made visible again). */
  private land(q: QueueState, m: Msg): void {
    q.inFlight--;
    if (m.group === undefined) return;
    const lane = q.groups.get(m.group);
    if (lane === undefined) return;
    lane.inFlight--;
    if (lane.inFlight === 0 && lane.peek() === undefined) {
      q.groups.delete(m.group);
      q.active.delete(lane);
    }
  }

  /**
   * The next message to hand out: without groups, the oldest visible one; with groups, the oldest
   * of the tenant with the fewest messages in flight (an ungrouped message is a tenant with none).
   */
  private nextReady(q: QueueState): Msg | undefined {
    if (q.active.size === 0) {
      const m = q.free.peek();
      if (m !== undefined) q.free.shift();
      return m;
    }
    let best: Lane | undefined;
    let bestMsg: Msg | undefined = q.free.peek();
    if (bestMsg !== undefined) best = q.free;
    let bestRank = 0;
    for (const lane of q.active) {
      const m = lane.peek();
      if (m === undefined) {
        q.active.delete(lane);
        if (lane.inFlight === 0) q.groups.delete(lane.group as string);
        continue;
      }
      const rank = lane.inFlight;
      if (bestMsg === undefined || rank < bestRank || (rank === bestRank && m.seq < bestMsg.seq)) {
        best = lane;
        bestMsg = m;
        bestRank = rank;
      }
    }
    best?.shift();
    return bestMsg;
  }

  private take(q: QueueState, max: number, vt: number): ReceivedMessage[] {
    const now = this.clock.now();
    this.promote(q, now);
    const out: ReceivedMessage[] = [];
    while (out.length < max) {
      const m = this.nextReady(q);
      if (m === undefined) break;
      q.visible--;
      if (q.redrive !== undefined && m.receiveCount >= q.redrive.maxReceiveCount) {
        this.deadLetter(q, q.redrive.queue, m);
        continue;
      }
      if (m.receipt !== undefined) q.receipts.delete(m.receipt);
      m.receiveCount++;
      if (m.receiveCount === 1) m.firstReceivedAt = now;
      const receipt = `${m.messageId}:${m.receiveCount}`;
      m.receipt = receipt;
      q.receipts.set(receipt, m);
      m.state = IN_FLIGHT;
      m.gen++;
      q.inFlight++;
      if (m.group !== undefined) (q.groups.get(m.group) as Lane).inFlight++;
      q.timers.push({ at: now + vt * 1000, msg: m, gen: m.gen });
      out.push({
        messageId: m.messageId,
        receiptHandle: receipt,
        body: m.body,
        receiveCount: m.receiveCount,
        sentAt: m.sentAt,
        firstReceivedAt: m.firstReceivedAt,
        ...(m.group !== undefined ? { attributes: { MessageGroupId: m.group } } : {}),
      });
    }
    return out;
  }

  /** Moves a message to the DLQ keeping its id, body, send time and receive count, as SQS does. */
  private deadLetter(q: QueueState, to: string, m: Msg): void {
    if (m.receipt !== undefined) q.receipts.delete(m.receipt);
    m.state = GONE;
    m.gen++;
    const dlq = this.queue(to);
    this.pushReady(dlq, { ...m, state: READY, gen: 0, receipt: undefined });
    dlq.visible++;
    this.wake(dlq);
    for (const l of this.listeners) l(to, 1);
  }

  /**
   * Each deleted or re-timed message leaves one stale timer behind; rebuilding once they
   * outnumber live entries bounds the heap by O(live) at O(1) amortised cost.
   */
  private compactTimers(q: QueueState): void {
    const live = q.delayed + q.inFlight;
    if (q.timers.size > 2 * live + 1024) q.timers.retain((t) => t.gen === t.msg.gen);
  }

  private wake(q: QueueState): void {
    if (q.waiters.length === 0) return;
    const ws = q.waiters;
    q.waiters = [];
    for (const w of ws) w();
  }

  /** Waits until something is sent to `q` or `ms` pass, whichever is first. */
  private waitFor(q: QueueState, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const ac = new AbortController();
      const waiter = (): void => {
        ac.abort();
        resolve();
      };
      q.waiters.push(waiter);
      void sleepOn(this.clock, Math.max(0, ms), ac.signal).then(() => {
        const i = q.waiters.indexOf(waiter);
        if (i !== -1) q.waiters.splice(i, 1);
        resolve();
      });
    });
  }
}

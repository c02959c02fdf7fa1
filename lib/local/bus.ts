/**
 * The local event bus: EventBridge's rule evaluation and target delivery, in-process. Lifecycle
 * events come in (from the memory publisher, or the PutEvents capture endpoint in emulated mode),
 * are turned into the event shape EventBridge delivers, matched against the topology's rules with
 * the EventBridge pattern matcher, and delivered to each matching rule's target:
 *
 * - a queue target gets the input transformer's output (or the whole event as JSON) as a message
 *   body, as an EventBridge → SQS target does;
 * - a subscriber target calls the subscriber's handler (the `handler` export of its `entry`
 *   module) with the event (or the transformed input), as an asynchronous Lambda invocation does:
 *   a failure is retried twice, then dropped with an error log.
 *
 * The rules are `buildTopology(app.topology()).rules` — the same data the CDK stack deploys.
 * Delivery is asynchronous (PutEvents returns before targets run, as on AWS); `idle()` and
 * `pending` let `drain()` wait for it.
 */
import type { EventBridgeEvent } from 'aws-lambda';
import type { Broker, Clock } from '../ports';
import type { SubscriberInfo, Topology, TopologyRule } from '../routing';
import { compilePattern, type EventMatcher, renderInputTransformer } from './eventbridge';
import { eventBridgeTime } from './eventbridge/transformer';
import { LOCAL_ACCOUNT } from './poller';

/** A lifecycle event as EventBridge delivers it to targets. */
export type LocalBusEvent = EventBridgeEvent<string, Record<string, unknown>>;

/** A subscriber handler: an EventBridge-triggered Lambda handler (e.g. `onTaskEvents(...)`). */
export type SubscriberHandler = (event: never, context?: SubscriberContext) => unknown;

/** The Lambda context fields a local subscriber invocation provides. */
export interface SubscriberContext {
  readonly functionName: string;
  readonly awsRequestId: string;
  getRemainingTimeInMillis(): number;
}

/** An in-process listener (`local.subscribe`): sees every event, or those matching its pattern. */
export type BusListener = (event: LocalBusEvent) => unknown;

/** An event as it enters the bus (the PutEvents entry, plus the id EventBridge assigns). */
export interface IncomingBusEvent {
  readonly id: string;
  readonly source: string;
  readonly detailType: string;
  readonly detail: Record<string, unknown>;
  /** Epoch ms. */
  readonly time: number;
  readonly resources?: readonly string[];
}

export interface LocalBusOptions {
  readonly topology: Topology;
  /** Where queue targets send (local mode's broker, so sends are tracked like any other). */
  readonly broker: Broker;
  /** Loads a subscriber's handler; undefined when it has none locally (logged once). */
  readonly loadSubscriber: (subscriber: SubscriberInfo) => Promise<SubscriberHandler | undefined>;
  readonly region?: string;
  readonly busName?: string;
  /**
   * What stamps the time the bus receives an event (`<aws.events.event.ingestion-time>` in input
   * transformers): startLocal passes local time, so it follows `tick()`. Default: the wall clock.
   */
  readonly clock?: Pick<Clock, 'now'>;
  /** How many delivered events `events` keeps. Default 10 000. */
  readonly keep?: number;
  readonly onActivity?: () => void;
  readonly onError: (message: string, error: unknown, extra?: Record<string, unknown>) => void;
}

interface CompiledRule {
  readonly rule: TopologyRule;
  readonly matches: EventMatcher;
}

/** Attempts for an asynchronous Lambda invocation: the first plus two retries, as Lambda makes. */
const SUBSCRIBER_ATTEMPTS = 3;
/** Attempts for an SQS target before the event is dropped (EventBridge retries for up to a day). */
const QUEUE_ATTEMPTS = 5;

/** The local EventBridge bus of one app: its rules, targets and in-process listeners. */
export class LocalBus {
  readonly #o: LocalBusOptions;
  readonly #rules: CompiledRule[];
  readonly #listeners = new Set<{ fn: BusListener; matches: EventMatcher | undefined }>();
  readonly #pending = new Set<Promise<void>>();
  readonly #handlers = new Map<string, Promise<SubscriberHandler | undefined>>();
  readonly #log: LocalBusEvent[] = [];
  readonly #delivered = new Map<string, number>();
  #stopped = false;

  constructor(options: LocalBusOptions) {
    this.#o = options;
    // Compiling validates every pattern up front: a bad rule fails startLocal, as it fails a deploy.
    this.#rules = options.topology.rules.map((rule) => ({ rule, matches: compilePattern(rule.eventPattern) }));
  }

  /** Deliveries still running (queue sends, subscriber invocations, listeners). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Recent events, oldest first, in EventBridge's delivered shape. */
  get events(): readonly LocalBusEvent[] {
    return this.#log;
  }

  /** How many events each rule has delivered, by rule name. */
  deliveries(): ReadonlyMap<string, number> {
    return this.#delivered;
  }

  /**
   * Takes events in and starts their deliveries; returns at once (PutEvents does not wait for
   * targets). Every delivery is tracked in `pending` before this returns.
   */
  ingest(events: readonly IncomingBusEvent[]): void {
    if (this.#stopped) return;
    // EventBridge stamps the ingestion time itself when it takes the event in: it is not the
    // entry's Time, which the sender chose (the worker's clock when the outcome was recorded).
    const received = eventBridgeTime(this.#o.clock?.now() ?? Date.now());
    for (const e of events) {
      const event = this.toEventBridge(e);
      this.#log.push(event);
      const keep = this.#o.keep ?? 10_000;
      if (this.#log.length > keep * 2) this.#log.splice(0, this.#log.length - keep);
      for (const { rule, matches } of this.#rules) {
        if (matches(event)) this.#track(this.#deliver(rule, event, received));
      }
      for (const l of this.#listeners) {
        if (l.matches === undefined || l.matches(event)) this.#track(this.#listen(l.fn, event));
      }
    }
    this.#o.onActivity?.();
  }

  /**
   * Registers an in-process listener (tests, the demo, the CLI): every event, or only those
   * matching an EventBridge `pattern`. Returns the unsubscribe function.
   */
  subscribe(fn: BusListener, pattern?: unknown): () => void {
    const entry = { fn, matches: pattern === undefined ? undefined : compilePattern(pattern) };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }

  /** Resolves once no delivery is running (including deliveries started meanwhile). */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Stops taking events and waits for running deliveries. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.idle();
  }

  /** The event EventBridge would deliver for a PutEvents entry. */
  toEventBridge(e: IncomingBusEvent): LocalBusEvent {
    return {
      version: '0',
      id: e.id,
      'detail-type': e.detailType,
      source: e.source,
      account: LOCAL_ACCOUNT,
      // EventBridge's `time` has second precision.
      time: eventBridgeTime(e.time),
      region: this.#o.region ?? 'us-east-1',
      resources: [...(e.resources ?? [])],
      detail: e.detail,
    };
  }

  #track(p: Promise<void>): void {
    const tracked = p.finally(() => {
      this.#pending.delete(tracked);
      this.#o.onActivity?.();
    });
    this.#pending.add(tracked);
  }

  async #listen(fn: BusListener, event: LocalBusEvent): Promise<void> {
    try {
      await fn(event);
    } catch (e) {
      this.#o.onError('local bus: an in-process subscriber threw', e, { eventId: event.id });
    }
  }

  async #deliver(rule: TopologyRule, event: LocalBusEvent, ingestionTime: string): Promise<void> {
    // Targets run after PutEvents has answered, never inside it.
    await Promise.resolve();
    let input: string | undefined;
    if (rule.inputTransformer !== undefined) {
      try {
        input = renderInputTransformer(rule.inputTransformer, event, {
          ruleName: rule.name,
          ingestionTime,
          ...(this.#o.busName === undefined ? {} : { eventBusName: this.#o.busName }),
        });
      } catch (e) {
        this.#o.onError(`local bus: rule ${rule.name}: the input transformer failed; the event is dropped`, e, { eventId: event.id });
        return;
      }
    }
    const target = rule.target;
    if (target.kind === 'queue') {
      const body = input ?? JSON.stringify(event);
      const sent = await this.#attempt(QUEUE_ATTEMPTS, () =>
        this.#o.broker.send([{ queue: target.queue, body, id: `${event.id}:${rule.name}` }]),
      );
      if (sent.ok) this.#count(rule.name);
      else
        this.#o.onError(`local bus: rule ${rule.name}: could not send to queue ${target.queue}; the event is dropped`, sent.error, {
          eventId: event.id,
        });
      return;
    }
    const subscriber = this.#o.topology.subscribers.find((s) => s.name === target.subscriber);
    if (subscriber === undefined) return;
    const handler = await this.#handler(subscriber);
    if (handler === undefined) return;
    const payload: unknown = input === undefined ? event : parseOrText(input);
    const started = Date.now();
    let last: unknown;
    for (let attempt = 1; attempt <= SUBSCRIBER_ATTEMPTS; attempt++) {
      try {
        await (handler as (event: unknown, context: SubscriberContext) => unknown)(payload, {
          functionName: `celeriac-subscriber-${subscriber.name}`,
          awsRequestId: `${event.id}:${attempt}`,
          getRemainingTimeInMillis: () => Math.max(0, started + 900_000 - Date.now()),
        });
        this.#count(rule.name);
        return;
      } catch (e) {
        last = e;
      }
    }
    this.#o.onError(
      `local bus: subscriber ${subscriber.name} failed ${SUBSCRIBER_ATTEMPTS} times (an asynchronous invocation and its 2 retries); the event is dropped`,
      last,
      { eventId: event.id, detailType: event['detail-type'] },
    );
  }

  #handler(subscriber: SubscriberInfo): Promise<SubscriberHandler | undefined> {
    let h = this.#handlers.get(subscriber.name);
    if (h === undefined) {
      h = this.#o.loadSubscriber(subscriber).catch((e: unknown) => {
        this.#o.onError(`local bus: could not load subscriber ${subscriber.name} (${subscriber.entry ?? 'no entry'})`, e);
        return undefined;
      });
      this.#handlers.set(subscriber.name, h);
    }
    return h;
  }

  async #attempt(attempts: number, fn: () => Promise<void>): Promise<{ ok: true } | { ok: false; error: unknown }> {
    let error: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        await fn();
        return { ok: true };
      } catch (e) {
        error = e;
        if (i + 1 < attempts) await new Promise((r) => setTimeout(r, 20 * 2 ** i));
      }
    }
    return { ok: false, error };
  }

  #count(rule: string): void {
    this.#delivered.set(rule, (this.#delivered.get(rule) ?? 0) + 1);
  }
}

function parseOrText(input: string): unknown {
  try {
    return JSON.parse(input);
  } catch {
    return input;
  }
}

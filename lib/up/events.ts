/**
 * EventBridge, from the template: each `AWS::Events::Rule` on its bus, its pattern compiled with
 * the local EventBridge matcher, and each target as synthesized — its ARN (a queue or a function),
 * `Input`, `InputPath` or `InputTransformer` (rendered by the local transformer), its retry policy
 * and its dead-letter queue. Events come in from the PutEvents endpoint; delivery is asynchronous,
 * as on AWS.
 */
import type { CapturedEvent } from '../local/emulators';
import { compilePattern, type EventMatcher, type InputTransformer, renderInputTransformer } from '../local/eventbridge';
import { eventBridgeTime } from '../local/eventbridge/transformer';
import { LOCAL_ACCOUNT } from '../local/poller';
import { TemplateError } from './template';

/** One target of a rule, as the template has it (resolved). */
export interface RuleTarget {
  readonly id: string;
  readonly arn: string;
  readonly input?: string;
  readonly inputPath?: string;
  readonly transformer?: InputTransformer;
  /** Delivery attempts after the first (RetryPolicy.MaximumRetryAttempts; EventBridge's default 185). */
  readonly maxRetries: number;
  readonly dlqArn?: string;
}

/** A rule of the template. */
export interface LocalRule {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** The bus name it listens on (`default` when the template names none). */
  readonly bus: string;
  readonly matches: EventMatcher;
  readonly targets: readonly RuleTarget[];
}

/** An event as EventBridge delivers it to targets. */
export interface DeliveredEvent {
  readonly version: '0';
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: unknown;
}

/**
 * The rule of a resolved `AWS::Events::Rule`. Throws a {@link TemplateError} for a rule `up` cannot
 * run: a schedule expression on the rule, a pattern the matcher refuses.
 */
export function ruleFromTemplate(
  logicalId: string,
  name: string,
  arn: string,
  props: Readonly<Record<string, unknown>>,
): LocalRule | undefined {
  if (props.State !== undefined && props.State !== 'ENABLED') return undefined;
  if (props.ScheduleExpression !== undefined) {
    throw new TemplateError(logicalId, 'scheduled EventBridge rules are not run by `celeriac up` (EventBridge Scheduler schedules are)');
  }
  let matches: EventMatcher;
  try {
    matches = compilePattern(props.EventPattern);
  } catch (e) {
    throw new TemplateError(logicalId, `its event pattern is not valid: ${(e as Error).message}`, e);
  }
  const busProp = props.EventBusName;
  const bus = typeof busProp === 'string' ? busName(busProp) : 'default';
  const targets = ruleTargets(props.Targets);
  return { logicalId, name, arn, bus, matches, targets };
}

/** The targets of a rule (`Targets` of the template, or of a PutTargets request). */
export function ruleTargets(targets: unknown): RuleTarget[] {
  return ((targets as Record<string, unknown>[] | undefined) ?? []).map((t): RuleTarget => {
    const it = t.InputTransformer as { InputPathsMap?: Record<string, string>; InputTemplate?: string } | undefined;
    const retry = t.RetryPolicy as { MaximumRetryAttempts?: number } | undefined;
    const dlq = (t.DeadLetterConfig as { Arn?: string } | undefined)?.Arn;
    return {
      id: String(t.Id),
      arn: String(t.Arn),
      ...(typeof t.Input === 'string' ? { input: t.Input } : {}),
      ...(typeof t.InputPath === 'string' ? { inputPath: t.InputPath } : {}),
      ...(it?.InputTemplate === undefined
        ? {}
        : { transformer: { inputTemplate: it.InputTemplate, ...(it.InputPathsMap ? { inputPathsMap: it.InputPathsMap } : {}) } }),
      maxRetries: retry?.MaximumRetryAttempts ?? 185,
      ...(dlq === undefined ? {} : { dlqArn: dlq }),
    };
  });
}

/** A bus name from a name or an event bus ARN. */
export function busName(nameOrArn: string): string {
  const m = /^arn:[^:]+:events:[^:]*:[^:]*:event-bus\/(.+)$/.exec(nameOrArn);
  return m ? (m[1] as string) : nameOrArn;
}

/** The event a PutEvents entry becomes on its bus. */
export function deliveredEvent(e: CapturedEvent, region: string): DeliveredEvent {
  return {
    version: '0',
    id: e.EventId,
    'detail-type': e.DetailType,
    source: e.Source,
    account: LOCAL_ACCOUNT,
    time: eventBridgeTime(e.Time === undefined ? Date.now() : e.Time * 1000),
    region,
    resources: e.Resources ?? [],
    detail: JSON.parse(e.Detail),
  };
}

/**
 * What a target receives: the transformer's output, the constant input, the input path's value, or
 * the event. `ingestionTime` is when the bus received the event (`<aws.events.event.ingestion-time>`);
 * without it, the event's `time` stands in.
 */
export function targetInput(rule: LocalRule, target: RuleTarget, event: DeliveredEvent, ingestionTime?: string): string {
  if (target.transformer !== undefined) {
    return renderInputTransformer(
      target.transformer,
      event,
      { ruleName: rule.name, ruleArn: rule.arn, eventBusName: rule.bus, ...(ingestionTime === undefined ? {} : { ingestionTime }) },
      { targetId: target.id },
    );
  }
  if (target.input !== undefined) return target.input;
  if (target.inputPath !== undefined) {
    return renderInputTransformer({ inputPathsMap: { v: target.inputPath }, inputTemplate: '<v>' }, event, {}, { targetId: target.id });
  }
  return JSON.stringify(event);
}

/**
 * Thrown by {@link TargetPorts.deliver} for a target ARN that names no queue or function of the
 * stack: the target does not exist, so the delivery is not retried. Named as Lambda and
 * EventBridge name a missing resource.
 */
export class TargetNotFoundError extends Error {
  override readonly name = 'ResourceNotFoundException';
}

/**
 * Error names (an SDK error's `name`, or its query-protocol `Code`) of deliveries that fail until
 * someone changes the stack: the target does not exist, or EventBridge may not reach it.
 */
const NOT_RETRIED = new Set([
  'QueueDoesNotExist',
  'AWS.SimpleQueueService.NonExistentQueue',
  'ResourceNotFoundException',
  'AccessDenied',
  'AccessDeniedException',
]);

/**
 * Whether EventBridge retries a target delivery that failed with `error`. It does not for
 * "missing permissions to a target, or a target resource that no longer exists": those events go
 * straight to the target's DLQ (or are dropped without one). Every other failure is retried by
 * the target's retry policy.
 */
export function isRetriedDeliveryError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return true;
  const { name, Code } = error as { name?: unknown; Code?: unknown };
  return !(NOT_RETRIED.has(String(name)) || NOT_RETRIED.has(String(Code)));
}

/** Where targets deliver: sends to a queue ARN, or invokes a function ARN asynchronously. */
export interface TargetPorts {
  /**
   * Delivers `body` to the queue or function `arn`; rejects when the delivery failed, with a
   * {@link TargetNotFoundError} when `arn` names no target (see {@link isRetriedDeliveryError}).
   */
  deliver(arn: string, body: string): Promise<void>;
  /** Sends a message that could not be delivered to a dead-letter queue. */
  deadLetter(dlqArn: string, body: string, reason: string): Promise<void>;
  onError(message: string, error: unknown): void;
}

/** The rules of the stack's buses; `ingest` is the PutEvents endpoint's `onEvents`. */
export class LocalEvents {
  readonly #rules: LocalRule[];
  readonly #ports: TargetPorts;
  readonly #region: string;
  readonly #pending = new Set<Promise<void>>();
  /** Events seen, newest last (for tests and `events`). */
  readonly delivered: DeliveredEvent[] = [];
  /** Delay between delivery attempts, ms (EventBridge backs off for up to a day; locally it is short). */
  readonly retryDelayMs: number;

  constructor(rules: readonly LocalRule[], ports: TargetPorts, region: string, retryDelayMs = 100) {
    this.#rules = [...rules];
    this.#ports = ports;
    this.#region = region;
    this.retryDelayMs = retryDelayMs;
  }

  /** Deliveries in flight. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Matches each event against the rules of its bus and starts the deliveries; returns at once. */
  ingest(events: readonly CapturedEvent[]): void {
    // EventBridge stamps the ingestion time when it takes the event in, whatever Time the entry
    // carries (the sender's choice).
    const received = eventBridgeTime(Date.now());
    for (const e of events) {
      const event = deliveredEvent(e, this.#region);
      this.delivered.push(event);
      if (this.delivered.length > 2_000) this.delivered.splice(0, 1_000);
      const bus = e.EventBusName === undefined ? 'default' : busName(e.EventBusName);
      for (const rule of this.#rules) {
        if (rule.bus !== bus || !rule.matches(event)) continue;
        for (const target of rule.targets) {
          const p = this.#deliver(rule, target, event, received).finally(() => this.#pending.delete(p));
          this.#pending.add(p);
        }
      }
    }
  }

  /** The rule `name` on `bus`, if there is one. */
  rule(bus: string, name: string): LocalRule | undefined {
    return this.#rules.find((r) => r.bus === bus && r.name === name);
  }

  /** Adds or replaces a rule (PutRule and PutTargets at run time). */
  put(rule: LocalRule): void {
    this.remove(rule.bus, rule.name);
    this.#rules.push(rule);
  }

  /** Removes a rule; false when there was none. */
  remove(bus: string, name: string): boolean {
    const i = this.#rules.findIndex((r) => r.bus === bus && r.name === name);
    if (i < 0) return false;
    this.#rules.splice(i, 1);
    return true;
  }

  /** Resolves when no delivery is in flight. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  async #deliver(rule: LocalRule, target: RuleTarget, event: DeliveredEvent, ingestionTime: string): Promise<void> {
    let body: string;
    try {
      body = targetInput(rule, target, event, ingestionTime);
    } catch (e) {
      // EventBridge cannot render the input: the event goes to the target's DLQ, or is dropped.
      return this.#fail(rule, target, JSON.stringify(event), e);
    }
    let last: unknown;
    for (let attempt = 0; attempt <= target.maxRetries; attempt++) {
      try {
        await this.#ports.deliver(target.arn, body);
        return;
      } catch (e) {
        last = e;
        // A target that is gone or refuses access fails every retry until someone acts on it, so
        // EventBridge sends the event to the DLQ at once.
        if (!isRetriedDeliveryError(e)) {
          this.#ports.onError(
            `rule ${rule.name} → ${target.arn}: delivery failed, not retried (the target does not exist or denies access)`,
            e,
          );
          break;
        }
        if (attempt === 0)
          this.#ports.onError(`rule ${rule.name} → ${target.arn}: delivery failed, retrying up to ${target.maxRetries} times`, e);
        if (attempt < target.maxRetries) await new Promise((r) => setTimeout(r, this.retryDelayMs * Math.min(2 ** attempt, 50)));
      }
    }
    return this.#fail(rule, target, JSON.stringify(event), last);
  }

  async #fail(rule: LocalRule, target: RuleTarget, eventJson: string, error: unknown): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    if (target.dlqArn === undefined) {
      this.#ports.onError(`rule ${rule.name} → ${target.arn}: undeliverable, dropped (the target has no dead-letter queue)`, error);
      return;
    }
    try {
      await this.#ports.deadLetter(target.dlqArn, eventJson, reason);
      this.#ports.onError(`rule ${rule.name} → ${target.arn}: undeliverable, sent to its dead-letter queue`, error);
    } catch (e) {
      this.#ports.onError(`rule ${rule.name} → ${target.arn}: undeliverable and its dead-letter queue refused it`, e);
    }
  }
}

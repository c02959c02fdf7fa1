import { Duration, Token } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { EventPattern, InputTransformer, TopologyRule } from '../lib/routing';

/** EventBridge refuses a rule with more targets than this. */
export const MAX_TARGETS_PER_RULE = 5;

/** How EventBridge and EventBridge Scheduler retry an undeliverable event before dead-lettering it. */
export interface DeliveryRetry {
  /** Retries before the event goes to the dead-letter queue: a whole number, 0 to 185. @default 8 */
  readonly retryAttempts?: number;
  /** Age after which retrying stops: whole seconds, 60 s to 24 hours. @default Duration.hours(24) */
  readonly maxEventAge?: Duration;
}

/** EventBridge's RetryPolicy ranges (API_RetryPolicy: MaximumRetryAttempts 0–185, MaximumEventAgeInSeconds 60–86,400). */
const MAX_RETRY_ATTEMPTS = 185;
const MIN_EVENT_AGE_SECONDS = 60;
const MAX_EVENT_AGE_SECONDS = 86_400;

/**
 * The retry settings with their defaults: one owner for both EventBridge rules and schedules.
 * Values EventBridge would refuse at deploy time are refused here, at synth, naming the prop.
 */
export function deliveryRetry(
  given: DeliveryRetry = {},
  where: { readonly construct: string; readonly attempts?: string; readonly age?: string } = { construct: 'DeliveryRetry' },
): Required<DeliveryRetry> {
  const retryAttempts = given.retryAttempts ?? 8;
  const maxEventAge = given.maxEventAge ?? Duration.hours(24);
  if (
    !Token.isUnresolved(retryAttempts) &&
    !(Number.isInteger(retryAttempts) && retryAttempts >= 0 && retryAttempts <= MAX_RETRY_ATTEMPTS)
  ) {
    throw new Error(
      `${where.construct}: ${where.attempts ?? 'retryAttempts'} must be a whole number from 0 to ${MAX_RETRY_ATTEMPTS} (EventBridge's MaximumRetryAttempts), got ${retryAttempts}`,
    );
  }
  if (!Token.isUnresolved(maxEventAge)) {
    const seconds = maxEventAge.toSeconds({ integral: false });
    if (!(Number.isInteger(seconds) && seconds >= MIN_EVENT_AGE_SECONDS && seconds <= MAX_EVENT_AGE_SECONDS)) {
      throw new Error(
        `${where.construct}: ${where.age ?? 'maxEventAge'} must be whole seconds from ${MIN_EVENT_AGE_SECONDS} to ${MAX_EVENT_AGE_SECONDS} (EventBridge's MaximumEventAgeInSeconds), got ${maxEventAge.toHumanString()}`,
      );
    }
  }
  return { retryAttempts, maxEventAge };
}

/** Properties of {@link StaticRoutes}. */
export interface StaticRoutesProps extends DeliveryRetry {
  /** The topology's rules (`buildTopology(...).rules`): static links, error links, subscribers. */
  readonly rules: readonly TopologyRule[];
  /** The bus the app's lifecycle events are put on. */
  readonly bus: events.IEventBus;
  /** The SQS queue of each logical queue a rule may target. */
  readonly queues: ReadonlyMap<string, sqs.IQueue>;
  /** The function of each subscriber a rule may target. */
  readonly subscribers: ReadonlyMap<string, lambda.IFunction>;
  /** Where EventBridge sends an event it could not deliver. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The construct errors are reported as (the construct the user created). @default 'StaticRoutes' */
  readonly errorPrefix?: string;
}

/**
 * The EventBridge rules of an app's topology, on its bus: a rule per static link and error link,
 * targeting the linked task's queue with lib/routing's input transformer (so the deployed rules
 * are the ones local mode runs), and a rule per subscriber, targeting its function. Every target
 * retries, then dead-letters.
 */
export class StaticRoutes extends Construct {
  readonly #rules = new Map<string, { rule: events.Rule; targets: number }>();
  readonly #errorPrefix: string;

  constructor(scope: Construct, id: string, props: StaticRoutesProps) {
    super(scope, id);
    this.#errorPrefix = props.errorPrefix ?? 'StaticRoutes';
    const delivery = { deadLetterQueue: props.deadLetterQueue, ...deliveryRetry(props, { construct: this.#errorPrefix }) };
    for (const r of props.rules) {
      const rule = new events.Rule(this, r.name, {
        eventBus: props.bus,
        description: r.description,
        eventPattern: toCdkEventPattern(r.eventPattern),
      });
      const target =
        r.target.kind === 'queue'
          ? new eventTargets.SqsQueue(lookup(props.queues, r.target.queue, 'queue'), {
              ...(r.inputTransformer ? { message: new TransformerInput(r.inputTransformer) } : {}),
              ...delivery,
            })
          : new eventTargets.LambdaFunction(lookup(props.subscribers, r.target.subscriber, 'subscriber'), delivery);
      rule.addTarget(target);
      this.#rules.set(r.name, { rule, targets: 1 });
    }
  }

  /** The rules, by topology rule name. */
  get rules(): ReadonlyMap<string, events.Rule> {
    return new Map([...this.#rules].map(([name, r]) => [name, r.rule]));
  }

  /** The EventBridge rule of a topology rule. */
  rule(name: string): events.Rule {
    return this.#entry(name).rule;
  }

  /** Adds a target to a rule, refusing a sixth: EventBridge allows 5 targets per rule. */
  addTarget(ruleName: string, target: events.IRuleTarget): void {
    const entry = this.#entry(ruleName);
    if (entry.targets >= MAX_TARGETS_PER_RULE) {
      throw new Error(
        `${this.#errorPrefix}: rule "${ruleName}" already has ${entry.targets} targets; EventBridge allows at most ${MAX_TARGETS_PER_RULE} per rule`,
      );
    }
    entry.rule.addTarget(target);
    entry.targets += 1;
  }

  #entry(name: string): { rule: events.Rule; targets: number } {
    const r = this.#rules.get(name);
    if (!r) throw new Error(`${this.#errorPrefix}: no rule "${name}" (rules: ${[...this.#rules.keys()].join(', ') || 'none'})`);
    return r;
  }
}

function lookup<T>(map: ReadonlyMap<string, T>, name: string, what: string): T {
  const found = map.get(name);
  if (found === undefined) throw new Error(`StaticRoutes: a rule targets ${what} "${name}", which was not given`);
  return found;
}

/** A topology rule's input transformer, passed to CloudFormation exactly as lib/routing wrote it. */
class TransformerInput extends events.RuleTargetInput {
  readonly #transformer: InputTransformer;

  constructor(transformer: InputTransformer) {
    super();
    this.#transformer = transformer;
  }

  override bind(_rule: events.IRule): events.RuleTargetInputProperties {
    return { inputPathsMap: { ...this.#transformer.inputPathsMap }, inputTemplate: this.#transformer.inputTemplate };
  }
}

function toCdkEventPattern(p: EventPattern): events.EventPattern {
  return {
    source: [...p.source],
    detailType: [...p['detail-type']],
    ...(p.detail ? { detail: { task: [...p.detail.task] } } : {}),
  };
}

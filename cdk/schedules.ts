import { RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { PeriodicInfo } from '../lib/routing';
import { type DeliveryRetry, deliveryRetry } from './static-routes';

/** The schedule group of an app and the role EventBridge Scheduler assumes to send to its queues. */
export interface SchedulerAccess {
  readonly scheduleGroup: scheduler.ScheduleGroup;
  readonly schedulerRole: iam.Role;
}

/**
 * Creates the app's schedule group (`Schedules`) and scheduler role (`SchedulerRole`) in `scope`
 * itself, not in a child construct: the one-time schedules of calls delayed past SQS's 15 minutes
 * are created at run time in this group with this role, so their logical IDs (and with them the
 * group and the role a pending delayed call names) must not move when the construct tree does.
 * The role may send only to the queues given to {@link allowSchedulerToSend}.
 */
export function createSchedulerAccess(
  scope: Construct,
  props: { readonly app: string; readonly removalPolicy?: RemovalPolicy },
): SchedulerAccess {
  const scheduleGroup = new scheduler.ScheduleGroup(scope, 'Schedules', { removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN });
  const schedulerRole = new iam.Role(scope, 'SchedulerRole', {
    description: `EventBridge Scheduler sends to the SQS queues of celeriac app ${props.app}`,
    assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
      // Confused-deputy guard: only schedules of this account's group may use the role.
      conditions: {
        StringEquals: { 'aws:SourceAccount': Stack.of(scope).account, 'aws:SourceArn': scheduleGroup.scheduleGroupArn },
      },
    }),
  });
  return { scheduleGroup, schedulerRole };
}

/** What EventBridge Scheduler's own SQS target grants: SendMessage, and the queue's KMS key if it has one. */
export function allowSchedulerToSend(role: iam.IRole, queue: sqs.IQueue): void {
  queue.grant(role, 'sqs:SendMessage');
  if (queue.encryptionMasterKey) {
    queue.encryptionMasterKey.grant(role, 'kms:Decrypt', 'kms:GenerateDataKey*');
    acknowledgeKeyActionWildcards(role, ['kms:GenerateDataKey*']);
  }
}

/**
 * The KMS actions CDK's grants on a queue's or bucket's key write with a wildcard
 * (`kms:GenerateDataKey*` for GenerateDataKey and its WithoutPlaintext twin, `kms:ReEncrypt*` for
 * ReEncryptFrom/To), acknowledged for cdk-nag: they are scoped to that one key.
 */
export function acknowledgeKeyActionWildcards(principal: iam.IPrincipal, actions: readonly string[]): void {
  if (!Construct.isConstruct(principal)) return;
  for (const action of actions) {
    Validations.of(principal).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Action::${action}]`,
      reason: `${action} is how CDK's grants on an SQS queue's or S3 bucket's KMS key name the key's data-key actions; the statement is scoped to that resource's key, not to every key.`,
    });
  }
}

/**
 * Lets `grantee` schedule long delays: countdowns past SQS's 15-minute delay become one-time
 * schedules in the group, created at run time, which pass the scheduler role. The schedule ARN
 * wildcard this needs (generated names) is acknowledged for cdk-nag, scoped to the group.
 */
export function grantLongDelays(grantee: iam.IGrantable, access: SchedulerAccess): void {
  access.scheduleGroup.grantWriteSchedules(grantee);
  access.schedulerRole.grantPassRole(grantee.grantPrincipal);
  const principal = grantee.grantPrincipal;
  if (Construct.isConstruct(principal)) {
    const stack = Stack.of(access.scheduleGroup);
    const group = stack.resolve(access.scheduleGroup.scheduleGroupName) as unknown;
    // cdk-nag names the resource as the ARN reads: pseudo parameters in an environment-agnostic
    // stack, the literal region and account in a stack with an env.
    const named = (value: string, pseudo: string) => (Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value);
    Validations.of(principal).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:${named(stack.region, 'Region')}:${named(stack.account, 'AccountId')}:schedule/${typeof group === 'string' ? group : JSON.stringify(group)}/*]`,
      reason:
        "Delayed calls (countdown over 15 minutes) are one-time schedules with generated names, created at run time; the wildcard is scoped to this app's schedule group.",
    });
  }
}

/** Properties of {@link PeriodicSchedules}. */
export interface PeriodicSchedulesProps extends DeliveryRetry {
  /** The app's name, for descriptions. */
  readonly app: string;
  /** The topology's periodic tasks (`buildTopology(...).periodic`). */
  readonly periodic: readonly PeriodicInfo[];
  /** The group and role the schedules use ({@link createSchedulerAccess}). */
  readonly access: SchedulerAccess;
  /** The SQS queue of each logical queue a periodic task's call goes to. */
  readonly queues: ReadonlyMap<string, sqs.IQueue>;
  /** Where Scheduler sends a call it could not deliver. */
  readonly deadLetterQueue: sqs.IQueue;
}

/**
 * The EventBridge Scheduler schedules of an app's periodic tasks: each sends the task's minimal
 * call (lib/routing's `input`) to the task's queue, with the scheduler role, retrying, then
 * dead-lettering.
 */
export class PeriodicSchedules extends Construct {
  readonly #schedules = new Map<string, scheduler.Schedule>();

  constructor(scope: Construct, id: string, props: PeriodicSchedulesProps) {
    super(scope, id);
    const retry = deliveryRetry(props, { construct: 'PeriodicSchedules' });
    for (const p of props.periodic) {
      const queue = props.queues.get(p.queue);
      if (!queue) throw new Error(`PeriodicSchedules: periodic task "${p.name}" sends to queue "${p.queue}", which was not given`);
      const schedule = new scheduler.Schedule(this, p.name, {
        description: `celeriac ${props.app}: periodic task ${p.name} calls ${p.task}`,
        scheduleGroup: props.access.scheduleGroup,
        schedule: scheduler.ScheduleExpression.expression(p.schedule),
        target: new schedulerTargets.SqsSendMessage(queue, {
          role: props.access.schedulerRole,
          input: scheduler.ScheduleTargetInput.fromText(p.input),
          deadLetterQueue: props.deadLetterQueue,
          ...retry,
        }),
      });
      this.#schedules.set(p.name, schedule);
    }
  }

  /** The schedules, by periodic task name. */
  get schedules(): ReadonlyMap<string, scheduler.Schedule> {
    return this.#schedules;
  }
}

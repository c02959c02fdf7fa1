/**
 * The CloudFormation template of a synthesized stack, as `up` reads it: the resource types it runs,
 * those it knows and leaves out (listed once at start), and the one error a template it cannot run
 * gets.
 */
import { CeleriacError, ErrorCodes } from '../errors';

/** A template resource (`Properties` still holding intrinsics until resolved). */
export interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, unknown>;
  readonly Metadata?: Record<string, unknown>;
  readonly DependsOn?: string | readonly string[];
  readonly Condition?: string;
}

/** A CloudFormation template (the parts `up` reads). */
export interface CfnTemplate {
  readonly Resources: Readonly<Record<string, CfnResource>>;
  readonly Outputs?: Readonly<Record<string, { readonly Value: unknown; readonly Export?: unknown }>>;
  readonly Parameters?: Readonly<Record<string, { readonly Type: string; readonly Default?: unknown }>>;
  readonly Conditions?: Readonly<Record<string, unknown>>;
}

/** The resource types `up` brings up on the local emulators. */
export const RUN_TYPES: ReadonlySet<string> = new Set([
  'AWS::SQS::Queue',
  'AWS::DynamoDB::Table',
  'AWS::S3::Bucket',
  'AWS::Events::EventBus',
  'AWS::Events::Rule',
  'AWS::Scheduler::Schedule',
  'AWS::Scheduler::ScheduleGroup',
  'AWS::Lambda::Function',
  'AWS::Lambda::EventSourceMapping',
  'AWS::Lambda::EventInvokeConfig',
  // Read, not run: roles and policies are what the IAM check evaluates.
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
]);

/**
 * A template `up` cannot run: an unsupported intrinsic, a missing asset, a property it cannot
 * honour. The message names the resource, in one line.
 */
export class TemplateError extends CeleriacError {
  constructor(resource: string, message: string, cause?: unknown) {
    super(ErrorCodes.CONFIG_INVALID, `resource ${resource}: ${message}`, {
      retryable: false,
      ...(cause === undefined ? {} : { cause }),
      details: { resource },
    });
    this.name = 'TemplateError';
  }
}

/** The logical ids of the resources of one type, in template order. */
export function resourcesOfType(template: CfnTemplate, type: string): string[] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id]) => id);
}

/**
 * The resource types of the template that `up` does not run, each with its count, sorted by type:
 * what start-up lists (alarms, dashboards, log groups, queue policies…).
 */
export function skippedTypes(template: CfnTemplate): { readonly type: string; readonly count: number }[] {
  const counts = new Map<string, number>();
  for (const r of Object.values(template.Resources)) {
    if (!RUN_TYPES.has(r.Type)) counts.set(r.Type, (counts.get(r.Type) ?? 0) + 1);
  }
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([type, count]) => ({ type, count }));
}

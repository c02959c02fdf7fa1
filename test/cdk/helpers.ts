import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CeleriacStack } from '../../cdk/stack';
import type { TaskRunnerProps } from '../../cdk/task-runner';
import type { AppTopologyInput } from '../../lib/routing';

/** Inline code: synthesis without bundling (the bundling test bundles a real entry once). */
export const inlineCode = (): lambda.Code => lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });');

/** Two queues, a link, an error link, a postrun and a filtered subscriber, a periodic task. */
export const shop: AppTopologyInput = {
  app: 'shop',
  tasks: [
    { name: 'add', queue: 'default', events: true },
    { name: 'report', queue: 'default', events: true },
    { name: 'notify', queue: 'mail', events: false },
    { name: 'charge', queue: 'default', events: true },
    { name: 'refund', queue: 'default', events: true },
  ],
  links: [
    { from: 'report', to: 'notify', kind: 'success' },
    { from: 'charge', to: 'refund', kind: 'error' },
  ],
  subscribers: [
    { name: 'metrics', entry: 'src/subscriber.ts' },
    { name: 'failures', tasks: ['charge'], outcomes: ['failure', 'revoked'] },
  ],
  periodic: [{ name: 'nightly-total', task: 'add', schedule: 'cron(0 3 * * ? *)', args: [1, 2] }],
  queues: [
    {
      name: 'default',
      batchSize: 5,
      maxBatchingWindowSeconds: 2,
      maxConcurrency: 20,
      functionTimeoutSeconds: 60,
      maxReceiveCount: 3,
      memoryMb: 512,
    },
  ],
};

/** Runner props that skip bundling: inline code for the worker and every subscriber of `topology`. */
export function inlineRunner(topology: AppTopologyInput = shop): Omit<TaskRunnerProps, 'topology'> {
  return {
    workerCode: inlineCode(),
    subscriberCode: Object.fromEntries(topology.subscribers.map((s) => [s.name, inlineCode()])),
  };
}

export interface Synth {
  readonly app: App;
  readonly stack: CeleriacStack;
  readonly template: Template;
  /** CloudFormation logical id of a construct's default resource. */
  logicalId(construct: { node: { defaultChild?: unknown } }): string;
}

/** Synthesises a CeleriacStack for `topology` (inline code unless `runner` says otherwise). */
export function synth(topology: AppTopologyInput = shop, runner: Omit<TaskRunnerProps, 'topology'> = inlineRunner(topology)): Synth {
  const app = new App();
  const stack = new CeleriacStack(app, 'Test', { topology, runner });
  const template = Template.fromStack(stack);
  return {
    app,
    stack,
    template,
    logicalId: (construct) => stack.getLogicalId(construct.node.defaultChild as never),
  };
}

export interface NagViolation {
  readonly ruleName: string;
  readonly paths: readonly string[];
  readonly reason?: string;
  readonly acknowledgedId?: string;
}

/**
 * Synthesises `app` with cdk-nag's AwsSolutionsChecks registered (through Validations, as the shop's
 * infra does; `registered` when the app already did) and returns the unacknowledged and acknowledged
 * findings from the validation report.
 */
export function nagReport(app: App, options: { registered?: boolean } = {}): { violations: NagViolation[]; suppressed: NagViolation[] } {
  if (!options.registered) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let failure: unknown;
  try {
    app.synth();
  } catch (e) {
    failure = e;
  }
  const file = path.join(app.outdir, 'validation-report.json');
  if (!fs.existsSync(file)) {
    if (failure) throw failure;
    return { violations: [], suppressed: [] };
  }
  type Raw = { ruleName: string; violatingConstructs: { constructPath: string }[]; reason?: string; acknowledgedId?: string };
  const report = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    pluginReports: { pluginName: string; violations?: Raw[]; suppressedViolations?: Raw[] }[];
  };
  const nag = report.pluginReports.filter((r) => r.pluginName === 'AwsSolutions');
  const flat = (list: Raw[] | undefined): NagViolation[] =>
    (list ?? []).map((v) => ({
      ruleName: v.ruleName,
      paths: v.violatingConstructs.map((c) => c.constructPath),
      ...(v.reason !== undefined ? { reason: v.reason } : {}),
      ...(v.acknowledgedId !== undefined ? { acknowledgedId: v.acknowledgedId } : {}),
    }));
  const violations = nag.flatMap((r) => flat(r.violations));
  if (failure && violations.length === 0) throw failure;
  return { violations, suppressed: nag.flatMap((r) => flat(r.suppressedViolations)) };
}

type Json = Record<string, unknown>;

/** The resources of a type, as `{ logicalId: properties }`. */
export function resources(template: Template, type: string): Record<string, Json> {
  return Object.fromEntries(
    Object.entries(template.findResources(type)).map(([id, r]) => [id, (r as { Properties?: Json }).Properties ?? {}]),
  );
}

/** A policy statement with its actions sorted, for order-independent comparison. */
export function normalizeStatement(s: Json): Json {
  const actions = s.Action;
  return { ...s, Action: Array.isArray(actions) ? [...(actions as string[])].sort() : actions };
}

/** The statements of the IAM policies attached to a role (by logical id), normalized. */
export function statementsOfRole(template: Template, roleLogicalId: string): Json[] {
  return Object.values(resources(template, 'AWS::IAM::Policy'))
    .filter((p) => (p.Roles as { Ref: string }[]).some((r) => r.Ref === roleLogicalId))
    .flatMap((p) => ((p.PolicyDocument as { Statement: Json[] }).Statement ?? []).map(normalizeStatement));
}

import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { CeleriacStack } from '../../cdk/stack';
import { TaskRunner } from '../../cdk/task-runner';
import type { AppTopologyInput } from '../../lib/routing';
import { inlineRunner, nagReport, shop } from './helpers';

/** Every acknowledgment celeriac makes, with the resource it applies to: anything else is a regression. */
function expectSpecificReasons(suppressed: ReturnType<typeof nagReport>['suppressed']): void {
  for (const s of suppressed) {
    expect(s.acknowledgedId, s.ruleName).toMatch(/^AwsSolutions::AwsSolutions-/);
    expect(s.reason?.length ?? 0, s.ruleName).toBeGreaterThan(60);
  }
}

describe('cdk-nag AwsSolutionsChecks', () => {
  it('the full topology synthesises with zero unacknowledged findings', () => {
    const app = new App();
    new CeleriacStack(app, 'Shop', { topology: shop, runner: inlineRunner() });
    const { violations, suppressed } = nagReport(app);
    expect(violations).toEqual([]);
    // The scheduler wildcard, once per worker role (the events DLQ is recognised through the
    // subscribers' DeadLetterConfig); the payload bucket's access logs; the payload prefix and the
    // S3 action wildcards of CDK's grants, per worker (read-write) and subscriber (read) role.
    const wildcard = expect.stringMatching(
      /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule\/Shop-Runner-Schedules-[0-9A-F]+\/\*\]$/,
    );
    const role = (path: string) => `Shop/Runner/${path}/Role/DefaultPolicy/Resource`;
    const workers = [role('Queues/default'), role('Queues/mail')];
    const all = [...workers, role('Subscribers/metrics'), role('Subscribers/failures')];
    const found = suppressed.flatMap((s) => s.paths.map((path) => ({ ruleName: s.ruleName, path })));
    const expected = [
      ...workers.map((path) => ({ ruleName: wildcard, path })),
      { ruleName: 'AwsSolutions-S1', path: 'Shop/Runner/Payloads/Bucket/Resource' },
      ...all.flatMap((path) =>
        ['s3:GetObject*', 's3:GetBucket*', 's3:List*'].map((a) => ({ ruleName: `AwsSolutions-IAM5[Action::${a}]`, path })),
      ),
      ...workers.flatMap((path) => ['s3:DeleteObject*', 's3:Abort*'].map((a) => ({ ruleName: `AwsSolutions-IAM5[Action::${a}]`, path }))),
      ...all.map((path) => ({
        ruleName: expect.stringMatching(/^AwsSolutions-IAM5\[Resource::<RunnerPayloadsBucket[0-9A-F]+\.Arn>\/shop\/\*\]$/),
        path,
      })),
    ];
    expect(found).toHaveLength(expected.length);
    expect(found).toEqual(expect.arrayContaining(expected));
    expectSpecificReasons(suppressed);
  });

  it('without subscribers, the events DLQ is acknowledged as a DLQ (cdk-nag cannot see EventBridge DLQ configs)', () => {
    const topology: AppTopologyInput = { ...shop, subscribers: [] };
    const app = new App();
    new CeleriacStack(app, 'Shop', { topology, runner: inlineRunner(topology) });
    const { violations, suppressed } = nagReport(app);
    expect(violations).toEqual([]);
    expect(suppressed.find((s) => s.ruleName === 'AwsSolutions-SQS3')).toMatchObject({
      paths: ['Shop/Runner/EventsDlq/Resource'],
      acknowledgedId: 'AwsSolutions::AwsSolutions-SQS3',
      reason: expect.stringContaining('This queue is itself a dead-letter queue'),
    });
    expectSpecificReasons(suppressed);
  });

  it('grantProducer on another role acknowledges the scheduler wildcard it adds there, and nothing else', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const runner = new TaskRunner(stack, 'Runner', { ...inlineRunner(), topology: shop });
    runner.grantProducer(new iam.Role(stack, 'Api', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
    const { violations, suppressed } = nagReport(app);
    expect(violations).toEqual([]);
    expect(suppressed.flatMap((s) => s.paths)).toContain('S/Api/DefaultPolicy/Resource');
  });

  it('reports what it finds: an unacknowledged finding fails synthesis', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    new TaskRunner(stack, 'Runner', { ...inlineRunner(), topology: shop });
    // A role with a wildcard the construct did not create and nobody acknowledged.
    new iam.Role(stack, 'Loose', { assumedBy: new iam.AccountRootPrincipal() }).addToPolicy(
      new iam.PolicyStatement({ actions: ['sqs:*'], resources: ['*'] }),
    );
    const { violations } = nagReport(app);
    expect(violations.map((v) => v.ruleName)).toContain('AwsSolutions-IAM5[Resource::*]');
  });
});

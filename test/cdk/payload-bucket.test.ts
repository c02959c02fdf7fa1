/**
 * The payload bucket: one per app, private and SSL only, expiring the app's payloads a day after
 * its results, and granted to the app's functions by prefix only.
 */
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { PayloadBucket, payloadLifecycleRule } from '../../cdk/index';
import { TaskRunner, type TaskRunnerProps } from '../../cdk/task-runner';
import { ENV } from '../../lib/config';
import { inlineRunner, nagReport, resources, shop, statementsOfRole, synth } from './helpers';

type Json = Record<string, unknown>;
const getAtt = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const objects = (bucketArn: unknown, pattern = 'shop/*') => ({ 'Fn::Join': ['', [bucketArn, `/${pattern}`]] });

/** A TaskRunner of the shop in a fresh stack, and its template. */
function build(props: Partial<TaskRunnerProps> = {}, extra?: (stack: Stack, runner: TaskRunner) => void) {
  const app = new App();
  const stack = new Stack(app, 'S');
  const runner = new TaskRunner(stack, 'Runner', { ...inlineRunner(), ...props, topology: shop });
  extra?.(stack, runner);
  return { app, stack, runner, template: () => Template.fromStack(stack) };
}

const roleId = (stack: Stack, role: iam.IRole | undefined) => stack.getLogicalId(role?.node.defaultChild as never);
const s3Statements = (statements: Json[]) => statements.filter((s) => JSON.stringify(s.Action).includes('s3:'));
const functions = (t: Template) => Object.values(resources(t, 'AWS::Lambda::Function'));

describe('PayloadBucket in a TaskRunner (created by default)', () => {
  const { stack, runner, template } = build();
  const t = template();
  const bucketId = stack.getLogicalId(runner.payloads?.bucket.node.defaultChild as never);

  it('is private, SSE-encrypted, SSL only, unversioned and retained', () => {
    t.resourceCountIs('AWS::S3::Bucket', 1);
    const bucket = t.findResources('AWS::S3::Bucket')[bucketId] as Json;
    expect(bucket).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    expect(bucket.Properties).toMatchObject({
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    expect((bucket.Properties as Json).VersioningConfiguration).toBeUndefined();
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: bucketId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    t.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  it("expires the app's payloads (its prefix only) a day after the results' TTL of one day", () => {
    const props = resources(t, 'AWS::S3::Bucket')[bucketId] as { LifecycleConfiguration: { Rules: Json[] } };
    expect(props.LifecycleConfiguration.Rules).toEqual([
      {
        Id: 'celeriac-shop-payloads',
        Prefix: 'shop/',
        ExpirationInDays: 2,
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        Status: 'Enabled',
      },
    ]);
  });

  it('names the bucket to every worker and subscriber (CELERIAC_PAYLOAD_BUCKET) and in the stack outputs', () => {
    const fns = functions(t);
    expect(fns).toHaveLength(4);
    for (const fn of fns) expect((fn.Environment as { Variables: Json }).Variables[ENV.payloadBucket]).toEqual({ Ref: bucketId });
    const s = synth();
    expect((s.template.toJSON().Outputs as Record<string, { Value: unknown }>).PayloadBucketName?.Value).toEqual({
      Ref: s.logicalId(s.stack.runner.payloads?.bucket as never),
    });
  });

  it("grants workers read, write and delete on the app's prefix, subscribers read only, and nothing on the rest of the bucket", () => {
    const arn = getAtt(bucketId);
    for (const q of ['default', 'mail']) {
      const statements = s3Statements(statementsOfRole(t, roleId(stack, runner.worker(q).role)));
      expect(statements).toEqual([
        {
          Action: [
            's3:Abort*',
            's3:DeleteObject*',
            's3:GetBucket*',
            's3:GetObject*',
            's3:List*',
            's3:PutObject',
            's3:PutObjectLegalHold',
            's3:PutObjectRetention',
            's3:PutObjectTagging',
            's3:PutObjectVersionTagging',
          ],
          Effect: 'Allow',
          // The bucket itself for List/GetBucket, its objects only under shop/.
          Resource: [arn, objects(arn)],
        },
      ]);
    }
    for (const name of ['metrics', 'failures']) {
      const fn = runner.subscriberFunction(name);
      expect(s3Statements(statementsOfRole(t, roleId(stack, fn.role)))).toEqual([
        { Action: ['s3:GetBucket*', 's3:GetObject*', 's3:List*'], Effect: 'Allow', Resource: [arn, objects(arn)] },
      ]);
    }
  });

  it('grantProducer lets another role store, read and delete the payloads too', () => {
    const b = build({}, (s, r) => r.grantProducer(new iam.Role(s, 'Api', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') })));
    const tt = b.template();
    const api = s3Statements(statementsOfRole(tt, b.stack.getLogicalId(b.stack.node.findChild('Api').node.defaultChild as never)));
    expect(api).toEqual([
      expect.objectContaining({ Action: expect.arrayContaining(['s3:PutObject', 's3:DeleteObject*', 's3:GetObject*']) }),
    ]);
  });

  it('synthesises with zero unacknowledged cdk-nag findings; access logs are acknowledged with a reason', () => {
    const { app } = build();
    const { violations, suppressed } = nagReport(app);
    expect(violations).toEqual([]);
    expect(suppressed.find((s) => s.ruleName === 'AwsSolutions-S1')).toMatchObject({
      paths: ['S/Runner/Payloads/Bucket/Resource'],
      reason: expect.stringContaining('serverAccessLogsBucket'),
    });
  });
});

describe('PayloadBucket props through the TaskRunner', () => {
  it("follows the results' TTL: seven days keep payloads eight, zero (results forever) keeps them forever", () => {
    const week = resources(build({ resultTtl: Duration.days(7) }).template(), 'AWS::S3::Bucket');
    expect(Object.values(week)[0]).toMatchObject({ LifecycleConfiguration: { Rules: [expect.objectContaining({ ExpirationInDays: 8 })] } });
    // 36 hours round up to two days, plus the margin.
    expect(payloadLifecycleRule('shop', Duration.hours(36))?.expiration?.toDays()).toBe(3);
    const forever = resources(build({ resultTtl: Duration.seconds(0) }).template(), 'AWS::S3::Bucket');
    expect(Object.values(forever)[0]?.LifecycleConfiguration).toBeUndefined();
  });

  it('removalPolicy DESTROY deletes the bucket with its objects, as the table goes with its items; autoDeleteObjects: false keeps the objects', () => {
    const t = build({ removalPolicy: RemovalPolicy.DESTROY }).template();
    expect(Object.values(t.findResources('AWS::S3::Bucket'))[0]).toMatchObject({ DeletionPolicy: 'Delete' });
    t.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
    const kept = build({ removalPolicy: RemovalPolicy.DESTROY, payloadBucketProps: { autoDeleteObjects: false } }).template();
    expect(Object.values(kept.findResources('AWS::S3::Bucket'))[0]).toMatchObject({ DeletionPolicy: 'Delete' });
    kept.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
    expect(nagReport(build({ removalPolicy: RemovalPolicy.DESTROY }).app).violations).toEqual([]);
  });

  it('payloadBucket: false creates no bucket, sets no CELERIAC_PAYLOAD_BUCKET and grants no S3 action', () => {
    const { stack, runner, template } = build({ payloadBucket: false });
    const t = template();
    t.resourceCountIs('AWS::S3::Bucket', 0);
    expect(runner.payloads).toBeUndefined();
    for (const fn of functions(t)) expect((fn.Environment as { Variables: Json }).Variables[ENV.payloadBucket]).toBeUndefined();
    expect(s3Statements(statementsOfRole(t, roleId(stack, runner.worker('default').role)))).toEqual([]);
  });

  it("an existing bucket is used as it is: no new bucket, the grants name the app's prefix of it, cdk-nag stays clean", () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const shared = s3.Bucket.fromBucketName(stack, 'Shared', 'team-payloads');
    const runner = new TaskRunner(stack, 'Runner', { ...inlineRunner(), topology: shop, existingPayloadBucket: shared });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::S3::Bucket', 0);
    for (const fn of functions(t)) expect((fn.Environment as { Variables: Json }).Variables[ENV.payloadBucket]).toBe('team-payloads');
    const arn = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::team-payloads']] };
    const [statement] = s3Statements(statementsOfRole(t, roleId(stack, runner.worker('default').role)));
    expect(statement?.Resource).toEqual([arn, { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::team-payloads/shop/*']] }]);
    expect(nagReport(app).violations).toEqual([]);
  });

  it('payloadBucketProps pass through: a KMS key (the grants include it), access logs, more lifecycle rules (celeriac adds its own)', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const logs = new s3.Bucket(stack, 'Logs', { enforceSSL: true, objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED });
    const runner = new TaskRunner(stack, 'Runner', {
      ...inlineRunner(),
      topology: shop,
      payloadBucketProps: {
        encryptionKey: key,
        serverAccessLogsBucket: logs,
        lifecycleRules: [{ id: 'tmp', prefix: 'tmp/', expiration: Duration.days(30) }],
      },
    });
    const t = Template.fromStack(stack);
    const props = resources(t, 'AWS::S3::Bucket')[stack.getLogicalId(runner.payloads?.bucket.node.defaultChild as never)] as Json;
    const keyArn = getAtt(stack.getLogicalId(key.node.defaultChild as never));
    expect(props).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn } }],
      },
      LoggingConfiguration: { DestinationBucketName: { Ref: stack.getLogicalId(logs.node.defaultChild as never) } },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    expect((props.LifecycleConfiguration as { Rules: Json[] }).Rules.map((r) => r.Id)).toEqual(['tmp', 'celeriac-shop-payloads']);
    expect(statementsOfRole(t, roleId(stack, runner.worker('default').role))).toContainEqual(
      expect.objectContaining({ Action: expect.arrayContaining(['kms:GenerateDataKey*', 'kms:Decrypt']), Resource: keyArn }),
    );
    const { violations, suppressed } = nagReport(app);
    // The log bucket is the user's own (it has no access logs of its own); the payload bucket has none to acknowledge.
    expect(violations.filter((v) => !v.paths.every((p) => p.startsWith('S/Logs/')))).toEqual([]);
    expect(suppressed.filter((s) => s.ruleName === 'AwsSolutions-S1')).toEqual([]);
  });

  it('refuses contradictory props', () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const shared = s3.Bucket.fromBucketName(stack, 'Shared', 'team-payloads');
    expect(
      () =>
        new TaskRunner(stack, 'A', {
          ...inlineRunner(),
          topology: shop,
          existingPayloadBucket: shared,
          payloadBucketProps: { versioned: true },
        }),
    ).toThrow('PayloadBucket: pass either existingBucket or bucketProps, not both');
    expect(
      () => new TaskRunner(stack, 'B', { ...inlineRunner(), topology: shop, payloadBucket: false, existingPayloadBucket: shared }),
    ).toThrow('TaskRunner: payloadBucket is false, so existingPayloadBucket and payloadBucketProps have no bucket to apply to');
  });
});

describe('PayloadBucket on its own', () => {
  it("grants any role read or read-write on the app's prefix, cdk-nag clean", () => {
    const app = new App();
    const stack = new Stack(app, 'S');
    const payloads = new PayloadBucket(stack, 'Payloads', { app: 'billing', resultTtl: Duration.days(3) });
    const writer = new iam.Role(stack, 'Writer', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const reader = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    payloads.grantReadWrite(writer);
    payloads.grantRead(reader);
    const t = Template.fromStack(stack);
    const arn = getAtt(stack.getLogicalId(payloads.bucket.node.defaultChild as never));
    expect(payloads.prefix).toBe('billing/');
    expect(s3Statements(statementsOfRole(t, roleId(stack, writer)))[0]?.Resource).toEqual([arn, objects(arn, 'billing/*')]);
    expect(s3Statements(statementsOfRole(t, roleId(stack, reader)))).toEqual([
      { Action: ['s3:GetBucket*', 's3:GetObject*', 's3:List*'], Effect: 'Allow', Resource: [arn, objects(arn, 'billing/*')] },
    ]);
    expect(Object.values(resources(t, 'AWS::S3::Bucket'))[0]).toMatchObject({
      LifecycleConfiguration: { Rules: [expect.objectContaining({ Prefix: 'billing/', ExpirationInDays: 4 })] },
    });
    const { violations, suppressed } = nagReport(app);
    expect(violations).toEqual([]);
    for (const s of suppressed) expect(s.reason?.length ?? 0).toBeGreaterThan(60);
  });
});

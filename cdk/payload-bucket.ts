import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { DEFAULT_RESULT_TTL_SECONDS } from '../lib/config';
import { consolidateProps } from './props';
import { acknowledgeKeyActionWildcards } from './schedules';

/**
 * Props of the payload bucket you may set: encryption (`encryption`, `encryptionKey` for a KMS
 * key, `bucketKeyEnabled`), `bucketName`, `serverAccessLogsBucket` and `serverAccessLogsPrefix`,
 * `versioned`, `autoDeleteObjects`, more `lifecycleRules` (added to celeriac's), `removalPolicy`…
 * Left out are the settings the bucket's safety depends on: blocked public access, SSL-only
 * access, no public read and no website hosting.
 */
export type PayloadBucketBucketProps = Omit<
  s3.BucketProps,
  | 'blockPublicAccess'
  | 'enforceSSL'
  | 'publicReadAccess'
  | 'websiteIndexDocument'
  | 'websiteErrorDocument'
  | 'websiteRedirect'
  | 'websiteRoutingRules'
>;

/** Properties of a {@link PayloadBucket}. */
export interface PayloadBucketProps {
  /** The app's name: its payloads are the keys under `<app>/`, the only keys its functions are granted. */
  readonly app: string;
  /**
   * How long the app's results live (the table's TTL): its payloads expire a day after that.
   * `Duration.seconds(0)` (results kept forever) keeps payloads forever too.
   * @default Duration.seconds(DEFAULT_RESULT_TTL_SECONDS) - one day
   */
  readonly resultTtl?: Duration;
  /**
   * A bucket of yours instead of a new one (shared by several apps, say: each app is granted
   * only its own prefix). Its settings and lifecycle are yours: add {@link payloadLifecycleRule}
   * to expire the app's payloads. @default - a new bucket
   */
  readonly existingBucket?: s3.IBucket;
  /**
   * Props of the new bucket, merged over the defaults (S3-managed SSE, no versioning, the
   * removal policy); blocked public access and SSL only always win, and the expiry rule of the
   * app's prefix is added to any `lifecycleRules` given. With `encryptionKey`, the grants include
   * the key. With `serverAccessLogsBucket`, access logs go there. @default - the defaults
   */
  readonly bucketProps?: PayloadBucketBucketProps;
  /**
   * Removal policy of the new bucket. `DESTROY` also empties it on deletion (`autoDeleteObjects`,
   * a custom resource CDK adds), as a table with `DESTROY` goes with its items; pass
   * `bucketProps.autoDeleteObjects: false` to keep the deletion failing on a non-empty bucket.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The lifecycle rule that expires an app's payloads: objects under `<app>/` expire one day
 * after the results do (S3 counts whole days). The day of margin is there because a payload is
 * written before the result that refers to it — an argument at publish, a result just before its
 * record — and the result's TTL counts from the record's write; S3 also rounds an object's age up
 * to the next midnight UTC. Undefined when results are kept forever (`resultTtl` 0).
 */
export function payloadLifecycleRule(app: string, resultTtl: Duration): s3.LifecycleRule | undefined {
  const seconds = resultTtl.toSeconds();
  if (seconds === 0) return undefined;
  return {
    id: `celeriac-${app}-payloads`,
    prefix: payloadPrefix(app),
    expiration: Duration.days(Math.ceil(seconds / 86_400) + 1),
    // Multipart uploads a crashed writer left half done are not objects: expiry would not see them.
    abortIncompleteMultipartUploadAfter: Duration.days(1),
  };
}

/** The key prefix of an app's payloads (the payload store's prefix, `<app>`, and its separator). */
export function payloadPrefix(app: string): string {
  return `${app}/`;
}

/**
 * The S3 bucket of an app's large payloads (claim check): arguments, results, error details and
 * event details above the payload threshold are stored here once and travel as a reference. One
 * bucket per app, keys under `<app>/`; functions are granted that prefix only.
 *
 * Defaults, as AWS Solutions Constructs have them: S3-managed SSE (a KMS key passes through
 * `bucketProps`), public access blocked, SSL only, versioning off, and a lifecycle rule expiring
 * the app's payloads a day after its results ({@link payloadLifecycleRule}). Versioning is off
 * because payloads are written once under fresh keys and never overwritten: versions would
 * protect nothing, and a delete (`forget()`) would only add a delete marker and keep the bytes,
 * billed, until a noncurrent-version rule removed them.
 *
 * @example
 * ```ts
 * const payloads = new PayloadBucket(this, 'Payloads', { app: 'shop', resultTtl: Duration.days(7) });
 * payloads.grantReadWrite(apiHandler);
 * apiHandler.addEnvironment(ENV.payloadBucket, payloads.bucket.bucketName);
 * ```
 */
export class PayloadBucket extends Construct {
  /** The bucket (the new one, or `existingBucket`). */
  readonly bucket: s3.IBucket;
  /** The app's key prefix, `<app>/`. */
  readonly prefix: string;
  /** The expiry rule of the app's prefix, when this construct created the bucket and results expire. */
  readonly lifecycleRule: s3.LifecycleRule | undefined;

  constructor(scope: Construct, id: string, props: PayloadBucketProps) {
    super(scope, id);
    if (props.existingBucket && props.bucketProps) {
      throw new Error(
        'PayloadBucket: pass either existingBucket or bucketProps, not both (bucketProps configure a bucket this construct creates)',
      );
    }
    this.prefix = payloadPrefix(props.app);
    if (props.existingBucket) {
      this.bucket = props.existingBucket;
      this.lifecycleRule = undefined;
      return;
    }
    this.lifecycleRule = payloadLifecycleRule(props.app, props.resultTtl ?? Duration.seconds(DEFAULT_RESULT_TTL_SECONDS));
    const user = props.bucketProps;
    const removalPolicy = user?.removalPolicy ?? props.removalPolicy ?? RemovalPolicy.RETAIN;
    const bucket = new s3.Bucket(
      this,
      'Bucket',
      consolidateProps<s3.BucketProps>(
        {
          ...(user?.encryption !== undefined || user?.encryptionKey !== undefined ? {} : { encryption: s3.BucketEncryption.S3_MANAGED }),
          versioned: false,
          removalPolicy,
          ...(removalPolicy === RemovalPolicy.DESTROY ? { autoDeleteObjects: true } : {}),
        },
        user,
        {
          blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
          enforceSSL: true,
          publicReadAccess: false,
          lifecycleRules: [...(user?.lifecycleRules ?? []), ...(this.lifecycleRule ? [this.lifecycleRule] : [])],
        },
      ),
    );
    this.bucket = bucket;
    if (!user?.serverAccessLogsBucket) {
      Validations.of(bucket).acknowledge({
        id: 'AwsSolutions::AwsSolutions-S1',
        reason:
          "The payload bucket holds transient claim-check objects under opaque keys, written and read only by the app's own function roles (IAM-scoped to its prefix); server access logs would need a log bucket of their own. Pass bucketProps.serverAccessLogsBucket to have them.",
      });
    }
  }

  /** The S3 key pattern of the app's payloads, `<app>/*`: what the grants name. */
  get keyPattern(): string {
    return `${this.prefix}*`;
  }

  /**
   * Lets `grantee` store, read and delete the app's payloads (a worker, a producer): read, write
   * and delete on `<app>/*`, nothing else of the bucket. The action wildcards CDK's grants write
   * (`s3:GetObject*`…) are acknowledged for cdk-nag, scoped to the prefix.
   */
  grantReadWrite(grantee: iam.IGrantable): void {
    this.bucket.grantReadWrite(grantee, this.keyPattern);
    this.#acknowledge(grantee, [...READ_ACTIONS, 's3:Abort*', 's3:DeleteObject*'], true);
  }

  /** Lets `grantee` read the app's payloads (a subscriber resolving an event's reference): read on `<app>/*` only. */
  grantRead(grantee: iam.IGrantable): void {
    this.bucket.grantRead(grantee, this.keyPattern);
    this.#acknowledge(grantee, READ_ACTIONS, false);
  }

  #acknowledge(grantee: iam.IGrantable, actions: readonly string[], writes: boolean): void {
    const principal = grantee.grantPrincipal;
    if (!Construct.isConstruct(principal)) return;
    const scoped = `the statement is scoped to this app's payload keys (${this.keyPattern}) of its payload bucket`;
    for (const action of actions) {
      Validations.of(principal).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Action::${action}]`,
        reason: `${action} is how CDK's S3 grants name the object actions of a payload store (get, put, delete of an object and its tags and versions); ${scoped}.`,
      });
    }
    Validations.of(principal).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::${nagResource(Stack.of(this).resolve(this.bucket.arnForObjects(this.keyPattern)))}]`,
      reason: `Payload keys are generated at run time (one per stored argument, result or event detail) under the app's prefix; ${scoped}.`,
    });
    if (this.bucket.encryptionKey) acknowledgeKeyActionWildcards(principal, writes ? ['kms:GenerateDataKey*', 'kms:ReEncrypt*'] : []);
  }
}

/** What CDK's read grant names with wildcards (GetObject and its Acl/Tagging/Version twins; the bucket's metadata and listing). */
const READ_ACTIONS = ['s3:GetObject*', 's3:GetBucket*', 's3:List*'] as const;

/**
 * A resource ARN as cdk-nag writes it in a finding's id: `Fn::GetAtt` as `<Id.Attr>`, `Ref` as
 * `<Id>` (pseudo parameters too), `Fn::Join` joined.
 */
function nagResource(resolved: unknown): string {
  if (typeof resolved === 'string') return resolved;
  const o = resolved as Record<string, unknown>;
  if (Array.isArray(o['Fn::GetAtt'])) return `<${(o['Fn::GetAtt'] as string[]).join('.')}>`;
  if (typeof o.Ref === 'string') return `<${o.Ref}>`;
  if (Array.isArray(o['Fn::Join'])) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map(nagResource).join(sep);
  }
  return JSON.stringify(resolved);
}

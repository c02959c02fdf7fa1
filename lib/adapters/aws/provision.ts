/**
 * Creates the table and queues celeriac uses, as the CDK stack deploys them: for emulators
 * (dynalite, fauxqs) and LocalStack runs where no stack is deployed.
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { BucketAlreadyExists, BucketAlreadyOwnedByYou, CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueNameExists,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { SqsBroker } from './sqs-broker';

/** Credentials and region emulators accept; they are never checked. */
export const EMULATOR_CLIENT_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

/** What the SDK hands a request signer (its `HttpRequest`, structurally). */
interface SignableRequest {
  headers: Record<string, string>;
}

/**
 * Client settings for dynalite and fauxqs (emulated local mode), over {@link EMULATOR_CLIENT_CONFIG}:
 * the same requests on the same protocols, minus two costs of the SDK that buy nothing against an
 * emulator on loopback. Measured by profile, they were ~15 % of emulated mode's CPU:
 *
 * - `signer`: SigV4 hashes the body and computes four HMACs per request; neither emulator checks a
 *   signature — dynalite only checks that the Authorization header is well formed. This signer
 *   sets the headers SigV4 sets (`X-Amz-Date`, `Authorization` with the credential scope and signed
 *   headers) with an all-zero signature. (LocalStack mode keeps the real signer.)
 * - `logger`: the SDK builds a redacted copy of every command's input and output for
 *   `logger.info`, and skips that only when the logger has no `info` method; errors still go to
 *   `error` (and are thrown to celeriac as before).
 */
export const FAST_EMULATOR_CLIENT_CONFIG = {
  ...EMULATOR_CLIENT_CONFIG,
  signer: {
    sign: <R extends SignableRequest>(
      request: R,
      opts?: { readonly signingDate?: Date; readonly signingRegion?: string; readonly signingService?: string },
    ): Promise<R> => {
      // Basic ISO 8601, as SigV4 writes it: 20260102T030405Z.
      const amzDate = (opts?.signingDate ?? new Date()).toISOString().replace(/[-:]|\.\d{3}/g, '');
      const scope = `${amzDate.slice(0, 8)}/${opts?.signingRegion ?? EMULATOR_CLIENT_CONFIG.region}/${opts?.signingService ?? 'unknown'}/aws4_request`;
      request.headers['x-amz-date'] = amzDate;
      request.headers.authorization = `AWS4-HMAC-SHA256 Credential=${EMULATOR_CLIENT_CONFIG.credentials.accessKeyId}/${scope}, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`;
      return Promise.resolve(request);
    },
  },
  // No `info`: see above. The SDK calls every logger method as `logger?.info?.(…)`.
  logger: { debug() {}, warn() {}, error() {} } as unknown as { debug(): void; info(): void; warn(): void; error(): void },
};

/**
 * Creates the celeriac table (partition key `pk`, on-demand) if it does not exist and waits until
 * it is ACTIVE. The key layout is in lib/adapters/aws/KEYS.md. TTL is not enabled here: dynalite
 * does not implement UpdateTimeToLive (the CDK stack enables it on AWS).
 */
export async function ensureTable(endpoint: string, tableName: string): Promise<void> {
  const client = new DynamoDBClient({ ...EMULATOR_CLIENT_CONFIG, endpoint });
  try {
    try {
      await client.send(
        new CreateTableCommand({
          TableName: tableName,
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    } catch (e) {
      if (!(e instanceof ResourceInUseException)) throw e;
    }
    for (let i = 0; i < 200; i++) {
      const d = await client.send(new DescribeTableCommand({ TableName: tableName }));
      if (d.Table?.TableStatus === 'ACTIVE') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`table ${tableName} did not become ACTIVE`);
  } finally {
    client.destroy();
  }
}

/** S3 client settings for an emulator endpoint: path-style addressing (no bucket subdomains on loopback). */
export function emulatorS3Config(endpoint: string) {
  return { ...EMULATOR_CLIENT_CONFIG, endpoint, forcePathStyle: true } as const;
}

/** Creates the payload bucket if it does not exist (fauxqs's S3, LocalStack). */
export async function ensureBucket(endpoint: string, bucket: string): Promise<void> {
  const client = new S3Client(emulatorS3Config(endpoint));
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (e) {
    if (!(e instanceof BucketAlreadyOwnedByYou || e instanceof BucketAlreadyExists)) throw e;
  } finally {
    client.destroy();
  }
}

export interface EnsureQueueOptions {
  /** Creates this queue too and redrives to it after `maxReceiveCount` receives. */
  readonly dlqName?: string;
  /** Default 5 when `dlqName` is given. */
  readonly maxReceiveCount?: number;
  /** Queue default VisibilityTimeout (seconds). */
  readonly visibilityTimeoutSeconds?: number;
}

/**
 * Creates a queue (and its DLQ) if missing, or updates the attributes of an existing one, and
 * returns their URLs.
 */
export async function ensureQueue(
  endpoint: string,
  name: string,
  opts: EnsureQueueOptions = {},
): Promise<{ url: string; dlqUrl?: string }> {
  const client = new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint });
  try {
    const attributes: Record<string, string> = {};
    if (opts.visibilityTimeoutSeconds !== undefined) attributes.VisibilityTimeout = String(opts.visibilityTimeoutSeconds);
    let dlqUrl: string | undefined;
    if (opts.dlqName !== undefined) {
      dlqUrl = await createOrUpdateQueue(client, opts.dlqName, {});
      const arn = await client.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }));
      const dlqArn = arn.Attributes?.QueueArn;
      if (dlqArn === undefined) throw new Error(`queue ${opts.dlqName} has no ARN`);
      attributes.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: String(opts.maxReceiveCount ?? 5) });
    }
    const url = await createOrUpdateQueue(client, name, attributes);
    return dlqUrl === undefined ? { url } : { url, dlqUrl };
  } finally {
    client.destroy();
  }
}

async function createOrUpdateQueue(client: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  try {
    const out = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (out.QueueUrl === undefined) throw new Error(`CreateQueue ${name} returned no URL`);
    return out.QueueUrl;
  } catch (e) {
    // CreateQueue is idempotent only for identical attributes; otherwise update in place.
    // The query protocol names it AWS.SimpleQueueService.QueueNameExists, not the SDK class.
    const errName = (e as { name?: unknown }).name;
    if (!(e instanceof QueueNameExists) && !(typeof errName === 'string' && errName.endsWith('QueueNameExists'))) throw e;
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: name }));
    if (QueueUrl === undefined) throw new Error(`GetQueueUrl ${name} returned no URL`);
    await client.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: attributes }));
    return QueueUrl;
  }
}

// ── Stacks run by `celeriac up`: queues and tables as a template describes them ──────────────

/** A CreateTable request: keys, attributes, billing, indexes (the template's, as plain data). */
export interface TableInput {
  readonly TableName: string;
  readonly KeySchema: readonly { readonly AttributeName: string; readonly KeyType: string }[];
  readonly AttributeDefinitions: readonly { readonly AttributeName: string; readonly AttributeType: string }[];
  readonly BillingMode: 'PAY_PER_REQUEST' | 'PROVISIONED';
  readonly [more: string]: unknown;
}

/** Creates a queue by name (FIFO when asked); returns its URL. */
export async function createQueueNamed(endpoint: string, name: string, fifo: boolean): Promise<string> {
  const client = new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint });
  try {
    const out = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: fifo ? { FifoQueue: 'true' } : {} }));
    if (out.QueueUrl === undefined) throw new Error(`CreateQueue ${name} returned no URL`);
    return out.QueueUrl;
  } finally {
    client.destroy();
  }
}

/** Sets a queue's attributes (SetQueueAttributes form). */
export async function setQueueAttributes(endpoint: string, url: string, attributes: Readonly<Record<string, string>>): Promise<void> {
  if (Object.keys(attributes).length === 0) return;
  const client = new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint });
  try {
    await client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { ...attributes } }));
  } finally {
    client.destroy();
  }
}

/** Creates a table (an existing one is left as it is). */
export async function createTableFrom(endpoint: string, input: TableInput): Promise<void> {
  const client = new DynamoDBClient({ ...EMULATOR_CLIENT_CONFIG, endpoint });
  try {
    await client.send(new CreateTableCommand(input as unknown as CreateTableCommandInput));
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
  } finally {
    client.destroy();
  }
}

/**
 * Deletes the items whose TTL attribute (epoch seconds) is past: what DynamoDB's TTL does in the
 * background (dynalite has no TTL). Returns how many were deleted.
 */
export async function sweepExpired(
  endpoint: string,
  table: string,
  key: readonly string[],
  ttlAttribute: string,
  nowSeconds: number,
): Promise<number> {
  const client = new DynamoDBClient({ ...EMULATOR_CLIENT_CONFIG, endpoint });
  let deleted = 0;
  try {
    let start: Record<string, unknown> | undefined;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: table,
          FilterExpression: '#t < :now',
          ExpressionAttributeNames: { '#t': ttlAttribute },
          ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
          ...(start === undefined ? {} : { ExclusiveStartKey: start as never }),
        }),
      );
      for (const item of page.Items ?? []) {
        const k = Object.fromEntries(key.map((a) => [a, item[a]]));
        await client.send(new DeleteItemCommand({ TableName: table, Key: k as never }));
        deleted++;
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
  } finally {
    client.destroy();
  }
  return deleted;
}

/** One SQS client on an emulator: plain sends (targets, DLQs) and brokers for pollers. */
export interface EmulatorSqs {
  send(url: string, body: string, attributes?: Readonly<Record<string, string>>): Promise<void>;
  /** A broker (a poller's consumer) knowing these queues by name. */
  broker(queueUrls: Readonly<Record<string, string>>): SqsBroker;
  destroy(): void;
}

/** An {@link EmulatorSqs} on `endpoint`. */
export function emulatorSqs(endpoint: string): EmulatorSqs {
  const client = new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint });
  return {
    async send(url, body, attributes) {
      await client.send(
        new SendMessageCommand({
          QueueUrl: url,
          MessageBody: body,
          ...(attributes === undefined
            ? {}
            : {
                MessageAttributes: Object.fromEntries(
                  Object.entries(attributes).map(([k, v]) => [k, { DataType: 'String', StringValue: v }]),
                ),
              }),
        }),
      );
    },
    broker: (queueUrls) => new SqsBroker({ client, queueUrls }),
    destroy: () => client.destroy(),
  };
}

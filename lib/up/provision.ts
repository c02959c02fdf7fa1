/**
 * Creating the template's queues and tables on the emulators (fauxqs, dynalite), with the
 * template's settings.
 */
import {
  type AttributeDefinition,
  CreateTableCommand,
  type CreateTableCommandInput,
  DeleteItemCommand,
  DynamoDBClient,
  type KeySchemaElement,
  ResourceInUseException,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, SetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { EMULATOR_CLIENT_CONFIG } from '../adapters/aws/provision';
import { TemplateError } from './template';

/** The queue attributes of `AWS::SQS::Queue` properties, in SetQueueAttributes form. */
export function queueAttributes(props: Readonly<Record<string, unknown>>): Record<string, string> {
  const out: Record<string, string> = {};
  const copy: Record<string, string> = {
    VisibilityTimeout: 'VisibilityTimeout',
    DelaySeconds: 'DelaySeconds',
    MaximumMessageSize: 'MaximumMessageSize',
    MessageRetentionPeriod: 'MessageRetentionPeriod',
    ReceiveMessageWaitTimeSeconds: 'ReceiveMessageWaitTimeSeconds',
  };
  for (const [prop, attr] of Object.entries(copy)) if (props[prop] !== undefined) out[attr] = String(props[prop]);
  if (props.RedrivePolicy !== undefined) {
    const rp = props.RedrivePolicy as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown };
    out.RedrivePolicy = JSON.stringify({ deadLetterTargetArn: rp.deadLetterTargetArn, maxReceiveCount: Number(rp.maxReceiveCount) });
  }
  return out;
}

/** Creates a queue by name (FIFO when the template says so); returns its URL. */
export async function createQueue(endpoint: string, name: string, fifo: boolean): Promise<string> {
  const client = new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint });
  try {
    const out = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: fifo ? { FifoQueue: 'true' } : {} }));
    if (out.QueueUrl === undefined) throw new Error(`CreateQueue ${name} returned no URL`);
    return out.QueueUrl;
  } finally {
    client.destroy();
  }
}

/** Sets a queue's attributes (after every queue exists, so a redrive policy can name its DLQ). */
export async function setQueueAttributes(endpoint: string, url: string, attributes: Record<string, string>): Promise<void> {
  if (Object.keys(attributes).length === 0) return;
  const client = new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint });
  try {
    await client.send(new SetQueueAttributesCommand({ QueueUrl: url, Attributes: attributes }));
  } finally {
    client.destroy();
  }
}

/** The CreateTable input of `AWS::DynamoDB::Table` properties (keys, attributes, indexes, billing). */
export function tableInput(logicalId: string, name: string, props: Readonly<Record<string, unknown>>): CreateTableCommandInput {
  const keySchema = props.KeySchema as KeySchemaElement[] | undefined;
  if (!Array.isArray(keySchema) || keySchema.length === 0) throw new TemplateError(logicalId, 'a table needs a KeySchema');
  const billing = props.BillingMode === 'PAY_PER_REQUEST' ? 'PAY_PER_REQUEST' : 'PROVISIONED';
  const throughput = (props.ProvisionedThroughput as CreateTableCommandInput['ProvisionedThroughput']) ?? {
    ReadCapacityUnits: 5,
    WriteCapacityUnits: 5,
  };
  const index = (i: Record<string, unknown>) => ({
    ...i,
    ...(billing === 'PROVISIONED' && i.ProvisionedThroughput === undefined ? { ProvisionedThroughput: throughput } : {}),
  });
  return {
    TableName: name,
    KeySchema: keySchema,
    AttributeDefinitions: props.AttributeDefinitions as AttributeDefinition[],
    BillingMode: billing,
    ...(billing === 'PROVISIONED' ? { ProvisionedThroughput: throughput } : {}),
    ...(Array.isArray(props.GlobalSecondaryIndexes) ? { GlobalSecondaryIndexes: props.GlobalSecondaryIndexes.map(index) } : {}),
    ...(Array.isArray(props.LocalSecondaryIndexes) ? { LocalSecondaryIndexes: props.LocalSecondaryIndexes } : {}),
  } as CreateTableCommandInput;
}

/** Creates a table (dynalite makes it ACTIVE at once). */
export async function createTable(endpoint: string, input: CreateTableCommandInput): Promise<void> {
  const client = new DynamoDBClient({ ...EMULATOR_CLIENT_CONFIG, endpoint });
  try {
    await client.send(new CreateTableCommand(input));
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

/**
 * The settings of the template's queues and tables, in the form the SQS and DynamoDB APIs take
 * (the calls themselves are the AWS adapter's: lib/adapters/aws/provision.ts).
 */
import type { TableInput } from '../adapters/aws/provision';
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

/** The CreateTable input of `AWS::DynamoDB::Table` properties (keys, attributes, indexes, billing). */
export function tableInput(logicalId: string, name: string, props: Readonly<Record<string, unknown>>): TableInput {
  const keySchema = props.KeySchema as TableInput['KeySchema'] | undefined;
  if (!Array.isArray(keySchema) || keySchema.length === 0) throw new TemplateError(logicalId, 'a table needs a KeySchema');
  const billing = props.BillingMode === 'PAY_PER_REQUEST' ? 'PAY_PER_REQUEST' : 'PROVISIONED';
  const throughput = (props.ProvisionedThroughput as Record<string, unknown> | undefined) ?? {
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
    AttributeDefinitions: props.AttributeDefinitions as TableInput['AttributeDefinitions'],
    BillingMode: billing,
    ...(billing === 'PROVISIONED' ? { ProvisionedThroughput: throughput } : {}),
    ...(Array.isArray(props.GlobalSecondaryIndexes) ? { GlobalSecondaryIndexes: props.GlobalSecondaryIndexes.map(index) } : {}),
    ...(Array.isArray(props.LocalSecondaryIndexes) ? { LocalSecondaryIndexes: props.LocalSecondaryIndexes } : {}),
  };
}

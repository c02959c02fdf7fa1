/**
 * Stack outputs → the environment a producer outside Lambda needs (the CLI, the deployed suite):
 * the scheduler group and role come along, so long countdowns are scheduled there too.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { envFromOutputs } from '../../lib/cli/outputs';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function outputsFile(outputs: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-outputs-'));
  dirs.push(dir);
  const file = join(dir, 'cdk-outputs.json');
  writeFileSync(file, JSON.stringify({ 'celeriac-shop': outputs }));
  return file;
}

describe('envFromOutputs', () => {
  it('maps every output cdk/stack.ts writes, the scheduler group and role and the payload bucket included', () => {
    const file = outputsFile({
      AppName: 'shop',
      TableName: 'shop-results',
      PayloadBucketName: 'shop-payloads',
      BusName: 'shop-bus',
      QueueUrls: '{"default":"https://sqs.eu-west-1.amazonaws.com/1/shop-default"}',
      DlqUrls: '{"default":"https://sqs.eu-west-1.amazonaws.com/1/shop-default-dlq"}',
      SchedulerGroup: 'shop-schedules',
      SchedulerRoleArn: 'arn:aws:iam::1:role/shop-SchedulerRole',
      QueueUrldefault: 'https://sqs.eu-west-1.amazonaws.com/1/shop-default',
    });

    expect(envFromOutputs(file)).toEqual({
      CELERIAC_APP: 'shop',
      CELERIAC_TABLE: 'shop-results',
      CELERIAC_PAYLOAD_BUCKET: 'shop-payloads',
      CELERIAC_BUS: 'shop-bus',
      CELERIAC_QUEUE_URLS: '{"default":"https://sqs.eu-west-1.amazonaws.com/1/shop-default"}',
      CELERIAC_DLQ_URLS: '{"default":"https://sqs.eu-west-1.amazonaws.com/1/shop-default-dlq"}',
      CELERIAC_SCHEDULER_GROUP: 'shop-schedules',
      CELERIAC_SCHEDULER_ROLE_ARN: 'arn:aws:iam::1:role/shop-SchedulerRole',
    });
  });

  it("takes the endpoints celeriac up adds, every service's (S3's name has a digit) and the region", () => {
    const endpoints = {
      AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:1',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:1',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:2',
      AWS_ENDPOINT_URL_EVENTBRIDGE: 'http://127.0.0.1:3',
      AWS_ENDPOINT_URL_SCHEDULER: 'http://127.0.0.1:4',
      AWS_REGION: 'us-east-1',
    };
    expect(envFromOutputs(outputsFile({ AppName: 'shop', TableName: 'shop-results', ...endpoints }))).toEqual({
      CELERIAC_APP: 'shop',
      CELERIAC_TABLE: 'shop-results',
      ...endpoints,
    });
  });
});

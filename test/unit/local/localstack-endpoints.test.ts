/**
 * Where `localstack` mode finds each service: per-service endpoints over `endpoint` (default
 * LocalStack's edge, http://localhost:4566), S3 (large payloads) included — except when only SQS
 * and DynamoDB are named, which is not one edge: then there is no payload store.
 */
import { describe, expect, it } from 'vitest';
import { localstackServices } from '../../../lib/local/backends/localstack';

describe('localstack mode endpoints', () => {
  it('puts every service, S3 included, on LocalStack’s edge by default', async () => {
    expect(await localstackServices({})).toEqual({
      dynamodb: 'http://localhost:4566',
      sqs: 'http://localhost:4566',
      s3: 'http://localhost:4566',
    });
  });

  it('puts every service on a given endpoint, each named one on its own', async () => {
    expect(await localstackServices({ endpoint: 'http://ls:4566', endpoints: { sqs: 'http://q:1' } })).toEqual({
      dynamodb: 'http://ls:4566',
      sqs: 'http://q:1',
      s3: 'http://ls:4566',
    });
    expect(await localstackServices({ endpoints: { sqs: 'http://q:1', dynamodb: 'http://d:2', s3: 'http://s:3' } })).toEqual({
      dynamodb: 'http://d:2',
      sqs: 'http://q:1',
      s3: 'http://s:3',
    });
  });

  it('has no S3 when only SQS and DynamoDB are named (payloads stay unconfigured, as before)', async () => {
    expect(await localstackServices({ endpoints: { sqs: 'http://q:1', dynamodb: 'http://d:2' } })).toEqual({
      dynamodb: 'http://d:2',
      sqs: 'http://q:1',
    });
  });
});

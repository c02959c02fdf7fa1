/**
 * The result-store contract on the real DynamoDB engine (Amazon's DynamoDB Local), beside the
 * memory and dynalite runs in result-store.test.ts: conditional writes, number-set ADD, consistent
 * batch reads behave as the service does, not as an emulator thinks they do.
 */
import { afterAll, beforeAll } from 'vitest';
import { awsBackend } from '../../lib/adapters/aws';
import { type Emulator, ensureTable } from '../../lib/local/emulators';
import { describeWithDynamoDbLocal, startDynamoDbLocal } from '../helpers/dynamodb-local';
import { clientConfig, testConfig } from './aws-helpers';
import { resultStoreContract } from './result-store.contract';

describeWithDynamoDbLocal('DynamoDB (DynamoDB Local)', () => {
  const table = 'celeriac-test';
  let ddb: Emulator;
  beforeAll(async () => {
    ddb = await startDynamoDbLocal();
    await ensureTable(ddb.endpoint, table);
  }, 90_000);
  afterAll(async () => {
    await ddb?.stop();
  });

  resultStoreContract(
    'DynamoResultStore on DynamoDB Local',
    () => awsBackend(testConfig({ CELERIAC_TABLE: table }), { endpoints: { dynamodb: ddb.endpoint }, clientConfig }).store,
  );
});

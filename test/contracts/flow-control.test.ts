import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe } from 'vitest';
import { DynamoFlowControl } from '../../lib/adapters/aws';
import { MemoryFlowControl } from '../../lib/adapters/memory';
import { type Emulator, ensureTable, startDynalite } from '../../lib/local/emulators';
import { describeWithDynamoDbLocal, startDynamoDbLocal } from '../helpers/dynamodb-local';
import { clientConfig } from './aws-helpers';
import { flowControlContract } from './flow-control.contract';

flowControlContract('memory', () => new MemoryFlowControl());

const clients: DynamoDBClient[] = [];
afterAll(() => {
  for (const c of clients) c.destroy();
});

describe('DynamoDB (dynalite)', () => {
  let dynalite: Emulator;
  beforeAll(async () => {
    dynalite = await startDynalite();
    await ensureTable(dynalite.endpoint, 'celeriac-flow');
  });
  afterAll(async () => {
    await dynalite?.stop();
  });
  flowControlContract('DynamoFlowControl on dynalite', () => {
    const client = new DynamoDBClient({ ...clientConfig, endpoint: dynalite.endpoint });
    clients.push(client);
    return new DynamoFlowControl({ client, table: 'celeriac-flow' });
  });
});

describeWithDynamoDbLocal('DynamoDB (DynamoDB Local)', () => {
  let ddb: Emulator;
  beforeAll(async () => {
    ddb = await startDynamoDbLocal();
    await ensureTable(ddb.endpoint, 'celeriac-flow');
  }, 90_000);
  afterAll(async () => {
    await ddb?.stop();
  });
  flowControlContract('DynamoFlowControl on DynamoDB Local', () => {
    const client = new DynamoDBClient({ ...clientConfig, endpoint: ddb.endpoint });
    clients.push(client);
    return new DynamoFlowControl({ client, table: 'celeriac-flow' });
  });
});

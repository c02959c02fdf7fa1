/**
 * What an idempotency key costs (README, "Call once: idempotency keys"), counted on the DynamoDB
 * requests a producer really makes, with the capacity DynamoDB reports for them (the counting
 * approach of bench/cost.ts): one conditional write of one write unit per keyed call, nothing
 * for a call without a key. On dynalite, and on DynamoDB Local when Java is present (the real
 * engine returns the holder with the failed write, so a later caller reads nothing).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoResultStore } from '../../lib/adapters/aws';
import { memoryBackend } from '../../lib/adapters/memory';
import { createApp as createCoreApp } from '../../lib/app';
import { type Emulator, ensureTable, startDynalite } from '../../lib/local/emulators';
import { clientConfig } from '../contracts/aws-helpers';
import { javaAvailable, startDynamoDbLocal } from '../helpers/dynamodb-local';
import { quietLogger } from '../helpers/harness';

interface Call {
  readonly op: string;
  /** Capacity units DynamoDB reported; a failed conditional write is billed one write unit (it reports none). */
  readonly units: number;
  readonly failed: boolean;
}

/** A DynamoDB client that records each operation with the capacity it consumed. */
function countingClient(endpoint: string): { client: DynamoDBClient; calls: Call[] } {
  const client = new DynamoDBClient({ ...clientConfig, endpoint });
  const calls: Call[] = [];
  type Args = { input: Record<string, unknown> };
  client.middlewareStack.add(
    ((next: (a: Args) => Promise<{ output: { ConsumedCapacity?: { CapacityUnits?: number } } }>, ctx: { commandName: string }) =>
      async (args: Args) => {
        const op = ctx.commandName.replace(/Command$/, '');
        try {
          const res = await next({ ...args, input: { ...args.input, ReturnConsumedCapacity: 'TOTAL' } });
          calls.push({ op, units: res.output.ConsumedCapacity?.CapacityUnits ?? 0, failed: false });
          return res;
        } catch (e) {
          calls.push({ op, units: 1, failed: true });
          throw e;
        }
      }) as never,
    { step: 'initialize', name: 'countCapacity' },
  );
  return { client, calls };
}

const engines: { name: string; start: () => Promise<Emulator>; returnsHolder: boolean }[] = [
  { name: 'dynalite', start: () => startDynalite(), returnsHolder: false },
  ...(javaAvailable ? [{ name: 'DynamoDB Local', start: () => startDynamoDbLocal(), returnsHolder: true }] : []),
];

describe.each(engines)('what an idempotency key costs on $name', (engine) => {
  let emulator: Emulator;
  let counting: ReturnType<typeof countingClient>;
  const table = 'celeriac-idem-cost';
  const backend = memoryBackend({ pollIntervalMs: 1 });
  const app = createCoreApp({ name: 'shop', logger: quietLogger });
  const add = app.task('add', (x: number, y: number) => x + y);

  beforeAll(async () => {
    emulator = await engine.start();
    await ensureTable(emulator.endpoint, table);
    counting = countingClient(emulator.endpoint);
    app.use({ ...backend, store: new DynamoResultStore({ client: counting.client, table }) });
  }, 90_000);
  afterAll(async () => {
    counting?.client.destroy();
    await emulator?.stop();
  });

  it('a call without a key makes no DynamoDB request', async () => {
    counting.calls.length = 0;
    await add.delay(1, 2);
    expect(counting.calls).toEqual([]);
  });

  it('the first keyed call makes one conditional PutItem of one write unit', async () => {
    counting.calls.length = 0;
    await add.applyAsync([1, 2], { idempotencyKey: 'order-1' });
    expect(counting.calls).toEqual([{ op: 'PutItem', units: 1, failed: false }]);
  });

  it('a later keyed call makes one failed conditional PutItem (one write unit), and reads only where the engine does not return the holder', async () => {
    counting.calls.length = 0;
    await add.applyAsync([1, 2], { idempotencyKey: 'order-1' });
    expect(counting.calls[0]).toEqual({ op: 'PutItem', units: 1, failed: true });
    expect(counting.calls.slice(1).map((c) => c.op)).toEqual(engine.returnsHolder ? [] : ['GetItem']);
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsBackend, DynamoResultStore } from '../../lib/adapters/aws';
import { fakeClock, MemoryResultStore } from '../../lib/adapters/memory';
import { type Emulator, ensureTable, startDynalite } from '../../lib/local/emulators';
import type { PlanRecord } from '../../lib/protocol/plan';
import { clientConfig, fastRetry, sdkError, stubClient, testConfig } from './aws-helpers';
import { resultStoreContract } from './result-store.contract';

resultStoreContract('memory', () => new MemoryResultStore());

describe('DynamoDB (dynalite)', () => {
  const table = 'celeriac-test';
  let dynalite: Emulator;
  let raw: DynamoDBClient;
  beforeAll(async () => {
    dynalite = await startDynalite();
    await ensureTable(dynalite.endpoint, table);
    raw = new DynamoDBClient({ ...clientConfig, endpoint: dynalite.endpoint });
  });
  afterAll(async () => {
    raw?.destroy();
    await dynalite?.stop();
  });
  const item = async (pk: string) =>
    (await raw.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true }))).Item;

  resultStoreContract(
    'DynamoResultStore on dynalite',
    () => awsBackend(testConfig({ CELERIAC_TABLE: table }), { endpoints: { dynamodb: dynalite.endpoint }, clientConfig }).store,
  );

  describe('DynamoResultStore specifics', () => {
    const clock = fakeClock(Date.UTC(2025, 0, 1));
    const store = (ttlSeconds = 3_600) =>
      new DynamoResultStore({ client: new DynamoDBClient({ ...clientConfig, endpoint: dynalite.endpoint }), table, ttlSeconds, clock });

    it('asks DynamoDB for an eventually consistent read (half the read units) only when told to', async () => {
      const client = new DynamoDBClient({ ...clientConfig, endpoint: dynalite.endpoint });
      const asked: unknown[] = [];
      client.middlewareStack.add(
        (next) => async (args) => {
          const input = args.input as { ConsistentRead?: boolean; RequestItems?: Record<string, { ConsistentRead?: boolean }> };
          asked.push(input.ConsistentRead ?? input.RequestItems?.[table]?.ConsistentRead);
          return next(args);
        },
        { step: 'initialize' },
      );
      const s = new DynamoResultStore({ client, table, clock });
      const taskId = randomUUID();
      await s.get(taskId);
      await s.get(taskId, { consistent: false });
      await s.getMany([taskId], { consistent: false });
      await s.getMany([taskId]);
      expect(asked).toEqual([true, false, false, true]);
    });

    it('stores items under the keys documented in KEYS.md, each with a TTL', async () => {
      const s = store();
      const [taskId, planId, joinId, claimKey] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      await s.writeIfNotReady({ id: taskId, state: 'SUCCESS', result: 1, retries: 2, cont: 'pending', lease: { owner: 'w', until: 9 } });
      await s.putPlan({ v: 1, id: planId, root: 0, nodes: [{ t: 'task', id: planId, name: 'add', args: [] }] });
      await s.joinAdd(joinId, 3, 7, true);
      await s.claim(claimKey);
      const ttl = { N: String(Date.UTC(2025, 0, 1) / 1000 + 3_600) };
      expect(await item(`r#${taskId}`)).toMatchObject({
        state: { S: 'SUCCESS' },
        attempt: { N: '2' },
        cont: { S: 'pending' },
        leaseOwner: { S: 'w' },
        leaseUntil: { N: '9' },
        ttl,
      });
      expect(JSON.parse((await item(`r#${taskId}`))?.rec?.S ?? '')).toEqual({ id: taskId, state: 'SUCCESS', result: 1, retries: 2 });
      expect(await item(`p#${planId}`)).toMatchObject({ plan: { S: expect.stringContaining(planId) }, ttl });
      expect(await item(`j#${joinId}#3`)).toMatchObject({ done: { NS: ['7'] }, failed: { NS: ['7'] }, ttl });
      expect(await item(`c#${claimKey}`)).toMatchObject({ ttl });
    });

    it('stores an idempotency claim under i#<key> with its expiry in ms and the TTL attribute at that expiry', async () => {
      const s = store();
      const key = randomUUID();
      const expiresAt = Date.UTC(2025, 0, 2) + 500;
      await s.claimCall(key, { id: 'first', seed: 'seed-1', expiresAt }, Date.UTC(2025, 0, 1));
      expect(await item(`i#${key}`)).toEqual({
        pk: { S: `i#${key}` },
        id: { S: 'first' },
        seed: { S: 'seed-1' },
        exp: { N: String(expiresAt) },
        ttl: { N: String(Math.ceil(expiresAt / 1000)) },
      });
    });

    it('ensureTable is idempotent', async () => {
      await expect(ensureTable(dynalite.endpoint, table)).resolves.toBeUndefined();
    });

    it('writes no TTL attribute when results live forever (resultTtlSeconds 0)', async () => {
      const taskId = randomUUID();
      await store(0).writeIfNotReady({ id: taskId, state: 'SUCCESS' });
      expect((await item(`r#${taskId}`))?.ttl).toBeUndefined();
    });

    it('gzips a large plan, and splits one over ~350 KB gzipped into chunk items', async () => {
      const s = store();
      const mid: PlanRecord = {
        v: 1,
        id: randomUUID(),
        root: 0,
        nodes: Array.from({ length: 500 }, (_, i) => ({ t: 'task' as const, id: `t${i}`, name: 'add', args: ['x'.repeat(100)] })),
      };
      await s.putPlan(mid);
      expect((await item(`p#${mid.id}`))?.planGz?.B).toBeInstanceOf(Uint8Array);
      const huge: PlanRecord = {
        v: 1,
        id: randomUUID(),
        root: 0,
        nodes: Array.from({ length: 1_000 }, (_, i) => ({
          t: 'task' as const,
          id: `t${i}`,
          name: 'add',
          args: [randomBytes(900).toString('base64')],
        })),
      };
      await s.putPlan(huge);
      const head = await item(`p#${huge.id}`);
      expect(Number(head?.chunks?.N)).toBeGreaterThanOrEqual(2);
      expect((await item(`pc#${huge.id}#0`))?.data?.B?.byteLength).toBe(350_000);
      expect(await s.getPlan(huge.id)).toEqual(huge);
      expect(await s.getPlan(mid.id)).toEqual(mid);
    });

    it('reports a missing table as NOT_CONFIGURED', async () => {
      const s = new DynamoResultStore({
        client: new DynamoDBClient({ ...clientConfig, endpoint: dynalite.endpoint }),
        table: 'no-such-table',
      });
      await expect(s.get('x')).rejects.toMatchObject({ code: 'NOT_CONFIGURED', retryable: false });
    });

    it('maps an unreachable endpoint to a retryable BACKEND_UNAVAILABLE', async () => {
      const s = new DynamoResultStore({
        client: new DynamoDBClient({ ...clientConfig, maxAttempts: 1, endpoint: 'http://127.0.0.1:9' }),
        table,
      });
      await expect(s.get('x')).rejects.toMatchObject({ code: 'BACKEND_UNAVAILABLE', retryable: true });
    });

    it.each([
      ['ProvisionedThroughputExceededException', 400, true],
      ['ThrottlingException', 400, true],
      ['InternalServerError', 500, true],
      ['ValidationException', 400, false],
    ] as const)('maps %s (HTTP %i) to BACKEND_UNAVAILABLE, retryable: %s', async (name, status, retryable) => {
      const { client } = stubClient<DynamoDBClient>(() => {
        throw sdkError(name, status);
      });
      const s = new DynamoResultStore({ client, table });
      const err = await s.writeIfNotReady({ id: 'x', state: 'SUCCESS' }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'BACKEND_UNAVAILABLE', retryable });
      expect((err as Error).message).toContain(name);
      expect((err as Error).cause).toMatchObject({ name });
    });

    it('retries keys BatchGetItem leaves unprocessed', async () => {
      const { client, calls } = stubClient<DynamoDBClient>((cmd, call) => {
        const keys = (cmd.input.RequestItems as Record<string, { Keys: { pk: { S: string } }[] }>)[table]?.Keys ?? [];
        const [first, ...rest] = keys;
        const rec = (k: { pk: { S: string } }) => ({
          pk: k.pk,
          state: { S: 'SUCCESS' },
          rec: { S: JSON.stringify({ id: k.pk.S.slice(2), state: 'SUCCESS' }) },
        });
        // The first call answers one key and leaves the rest unprocessed, as under throttling.
        return call === 1
          ? { Responses: { [table]: first ? [rec(first)] : [] }, UnprocessedKeys: { [table]: { Keys: rest } } }
          : { Responses: { [table]: keys.map(rec) } };
      });
      const s = new DynamoResultStore({ client, table, retry: fastRetry });
      const got = await s.getMany(['a', 'b', 'c']);
      expect(got.map((r) => r?.id)).toEqual(['a', 'b', 'c']);
      expect(calls).toHaveLength(2);
      expect(calls.every((c) => (c.input.RequestItems as Record<string, { ConsistentRead: boolean }>)[table]?.ConsistentRead)).toBe(true);
    });

    it('honours AWS_ENDPOINT_URL_DYNAMODB set in process.env (read by the SDK itself)', async () => {
      const saved = process.env.AWS_ENDPOINT_URL_DYNAMODB;
      process.env.AWS_ENDPOINT_URL_DYNAMODB = dynalite.endpoint;
      try {
        const backend = awsBackend(testConfig({ CELERIAC_TABLE: table }), { clientConfig });
        const taskId = randomUUID();
        await backend.store.writeIfNotReady({ id: taskId, state: 'SUCCESS' });
        expect(await item(`r#${taskId}`)).toBeDefined();
        backend.destroy();
      } finally {
        if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_DYNAMODB;
        else process.env.AWS_ENDPOINT_URL_DYNAMODB = saved;
      }
    });
  });
});

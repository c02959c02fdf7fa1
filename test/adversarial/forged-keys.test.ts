/**
 * Store namespaces, on memory, dynalite and DynamoDB Local: whatever id a record is written
 * under, it can never land on a plan, a join shard, a claim or an idempotency key (and none of those on a result),
 * even for ids built to look like the other keys (KEYS.md, "namespaces"); and the runtime's own
 * claim records in the result namespace use prefixes no accepted id can have.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsBackend } from '../../lib/adapters/aws';
import { MemoryResultStore } from '../../lib/adapters/memory';
import { type Emulator, ensureTable, startDynalite } from '../../lib/local/emulators';
import type { ResultStore } from '../../lib/ports';
import { decodeEnvelope } from '../../lib/protocol/envelope';
import { errbackClaimKey, isId, joinClaimKey } from '../../lib/protocol/ids';
import type { Plan } from '../../lib/protocol/plan';
import { clientConfig, testConfig } from '../contracts/aws-helpers';
import { javaAvailable, startDynamoDbLocal } from '../helpers/dynamodb-local';

/** Ids shaped like the other namespaces' keys (KEYS.md prefixes and numeric suffixes). */
const LOOKALIKES = ['p#plan-1', 'pc#plan-1#0', 'j#join-1#0', 'c#claim-1', 'i#key-1', 'r#task-1', 'plan-1#0', 'join-1#0', '#', 'x#'];

type Started = { store: ResultStore; stop(): Promise<void> };
const stores: [string, () => Promise<Started>][] = [
  ['memory', async () => ({ store: new MemoryResultStore(), stop: async () => {} })],
  ['dynalite', () => dynamoOn(startDynalite())],
];
if (javaAvailable) stores.push(['dynamodb-local', () => dynamoOn(startDynamoDbLocal())]);
if (!javaAvailable) console.log('[adversarial] forged-keys on dynamodb-local not run: no Java runtime on PATH');

async function dynamoOn(started: Promise<Emulator>): Promise<Started> {
  const emu = await started;
  await ensureTable(emu.endpoint, 'celeriac-keys');
  const backend = awsBackend(testConfig({ CELERIAC_TABLE: 'celeriac-keys' }), { endpoints: { dynamodb: emu.endpoint }, clientConfig });
  return { store: backend.store, stop: () => emu.stop() };
}

const plan = (id: string): Plan => ({ v: 1, id, root: 0, nodes: [{ t: 'task', id, name: 'add', args: [] }] });

describe.each(stores)('store namespaces on %s', (_name, start) => {
  let s: Started;
  beforeAll(async () => {
    s = await start();
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('a result written under an id shaped like another key leaves plans, joins and claims untouched', async () => {
    const { store } = s;
    await store.putPlan(plan('plan-1'));
    await store.joinAdd('join-1', 0, 3, false);
    expect(await store.claim('claim-1')).toBe(true);
    for (const id of LOOKALIKES) await store.writeIfNotReady({ id, state: 'FAILURE', cont: 'done' });

    expect(await store.getPlan('plan-1')).toEqual(plan('plan-1'));
    expect((await store.joinRead('join-1', 1))[0]?.done).toEqual([3]);
    expect(await store.claim('claim-1')).toBe(false);
    expect(await store.claim('claim-2')).toBe(true);
  });

  it('plans, joins and claims under lookalike ids never appear as results', async () => {
    const { store } = s;
    for (const id of LOOKALIKES) {
      await store.putPlan(plan(`${id}-p`));
      await store.joinAdd(`${id}-j`, 0, 1, true);
      await store.claim(`${id}-c`);
    }
    const ids = LOOKALIKES.flatMap((id) => [`${id}-p`, `${id}-j`, `${id}-j#0`, `${id}-c`]);
    expect((await store.getMany(ids)).filter((r) => r !== undefined)).toEqual([]);
  });
});

describe.each(stores)('idempotency keys among the other namespaces on %s', (_name, start) => {
  let s: Started;
  beforeAll(async () => {
    s = await start();
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('a key named like a result, a plan or a claim is its own item, and those never hold it', async () => {
    const { store } = s;
    const later = 4_102_444_800_000; // 2100: unexpired whatever the clock says
    for (const id of LOOKALIKES) {
      await store.writeIfNotReady({ id, state: 'SUCCESS', cont: 'done' });
      await store.claim(id);
      await store.putPlan(plan(`${id}-p`));
    }
    for (const id of [...LOOKALIKES, ...LOOKALIKES.map((x) => `${x}-p`)]) {
      expect(await store.claimCall(id, { id: 'first', expiresAt: later }, 0)).toBeUndefined();
    }
    expect((await store.getMany(LOOKALIKES)).map((r) => r?.state)).toEqual(LOOKALIKES.map(() => 'SUCCESS'));
    expect(await store.claim(LOOKALIKES[0] as string)).toBe(false);
  });
});

describe('the runtime claim records', () => {
  it('use prefixes that no id accepted from a message can have', () => {
    expect(isId(joinClaimKey('g-1'))).toBe(false);
    expect(isId(errbackClaimKey('t-1', 2))).toBe(false);
    for (const id of [joinClaimKey('g-1'), errbackClaimKey('t-1', 2)]) {
      const d = decodeEnvelope(JSON.stringify({ task: 'add', args: [], id }), { messageId: 'm-1' });
      expect(d.ok).toBe(false);
    }
  });
});

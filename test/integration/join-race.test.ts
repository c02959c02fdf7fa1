/**
 * Exactly-once fan-in on real conditional writes and real atomic ADD (dynalite): every header
 * message delivered twice, deliveries racing in concurrent invocations, and a count of the
 * DynamoDB writes a join costs.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoResultStore } from '../../lib/adapters/aws';
import { memoryBackend } from '../../lib/adapters/memory';
import { createApp } from '../../lib/app';
import { chain, chord, group } from '../../lib/canvas/builders';
import { EMULATOR_CLIENT_CONFIG, type Emulator, ensureTable, startDynalite } from '../../lib/local/emulators';
import type { Backend, ReceivedMessage } from '../../lib/ports';
import { createWorker } from '../../lib/worker';
import { quietLogger, sqsEvent } from '../helpers/harness';

let dynalite: Emulator;
let table = 0;
const clients: DynamoDBClient[] = [];

beforeAll(async () => {
  dynalite = await startDynalite();
});
afterAll(async () => {
  for (const c of clients) c.destroy();
  await dynalite?.stop();
});

async function setup() {
  const name = `race-${++table}`;
  await ensureTable(dynalite.endpoint, name);
  const mem = memoryBackend({ pollIntervalMs: 2 });
  const client = new DynamoDBClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: dynalite.endpoint });
  clients.push(client);
  const store = new DynamoResultStore({ client, table: name });
  return { mem, store };
}

describe('chord joins on dynalite', () => {
  it('every message delivered twice and racing: the body runs once with every result in order', async () => {
    const { backend, writes } = await dynamoBackend();
    const app = createApp({ name: 'race', backend, logger: quietLogger, events: false });
    let bodyRuns = 0;
    const inc = app.task('inc', async (x: number) => x + 1);
    const collect = app.task('collect', (xs: number[]) => {
      bodyRuns++;
      return xs;
    });
    const handler = createWorker(app, { concurrency: 10 });
    const n = 120;
    const r = await chord(
      Array.from({ length: n }, (_, i) => inc.s(i)),
      collect.s(),
    ).applyAsync();
    const broker = (backend as Backend & { broker: ReturnType<typeof memoryBackend>['broker'] }).broker;
    // Take every header message, then deliver each twice from concurrent invocations.
    const all: ReceivedMessage[] = [];
    for (;;) {
      const got = await broker.receive('default', { max: 10, visibilityTimeoutSeconds: 300, waitMs: 0 });
      if (got.length === 0) break;
      all.push(...got);
    }
    expect(all).toHaveLength(n);
    const batches: ReceivedMessage[][] = [];
    for (let i = 0; i < all.length; i += 10) batches.push(all.slice(i, i + 10));
    const joinWritesBefore = writes.joinAdd;
    const results = await Promise.all([...batches, ...batches.reverse()].map((b) => handler(sqsEvent('default', b))));
    // Deliveries that found a continuation held by a racing twin ask for redelivery: redeliver them.
    const retry = new Set(results.flatMap((x) => x.batchItemFailures.map((f) => f.itemIdentifier)));
    for (let round = 0; retry.size > 0 && round < 50; round++) {
      const again = all.filter((m) => retry.has(m.messageId));
      retry.clear();
      await new Promise((res) => setTimeout(res, 20));
      for (const x of await Promise.all(again.map((m) => handler(sqsEvent('default', [m]))))) {
        for (const f of x.batchItemFailures) retry.add(f.itemIdentifier);
      }
    }
    // The body message (and the chord deadline check) are on the queue now: deliver the body.
    const rest = await broker.receive('default', { max: 10, visibilityTimeoutSeconds: 300, waitMs: 0 });
    await handler(sqsEvent('default', rest));
    await handler(sqsEvent('default', rest)); // the body delivered twice as well
    expect(await r.get({ timeoutMs: 5000 })).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(bodyRuns).toBe(1);
    // One join write per member delivery that got to the join; duplicates add nothing to the set.
    expect(writes.joinAdd - joinWritesBefore).toBeGreaterThanOrEqual(n);
    expect(writes.joinAdd - joinWritesBefore).toBeLessThanOrEqual(2 * n);
  });

  it('a join costs one DynamoDB write per header member beyond its result write (plus one claim for the body)', async () => {
    const { backend, writes, broker } = await dynamoBackend();
    const app = createApp({ name: 'race', backend, logger: quietLogger, events: false });
    const inc = app.task('inc', (x: number) => x + 1);
    const sum = app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
    const handler = createWorker(app);
    const n = 50;
    const r = await chord(
      Array.from({ length: n }, (_, i) => inc.s(i)),
      sum.s(),
    ).applyAsync();
    const start = { ...writes };
    for (;;) {
      const got = await broker.receive('default', { max: 10, visibilityTimeoutSeconds: 300, waitMs: 0 });
      if (got.length === 0) break;
      await handler(sqsEvent('default', got));
    }
    expect(await r.get({ timeoutMs: 5000 })).toBe((n * (n + 1)) / 2);
    const outcome = writes.writeIfNotReady - start.writeIfNotReady; // n member results + body result + 1 claim
    const join = writes.joinAdd - start.joinAdd;
    const other = writes.finishContinuations - start.finishContinuations; // the claim marked done once
    expect(join).toBe(n);
    expect(outcome).toBe(n + 2);
    expect(other).toBe(1);
  });

  it('a group followed by steps (a chord in a chain) dispatches each step once through racing duplicates', async () => {
    const { backend, broker } = await dynamoBackend();
    const app = createApp({ name: 'race', backend, logger: quietLogger, events: false });
    const inc = app.task('inc', (x: number) => x + 1);
    const sum = app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
    const tail = app.task('tail', (x: number) => x * 10);
    const sent = new Map<string, number>();
    const send = broker.send.bind(broker);
    broker.send = async (msgs) => {
      for (const m of msgs) {
        const task = (JSON.parse(m.body) as { task: string }).task;
        sent.set(task, (sent.get(task) ?? 0) + 1);
      }
      return send(msgs);
    };
    const handler = createWorker(app);
    const r = await chain(group(inc.s(1), inc.s(2), inc.s(3)), sum.s(), tail.s()).applyAsync();
    for (let round = 0; round < 20; round++) {
      const got = await broker.receive('default', { max: 10, visibilityTimeoutSeconds: 0, waitMs: 0 });
      if (got.length === 0) break;
      await Promise.all([handler(sqsEvent('default', got)), handler(sqsEvent('default', got))]);
      await broker.delete(
        'default',
        got.map((m) => m.receiptHandle),
      );
    }
    expect(await r.get({ timeoutMs: 5000 })).toBe(90);
    // Two deliveries racing at the same instant may both run a body, but only one stores and
    // continues: each next step was dispatched exactly once.
    expect(sent.get('sum')).toBe(1);
    expect(sent.get('tail')).toBe(1);
  });
});

/** Memory broker and events, DynamoDB store on dynalite, with a write counter. */
async function dynamoBackend() {
  const { mem, store } = await setup();
  const writes = { writeIfNotReady: 0, joinAdd: 0, finishContinuations: 0, writeProgress: 0, takeOver: 0 };
  for (const k of Object.keys(writes) as (keyof typeof writes)[]) {
    const orig = (store[k] as (...a: unknown[]) => Promise<unknown>).bind(store);
    (store as unknown as Record<string, unknown>)[k] = (...a: unknown[]) => {
      writes[k]++;
      return orig(...a);
    };
  }
  const backend: Backend = { ...mem, store, kind: 'dynalite' };
  return { backend, writes, broker: mem.broker };
}

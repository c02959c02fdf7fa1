/**
 * A counted emulated run, shared by `bench:cost` and `bench:scaling`: every AWS API call a
 * workflow makes, with its bytes and billing units, and what those units cost.
 *
 * The run: dynalite + fauxqs + the PutEvents capture endpoint, in-process, built here from
 * lib/local/emulators.ts + awsBackend + the worker handler, because startLocal creates its own SDK
 * clients: here every client is a counting one, injected into awsBackend (`clients`). An SDK
 * middleware on each client records every call by operation, with its request bytes, the SQS
 * message bodies it sends and its billing units — SQS requests per 64 KB chunk, DynamoDB capacity
 * units as DynamoDB reports them (ReturnConsumedCapacity, which dynalite computes with DynamoDB's
 * item-size rules), EventBridge events per 64 KB chunk.
 *
 * Phases, counted apart:
 *   producer  `applyAsync()` of N workflows (no worker running yet);
 *   worker    the handler, invoked with batches of up to 10 records (the topology's batch size),
 *             fed by an event-source-mapping stand-in that receives and deletes through its OWN
 *             counting client (`esm`: on AWS those ReceiveMessage/DeleteMessageBatch calls are
 *             made by Lambda and billed to the account as SQS requests);
 *   deadline  each chord's deadline check, a message sent with DelaySeconds=900: after the run it
 *             is put back on its queue without the delay (uncounted: its send was counted) and
 *             delivered, as it is 15 minutes later on AWS, to count what its delivery costs.
 * Result reads by the caller (`get()` polling) are not part of a workflow's cost and are not
 * counted; one GetItem per poll (1 RRU) is what each poll adds.
 *
 * Lambda: one request per invocation (measured: records / batch size) and duration at an assumed
 * LAMBDA_MS_PER_INVOCATION (default 100 ms billed per batch of 10) at the queue's memory size
 * (topology default 1024 MB), arm64.
 *
 * Large payloads (README, "Large payloads"): a workload marked `payloads` runs with a payload
 * bucket on fauxqs's S3, through a counting S3 client too (billed per request: PUT, GET; DELETE is
 * free). The caller's `get()` of a result by reference costs one GET, phase `client`, not counted.
 *
 * Prices: us-east-1 list prices (see PRICES and bench/RESULTS.md for the pages).
 */
import {
  type BatchGetItemCommandOutput,
  DynamoDBClient,
  type GetItemCommandOutput,
  type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, type PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import {
  type ReceiveMessageCommandOutput,
  type SendMessageBatchCommandInput,
  type SendMessageCommandInput,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { awsBackend, SqsBroker } from '../lib/adapters/aws';
import type { App } from '../lib/app';
import { loadConfig } from '../lib/config';
import { createApp } from '../lib/index';
import { emulatorS3Config, ensureBucket } from '../lib/local/emulators';
import {
  EMULATOR_CLIENT_CONFIG,
  ensureQueue,
  ensureTable,
  sqsEvent,
  startDynalite,
  startEventBridgeEndpoint,
  startFauxqs,
} from '../lib/local/index';
import type { Backend, OutgoingMessage } from '../lib/ports';
import { buildTopology } from '../lib/routing';
import { createWorker } from '../lib/worker';
import { quiet } from './driver';

// ── prices (us-east-1 list prices) ──────────────────────────────────────────────────────────

export const PRICES = {
  /** SQS standard queue: $0.40 per million requests; each 64 KB chunk of payload is one request. */
  sqsRequest: 0.4 / 1e6,
  /** Lambda: $0.20 per million requests. */
  lambdaRequest: 0.2 / 1e6,
  /** Lambda arm64: $0.0000133334 per GB-second (first 7.5 billion GB-s a month). */
  lambdaGbSecondArm: 0.0000133334,
  /** DynamoDB on-demand: $0.625 per million write request units (1 KB each). */
  ddbWru: 0.625 / 1e6,
  /** DynamoDB on-demand: $0.125 per million read request units (4 KB strongly consistent). */
  ddbRru: 0.125 / 1e6,
  /** EventBridge custom events: $1.00 per million; each 64 KB chunk of an entry is one event. */
  ebEvent: 1.0 / 1e6,
  /** Step Functions Standard: $25 per million state transitions. */
  sfnTransition: 25 / 1e6,
  /** S3 Standard: $0.005 per 1,000 PUT, COPY, POST, LIST requests (https://aws.amazon.com/s3/pricing/). */
  s3Put: 0.005 / 1000,
  /** S3 Standard: $0.0004 per 1,000 GET, SELECT and all other requests; DELETE is free (same page). */
  s3Get: 0.0004 / 1000,
};
const CHUNK = 64 * 1024;
/** Records per Lambda invocation: the topology's batch size. */
export const BATCH = 10;
export const LAMBDA_MS = Number(process.env.LAMBDA_MS_PER_INVOCATION ?? 100);

// ── counting clients ────────────────────────────────────────────────────────────────────────

type Service = 'sqs' | 'dynamodb' | 'eventbridge' | 's3';
export interface OpTally {
  calls: number;
  requestBytes: number;
  /** SQS requests (64 KB chunks), DynamoDB RRU/WRU, EventBridge events. */
  units: number;
  errors: number;
  /** SQS sends: messages sent and the bytes of their bodies. */
  messages: number;
  bodyBytes: number;
}
/** phase → "who service Operation" → tally */
export type Tally = Map<string, Map<string, OpTally>>;

export const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan']);

/** The phase calls are counted under, switched by the run. */
interface Phase {
  name: string;
}

function opIn(tally: Tally, ph: string, key: string): OpTally {
  let p = tally.get(ph);
  if (!p) {
    p = new Map();
    tally.set(ph, p);
  }
  let t = p.get(key);
  if (!t) {
    t = { calls: 0, requestBytes: 0, units: 0, errors: 0, messages: 0, bodyBytes: 0 };
    p.set(key, t);
  }
  return t;
}

/** Message bodies an SQS send carries. */
function sentBodies(name: string, input: Record<string, unknown>): string[] {
  if (name === 'SendMessageBatch')
    return ((input as unknown as SendMessageBatchCommandInput).Entries ?? []).map((e) => e.MessageBody ?? '');
  if (name === 'SendMessage') return [(input as unknown as SendMessageCommandInput).MessageBody ?? ''];
  return [];
}

/** Adds the counting middleware to a client. `who` prefixes the operation (app / esm). */
function count<C extends SQSClient | DynamoDBClient | EventBridgeClient | S3Client>(
  client: C,
  service: Service,
  tally: Tally,
  phase: Phase,
  who: string,
): C {
  const stack = client.middlewareStack as unknown as {
    add(mw: unknown, opts: { step: string; name: string }): void;
  };
  type Ctx = { commandName: string; costRequestBytes?: number };
  stack.add(
    (next: (a: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>, context: Ctx) =>
      async (args: { input: Record<string, unknown> }) => {
        const name = context.commandName.replace(/Command$/, '');
        const input = service === 'dynamodb' ? { ...args.input, ReturnConsumedCapacity: 'TOTAL' } : args.input;
        const tallied = (empty: boolean): OpTally => {
          // An empty receive is the poller's idle cost, not a workflow's: kept apart, under `idle`.
          const t = empty ? opIn(tally, 'idle', `${who} ${service} ${name} (empty)`) : opIn(tally, phase.name, `${who} ${service} ${name}`);
          t.calls++;
          t.requestBytes += context.costRequestBytes ?? 0;
          if (service === 'sqs') {
            const bodies = sentBodies(name, input);
            t.messages += bodies.length;
            for (const b of bodies) t.bodyBytes += Buffer.byteLength(b);
          }
          return t;
        };
        try {
          const res = await next({ ...args, input });
          const empty = name === 'ReceiveMessage' && ((res.output as { Messages?: unknown[] }).Messages ?? []).length === 0;
          tallied(empty).units += unitsOf(service, name, input, res.output);
          return res;
        } catch (e) {
          const t = tallied(false);
          t.errors++;
          // A failed conditional write still consumes write capacity (at least 1 WRU).
          if (service === 'dynamodb' && !READS.has(name))
            t.units += Math.max(1, Math.ceil(itemBytes((input as unknown as PutItemCommandInput).Item) / 1024));
          else t.units += service === 'sqs' ? 1 : 0;
          throw e;
        }
      },
    { step: 'initialize', name: `costCounter-${who}` },
  );
  stack.add(
    (next: (a: { request: { body?: unknown } }) => Promise<unknown>, context: Ctx) => async (args: { request: { body?: unknown } }) => {
      const body = args.request.body;
      context.costRequestBytes = typeof body === 'string' ? Buffer.byteLength(body) : body instanceof Uint8Array ? body.byteLength : 0;
      return next(args);
    },
    { step: 'finalizeRequest', name: `costBytes-${who}` },
  );
  return client;
}

function unitsOf(service: Service, name: string, input: Record<string, unknown>, output: Record<string, unknown>): number {
  // S3 bills per request whatever its size (PUT and GET priced apart in costOf); DELETE is free.
  if (service === 's3') return name === 'DeleteObjects' ? 0 : 1;
  if (service === 'sqs') {
    if (name === 'SendMessageBatch') {
      const bytes = ((input as unknown as SendMessageBatchCommandInput).Entries ?? []).reduce(
        (n, e) => n + Buffer.byteLength(e.MessageBody ?? ''),
        0,
      );
      return Math.max(1, Math.ceil(bytes / CHUNK));
    }
    if (name === 'ReceiveMessage') {
      const bytes = ((output as unknown as ReceiveMessageCommandOutput).Messages ?? []).reduce(
        (n, m) => n + Buffer.byteLength(m.Body ?? ''),
        0,
      );
      return Math.max(1, Math.ceil(bytes / CHUNK));
    }
    return 1;
  }
  if (service === 'eventbridge') {
    const entries = (input as unknown as PutEventsCommandInput).Entries ?? [];
    // EventBridge's entry size: Time (14) + Source + DetailType + Detail + Resources, UTF-8.
    return entries.reduce((n, e) => {
      const b =
        14 +
        Buffer.byteLength(e.Source ?? '') +
        Buffer.byteLength(e.DetailType ?? '') +
        Buffer.byteLength(e.Detail ?? '') +
        (e.Resources ?? []).reduce((r, x) => r + Buffer.byteLength(x), 0);
      return n + Math.max(1, Math.ceil(b / CHUNK));
    }, 0);
  }
  const cc = (output as unknown as GetItemCommandOutput | BatchGetItemCommandOutput).ConsumedCapacity as
    | { CapacityUnits?: number }
    | { CapacityUnits?: number }[]
    | undefined;
  if (cc === undefined) throw new Error(`DynamoDB ${name}: no ConsumedCapacity in the answer`);
  return (Array.isArray(cc) ? cc : [cc]).reduce((n, c) => n + (c.CapacityUnits ?? 0), 0);
}

function itemBytes(item: Record<string, { S?: string; N?: string; B?: Uint8Array }> | undefined): number {
  if (!item) return 0;
  let n = 0;
  for (const [k, v] of Object.entries(item)) n += k.length + (v.S?.length ?? v.N?.length ?? v.B?.byteLength ?? 1);
  return n;
}

// ── one emulated run ────────────────────────────────────────────────────────────────────────

/** What a counted run sends: `n` workflows of tasks `register` defines on a fresh app. */
export interface CountedWorkload<T> {
  readonly name: string;
  /** Workflows sent. */
  readonly n: number;
  readonly register: (app: App) => T;
  readonly send: (app: App, tasks: T, i: number) => Promise<{ get(): Promise<unknown> }>;
  readonly expect: (i: number) => unknown;
  /** Run with a payload bucket (fauxqs's S3): values over the app's threshold are offloaded. */
  readonly payloads?: boolean;
}

export interface RunResult {
  tally: Tally;
  invocations: number;
  records: number;
  handlerMs: number;
  emptyReceives: number;
  /** The Lambda memory size of the queue the workload ran on (topology default). */
  memoryMb: number;
}

export async function emulatedRun<T>(w: CountedWorkload<T>, events: boolean): Promise<RunResult> {
  const phase: Phase = { name: 'setup' };
  const tally: Tally = new Map();
  const app = createApp({ name: 'cost', events, logger: quiet });
  const tasks = w.register(app);
  const topology = buildTopology(app.topology());
  const [dynamo, sqs, eb] = await Promise.all([startDynalite(), startFauxqs(), startEventBridgeEndpoint()]);
  const clients = {
    sqs: count(
      new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: sqs.endpoint, useQueueUrlAsEndpoint: false }),
      'sqs',
      tally,
      phase,
      'app',
    ),
    dynamodb: count(new DynamoDBClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: dynamo.endpoint }), 'dynamodb', tally, phase, 'app'),
    eventbridge: count(new EventBridgeClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: eb.endpoint }), 'eventbridge', tally, phase, 'app'),
    s3: count(new S3Client(emulatorS3Config(sqs.endpoint)), 's3', tally, phase, 'app'),
  };
  const esmClient = count(
    new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: sqs.endpoint, useQueueUrlAsEndpoint: false }),
    'sqs',
    tally,
    phase,
    'esm',
  );
  const plainClient = new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: sqs.endpoint, useQueueUrlAsEndpoint: false });
  try {
    const table = 'celeriac-cost';
    await ensureTable(dynamo.endpoint, table);
    const bucket = 'celeriac-cost-payloads';
    if (w.payloads) await ensureBucket(sqs.endpoint, bucket);
    const urls = await Promise.all(
      topology.queues.map((q) =>
        ensureQueue(sqs.endpoint, `cost-${q.name}`, {
          dlqName: `cost-${q.name}-dlq`,
          maxReceiveCount: q.maxReceiveCount,
          visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
        }),
      ),
    );
    const queueUrls = Object.fromEntries(topology.queues.map((q, i) => [q.name, urls[i]?.url as string]));
    const config = loadConfig({
      CELERIAC_APP: 'cost',
      CELERIAC_TABLE: table,
      CELERIAC_BUS: 'celeriac-cost',
      CELERIAC_QUEUE_URLS: JSON.stringify(queueUrls),
      CELERIAC_DLQ_URLS: JSON.stringify(Object.fromEntries(topology.queues.map((q, i) => [q.name, urls[i]?.dlqUrl]))),
      AWS_REGION: EMULATOR_CLIENT_CONFIG.region,
      ...(w.payloads ? { CELERIAC_PAYLOAD_BUCKET: bucket } : {}),
    });
    const aws = awsBackend(config, { clients, kind: 'emulated', escapeNonBmpInJson: true });
    // Delayed sends (chord deadline checks) pass through unchanged and are remembered for phase 3.
    const delayed: OutgoingMessage[] = [];
    const backend: Backend = {
      ...aws,
      broker: {
        send: (msgs) => {
          for (const m of msgs) if (m.delaySeconds) delayed.push(m);
          return aws.broker.send(msgs);
        },
      },
    };
    app.use(backend);
    const handler = createWorker(app);
    const esm = new SqsBroker({ client: esmClient, queueUrls });
    const resend = new SqsBroker({ client: plainClient, queueUrls });
    const result: RunResult = {
      tally,
      invocations: 0,
      records: 0,
      handlerMs: 0,
      emptyReceives: 0,
      memoryMb: topology.queues[0]?.memoryMb ?? 1024,
    };

    /** The event source mapping stand-in: batches of up to 10 until every queue stays empty. */
    const deliver = async (): Promise<void> => {
      for (let idle = 0; idle < 2; ) {
        let moved = 0;
        for (const q of topology.queues) {
          for (;;) {
            const msgs = await esm.receive(q.name, { max: BATCH, visibilityTimeoutSeconds: q.visibilityTimeoutSeconds, waitMs: 0 });
            if (msgs.length === 0) {
              result.emptyReceives++;
              break;
            }
            const t0 = performance.now();
            const res = await handler(sqsEvent(`cost-${q.name}`, msgs), {
              getRemainingTimeInMillis: () => q.functionTimeoutSeconds * 1000,
            });
            result.handlerMs += performance.now() - t0;
            result.invocations++;
            result.records += msgs.length;
            const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
            if (failed.size > 0) throw new Error(`${failed.size} record(s) failed in a batch`);
            await esm.delete(
              q.name,
              msgs.map((m) => m.receiptHandle),
            );
            moved += msgs.length;
          }
        }
        idle = moved === 0 ? idle + 1 : 0;
      }
    };

    phase.name = 'producer';
    const handles = await Promise.all(Array.from({ length: w.n }, (_, i) => w.send(app, tasks, i)));
    phase.name = 'worker';
    await deliver();
    phase.name = 'deadline';
    if (delayed.length > 0) {
      await resend.send(delayed.map(({ delaySeconds: _d, ...m }) => m));
      await deliver();
    }
    phase.name = 'client';
    const values = await Promise.all(handles.map((h) => h.get()));
    values.forEach((v, i) => {
      if (v !== w.expect(i)) throw new Error(`${w.name}: workflow ${i} returned ${JSON.stringify(v)}, expected ${w.expect(i)}`);
    });
    if (events && eb.events.length === 0) throw new Error('events on, but no event reached the PutEvents endpoint');
    if (!events && eb.requests > 0) throw new Error('events off, but PutEvents was called');
    return result;
  } finally {
    for (const c of [clients.sqs, clients.dynamodb, clients.eventbridge, clients.s3, esmClient, plainClient]) c.destroy();
    await Promise.all([dynamo.stop(), sqs.stop(), eb.stop()]);
  }
}

// ── what a run cost ─────────────────────────────────────────────────────────────────────────

/** The phases that are a workflow's cost (not setup, idle polling or the caller's reads). */
export const COUNTED = ['producer', 'worker', 'deadline'];

/** Calls, units, bytes and $ of a run, divided by `per` (workflows, or tasks). */
export function costOf(r: RunResult, per: number) {
  const p = (x: number) => x / per;
  const calls = { sqs: 0, ddbWrite: 0, ddbRead: 0, eventbridge: 0 };
  let sqs = 0;
  let wru = 0;
  let rru = 0;
  let ev = 0;
  let s3Puts = 0;
  let s3Gets = 0;
  let requestBytes = 0;
  let messageBytes = 0;
  for (const ph of COUNTED) {
    for (const [key, t] of r.tally.get(ph) ?? []) {
      const [, service, name] = key.split(' ') as [string, Service, string];
      requestBytes += t.requestBytes;
      messageBytes += t.bodyBytes;
      if (service === 's3') {
        if (name === 'GetObject') s3Gets += t.units;
        else s3Puts += t.units;
      } else if (service === 'sqs') {
        sqs += t.units;
        calls.sqs += t.calls;
      } else if (service === 'eventbridge') {
        ev += t.units;
        calls.eventbridge += t.calls;
      } else if (READS.has(name)) {
        rru += t.units;
        calls.ddbRead += t.calls;
      } else {
        wru += t.units;
        calls.ddbWrite += t.calls;
      }
    }
  }
  const invocations = r.invocations;
  const gbSeconds = invocations * (LAMBDA_MS / 1000) * (r.memoryMb / 1024);
  const usd = {
    sqs: p(sqs) * PRICES.sqsRequest,
    ddb: p(wru) * PRICES.ddbWru + p(rru) * PRICES.ddbRru,
    events: p(ev) * PRICES.ebEvent,
    lambda: p(invocations) * PRICES.lambdaRequest + p(gbSeconds) * PRICES.lambdaGbSecondArm,
    s3: p(s3Puts) * PRICES.s3Put + p(s3Gets) * PRICES.s3Get,
  };
  const total = usd.sqs + usd.ddb + usd.events + usd.lambda + usd.s3;
  return {
    s3Puts: p(s3Puts),
    s3Gets: p(s3Gets),
    /** S3 GETs of the caller's get() (a result by reference): not a workflow's cost, shown apart. */
    clientS3Gets: p(r.tally.get('client')?.get('app s3 GetObject')?.units ?? 0),
    sqs: p(sqs),
    wru: p(wru),
    rru: p(rru),
    ev: p(ev),
    invocations: p(invocations),
    calls: { sqs: p(calls.sqs), ddbWrite: p(calls.ddbWrite), ddbRead: p(calls.ddbRead), eventbridge: p(calls.eventbridge) },
    /** HTTP request bodies of every counted call. */
    requestBytes: p(requestBytes),
    /** SQS message bodies sent. */
    messageBytes: p(messageBytes),
    usd,
    total,
  };
}

/** What the producer phase sent, over the whole run: messages, their body bytes, and store writes (a stored plan). */
export function producerSends(r: RunResult): { messages: number; bodyBytes: number; storeWrites: number } {
  let messages = 0;
  let bodyBytes = 0;
  let storeWrites = 0;
  for (const [key, t] of r.tally.get('producer') ?? []) {
    const [, service, name] = key.split(' ') as [string, Service, string];
    messages += t.messages;
    bodyBytes += t.bodyBytes;
    if (service === 'dynamodb' && !READS.has(name)) storeWrites += t.calls;
  }
  return { messages, bodyBytes, storeWrites };
}

/** Dollars per million, as printed. */
export const m$ = (usd: number) => `$${(usd * 1e6).toFixed(2)}`;

/**
 * `npm run bench:cost`: what a workflow costs on AWS, from the AWS API calls celeriac really makes.
 *
 * An emulated run (dynalite + fauxqs + the PutEvents capture endpoint, in-process), built here from
 * lib/local/emulators.ts + awsBackend + the worker handler, because startLocal creates its own SDK
 * clients: here every client is a counting one, injected into awsBackend (`clients`). An SDK
 * middleware on each client records every call by operation, with its request bytes and its billing
 * units — SQS requests per 64 KB chunk, DynamoDB capacity units as DynamoDB reports them
 * (ReturnConsumedCapacity, which dynalite computes with DynamoDB's item-size rules), EventBridge
 * events per 64 KB chunk.
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
 * Prices: us-east-1 list prices (see PRICES and bench/RESULTS.md for the pages).
 *
 *   npm run bench:cost
 */
import {
  type BatchGetItemCommandOutput,
  DynamoDBClient,
  type GetItemCommandOutput,
  type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { EventBridgeClient, type PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import { type ReceiveMessageCommandOutput, type SendMessageBatchCommandInput, SQSClient } from '@aws-sdk/client-sqs';
import { awsBackend, SqsBroker } from '../lib/adapters/aws';
import type { App } from '../lib/app';
import { loadConfig } from '../lib/config';
import { chain, chord, createApp } from '../lib/index';
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
import { machine } from './env';

// ── prices (us-east-1 list prices) ──────────────────────────────────────────────────────────

const PRICES = {
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
};
const CHUNK = 64 * 1024;
const BATCH = 10;
const LAMBDA_MS = Number(process.env.LAMBDA_MS_PER_INVOCATION ?? 100);

// ── counting clients ────────────────────────────────────────────────────────────────────────

type Service = 'sqs' | 'dynamodb' | 'eventbridge';
interface OpTally {
  calls: number;
  requestBytes: number;
  /** SQS requests (64 KB chunks), DynamoDB RRU/WRU, EventBridge events. */
  units: number;
  errors: number;
}
/** phase → "service Operation" → tally */
type Tally = Map<string, Map<string, OpTally>>;

const READS = new Set(['GetItem', 'BatchGetItem', 'Query', 'Scan']);
let phase = 'setup';

function op(tally: Tally, key: string): OpTally {
  return opIn(tally, phase, key);
}

function opIn(tally: Tally, ph: string, key: string): OpTally {
  let p = tally.get(ph);
  if (!p) {
    p = new Map();
    tally.set(ph, p);
  }
  let t = p.get(key);
  if (!t) {
    t = { calls: 0, requestBytes: 0, units: 0, errors: 0 };
    p.set(key, t);
  }
  return t;
}

/** Adds the counting middleware to a client. `who` prefixes the operation (app / esm). */
function count<C extends SQSClient | DynamoDBClient | EventBridgeClient>(client: C, service: Service, tally: Tally, who: string): C {
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
          const t = empty ? opIn(tally, 'idle', `${who} ${service} ${name} (empty)`) : op(tally, `${who} ${service} ${name}`);
          t.calls++;
          t.requestBytes += context.costRequestBytes ?? 0;
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

interface Workload {
  readonly name: string;
  /** Workflows sent. */
  readonly n: number;
  /** Tasks (task executions) per workflow, for per-task figures. */
  readonly tasks: number;
  readonly send: (app: App, tasks: Tasks, i: number) => Promise<{ get(): Promise<unknown> }>;
  readonly expect: (i: number) => unknown;
  /** Step Functions Standard: state transitions of the same workflow (a Task state per task; a Map state counts itself plus its iterations). */
  readonly sfnTransitions: number;
  readonly sfnNote: string;
}
interface Tasks {
  add: ReturnType<typeof addTask>;
  sum: ReturnType<typeof sumTask>;
  paced: ReturnType<typeof addTask>;
  bounded: ReturnType<typeof addTask>;
}
const addTask = (app: App) => app.task('add', (x: number, y: number) => x + y);
const sumTask = (app: App) => app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
// Limits far above what the run reaches: what is measured is the requests a limit adds, not waiting.
const pacedTask = (app: App) => app.task('paced', (x: number, y: number) => x + y, { rateLimit: '1000000/s' });
const boundedTask = (app: App) => app.task('bounded', (x: number, y: number) => x + y, { concurrency: 1000 });

/** 1,000 one-task workflows with args (i, i): the plain-task variants differ only in how they are sent. */
const plainTask = (name: string, send: Workload['send'], sfnNote: string): Workload => ({
  name,
  n: 1000,
  tasks: 1,
  send,
  expect: (i) => 2 * i,
  sfnTransitions: 1,
  sfnNote,
});

const WORKLOADS: Workload[] = [
  plainTask('plain task', (_app, t, i) => t.add.delay(i, i), '1 Task state (Lambda invoke)'),
  // One conditional PutItem per call (README, "Call once: idempotency keys"): the difference to
  // "plain task" is what a key costs.
  plainTask(
    'plain task, keyed',
    (_app, t, i) => t.add.applyAsync([i, i], { idempotencyKey: `order-${i}` }),
    '1 Task state (Lambda invoke); an execution name is free',
  ),
  // One conditional UpdateItem per start (README, "Rate limits and concurrency limits").
  plainTask(
    'plain task, rate-limited',
    (_app, t, i) => t.paced.delay(i, i),
    '1 Task state (Lambda invoke); Step Functions has no rate limit of its own',
  ),
  // A slot taken (PutItem) and released (DeleteItem) per run.
  plainTask(
    'plain task, concurrency-limited',
    (_app, t, i) => t.bounded.delay(i, i),
    '1 Task state (Lambda invoke); a Map state’s MaxConcurrency is free',
  ),
  {
    name: '3-step chain',
    n: 300,
    tasks: 3,
    send: (_app, t, i) => chain(t.add.s(i, 1), t.add.s(2), t.add.s(3)).applyAsync(),
    expect: (i) => i + 6,
    sfnTransitions: 3,
    sfnNote: '3 Task states',
  },
  {
    name: 'chord of 100',
    n: 10,
    tasks: 101,
    send: (_app, t, i) =>
      chord(
        Array.from({ length: 100 }, (_, k) => t.add.s(i, k)),
        t.sum.s(),
      ).applyAsync(),
    expect: (i) => 100 * i + 4950,
    sfnTransitions: 102,
    sfnNote: 'Map state (1) + 100 iterations of 1 Task state + 1 Task state',
  },
];

interface RunResult {
  tally: Tally;
  invocations: number;
  records: number;
  handlerMs: number;
  emptyReceives: number;
}

async function emulatedRun(w: Workload, events: boolean): Promise<RunResult> {
  phase = 'setup';
  const tally: Tally = new Map();
  const app = createApp({ name: 'cost', events, logger: quiet });
  const tasks: Tasks = { add: addTask(app), sum: sumTask(app), paced: pacedTask(app), bounded: boundedTask(app) };
  const topology = buildTopology(app.topology());
  const [dynamo, sqs, eb] = await Promise.all([startDynalite(), startFauxqs(), startEventBridgeEndpoint()]);
  const clients = {
    sqs: count(new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: sqs.endpoint, useQueueUrlAsEndpoint: false }), 'sqs', tally, 'app'),
    dynamodb: count(new DynamoDBClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: dynamo.endpoint }), 'dynamodb', tally, 'app'),
    eventbridge: count(new EventBridgeClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: eb.endpoint }), 'eventbridge', tally, 'app'),
  };
  const esmClient = count(
    new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: sqs.endpoint, useQueueUrlAsEndpoint: false }),
    'sqs',
    tally,
    'esm',
  );
  const plainClient = new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: sqs.endpoint, useQueueUrlAsEndpoint: false });
  try {
    const table = 'celeriac-cost';
    await ensureTable(dynamo.endpoint, table);
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
    const result: RunResult = { tally, invocations: 0, records: 0, handlerMs: 0, emptyReceives: 0 };

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

    phase = 'producer';
    const handles = await Promise.all(Array.from({ length: w.n }, (_, i) => w.send(app, tasks, i)));
    phase = 'worker';
    await deliver();
    phase = 'deadline';
    if (delayed.length > 0) {
      await resend.send(delayed.map(({ delaySeconds: _d, ...m }) => m));
      await deliver();
    }
    phase = 'client';
    const values = await Promise.all(handles.map((h) => h.get()));
    values.forEach((v, i) => {
      if (v !== w.expect(i)) throw new Error(`${w.name}: workflow ${i} returned ${JSON.stringify(v)}, expected ${w.expect(i)}`);
    });
    if (events && eb.events.length === 0) throw new Error('events on, but no event reached the PutEvents endpoint');
    if (!events && eb.requests > 0) throw new Error('events off, but PutEvents was called');
    return result;
  } finally {
    for (const c of [clients.sqs, clients.dynamodb, clients.eventbridge, esmClient, plainClient]) c.destroy();
    await Promise.all([dynamo.stop(), sqs.stop(), eb.stop()]);
  }
}

// ── report ──────────────────────────────────────────────────────────────────────────────────

const COUNTED = ['producer', 'worker', 'deadline'];

function costOf(r: RunResult, w: Workload, memoryMb: number) {
  const per = (x: number) => x / w.n;
  let sqs = 0;
  let wru = 0;
  let rru = 0;
  let ev = 0;
  for (const ph of COUNTED) {
    for (const [key, t] of r.tally.get(ph) ?? []) {
      const [, service, name] = key.split(' ') as [string, Service, string];
      if (service === 'sqs') sqs += t.units;
      else if (service === 'eventbridge') ev += t.units;
      else if (READS.has(name)) rru += t.units;
      else wru += t.units;
    }
  }
  const invocations = r.invocations;
  const gbSeconds = invocations * (LAMBDA_MS / 1000) * (memoryMb / 1024);
  const usd = {
    sqs: per(sqs) * PRICES.sqsRequest,
    ddb: per(wru) * PRICES.ddbWru + per(rru) * PRICES.ddbRru,
    events: per(ev) * PRICES.ebEvent,
    lambda: per(invocations) * PRICES.lambdaRequest + per(gbSeconds) * PRICES.lambdaGbSecondArm,
  };
  const total = usd.sqs + usd.ddb + usd.events + usd.lambda;
  return { sqs: per(sqs), wru: per(wru), rru: per(rru), ev: per(ev), invocations: per(invocations), usd, total };
}

const m$ = (usd: number) => `$${(usd * 1e6).toFixed(2)}`;

async function main(): Promise<void> {
  console.log(machine());
  const probe = createApp({ name: 'cost' });
  addTask(probe);
  const memoryMb = buildTopology(probe.topology()).queues[0]?.memoryMb ?? 1024;
  console.log(
    `assumptions: Lambda arm64, ${memoryMb} MB (topology default), ${LAMBDA_MS} ms billed per invocation of up to ${BATCH} records (LAMBDA_MS_PER_INVOCATION); ` +
      'ESM receives/deletes at the batch size actually delivered (≈10: every workflow is sent before the worker starts); ' +
      "idle long-polling and the caller's get() reads are not counted\n",
  );
  const summary: string[] = [];
  const totals = new Map<string, number>();
  const details = new Map<string, ReturnType<typeof costOf>>();
  // ONLY=<text>: just the workloads whose name contains it (e.g. ONLY="plain task").
  for (const w of WORKLOADS.filter((x) => process.env.ONLY === undefined || x.name.includes(process.env.ONLY))) {
    for (const events of [true, false]) {
      const r = await emulatedRun(w, events);
      const c = costOf(r, w, memoryMb);
      const label = `${w.name}, events ${events ? 'on' : 'off'}`;
      console.log(
        `── ${label}: ${w.n} workflows, ${r.invocations} invocations, ${r.records} records (avg batch ${(r.records / r.invocations).toFixed(2)}), handler ${(r.handlerMs / r.invocations).toFixed(1)} ms/invocation locally`,
      );
      console.log('| phase | call | calls / workflow | request bytes / call | billing units / workflow | errors |');
      console.log('|---|---|---:|---:|---:|---:|');
      for (const ph of COUNTED) {
        for (const [key, t] of [...(r.tally.get(ph) ?? [])].sort()) {
          if (t.calls === 0) continue;
          console.log(
            `| ${ph} | ${key} | ${(t.calls / w.n).toFixed(3)} | ${Math.round(t.requestBytes / t.calls)} | ${(t.units / w.n).toFixed(3)} | ${t.errors} |`,
          );
        }
      }
      console.log(
        `per workflow: SQS ${c.sqs.toFixed(3)} req · DynamoDB ${c.wru.toFixed(3)} WRU + ${c.rru.toFixed(3)} RRU · EventBridge ${c.ev.toFixed(3)} events · Lambda ${c.invocations.toFixed(3)} invocations`,
      );
      console.log(
        `$ per million workflows: SQS ${m$(c.usd.sqs)} + DynamoDB ${m$(c.usd.ddb)} + EventBridge ${m$(c.usd.events)} + Lambda ${m$(c.usd.lambda)} = ${m$(c.total)}  (${m$(c.total / w.tasks)} per million tasks)\n`,
      );
      summary.push(
        `| ${w.name} | ${events ? 'on' : 'off'} | ${m$(c.usd.sqs)} | ${m$(c.usd.ddb)} | ${m$(c.usd.events)} | ${m$(c.usd.lambda)} | **${m$(c.total)}** | ${m$(c.total / w.tasks)} |`,
      );
      totals.set(`${w.name}/${events}`, c.total);
      details.set(`${w.name}/${events}`, c);
    }
  }
  console.log('$ per million workflows (us-east-1 list prices)');
  console.log('| workflow | events | SQS | DynamoDB | EventBridge | Lambda | total | per million tasks |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const s of summary) console.log(s);
  console.log('\nStep Functions Standard, same workflows ($25 per million state transitions; a state transition per state executed)');
  console.log(
    '| workflow | state transitions | transitions only, $/M | + Lambda requests (1 per task), $/M | celeriac $/M (events on / off) | SFN transitions ÷ celeriac (on / off) |',
  );
  console.log('|---|---|---:|---:|---:|---:|');
  for (const w of WORKLOADS.filter((x) => totals.has(`${x.name}/true`))) {
    const transitions = w.sfnTransitions * PRICES.sfnTransition;
    // The same tasks as Lambda functions invoked by Step Functions: one invocation per task, no batching.
    const lambda = w.tasks * PRICES.lambdaRequest;
    const on = totals.get(`${w.name}/true`) as number;
    const off = totals.get(`${w.name}/false`) as number;
    console.log(
      `| ${w.name} | ${w.sfnTransitions} (${w.sfnNote}) | ${m$(transitions)} | ${m$(transitions + lambda)} | ${m$(on)} / ${m$(off)} | ${(transitions / on).toFixed(1)}× / ${(transitions / off).toFixed(1)}× |`,
    );
  }
  // Goals, and how sensitive each is to the Lambda duration assumption.
  for (const [name, limit] of [
    ['plain task', 2],
    ['3-step chain', 6],
  ] as const) {
    for (const events of [true, false]) {
      const c = details.get(`${name}/${events}`);
      if (c === undefined) continue; // not run (ONLY=…)
      const perMs = c.invocations * (1 / 1000) * (memoryMb / 1024) * PRICES.lambdaGbSecondArm;
      const withoutDuration = c.total - c.invocations * LAMBDA_MS * (1 / 1000) * (memoryMb / 1024) * PRICES.lambdaGbSecondArm;
      const breakEven = (limit / 1e6 - withoutDuration) / perMs;
      console.log(
        `goal ${name} ≤ $${limit}/M, events ${events ? 'on ' : 'off'}: ${m$(c.total)} ${c.total * 1e6 <= limit ? 'MET' : 'MISSED'} ` +
          `(at ${LAMBDA_MS} ms per invocation; ${breakEven > 0 ? `met while billed duration ≤ ${Math.floor(breakEven)} ms per batch of ${BATCH}` : 'missed even at 0 ms'})`,
      );
    }
  }
}

await main();

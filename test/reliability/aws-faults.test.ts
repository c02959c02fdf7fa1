/**
 * Reliability 3 — AWS faults. The app runs on the AWS adapters (lib/adapters/aws) against
 * dynalite, fauxqs and the PutEvents capture endpoint, with fault-injecting SDK middleware on the
 * clients it is given (test/reliability/aws-fault-injection.ts):
 *
 * - steady: DynamoDB, SQS and EventBridge requests refused with `ThrottlingException` or a 500,
 *   SendMessageBatch entries failed, BatchGetItem keys left unprocessed, PutEvents entries failed
 *   — within the retry budget (never the SDK's last attempt, no entry failed 3 times in a row),
 *   so the SDK and the adapters must absorb all of it;
 * - outage: 3 s in which every request of every service is throttled, past the SDK's retries,
 *   so workers give records up and redelivery (with lease takeover) must finish the work;
 * - ambiguous: DynamoDB writes applied but answered with a 500, retried by the SDK.
 *
 * Everything must be retried — by the SDK, by the adapters (failed entries, unprocessed keys), or
 * by redelivery when a worker gives up on a record — and nothing lost: every workflow ends right,
 * every stored outcome has its lifecycle event, the DLQ stays empty; nothing doubled (as in
 * suite 1); and backoff stays bounded: the longest wait between a failed attempt and the next
 * attempt of the same request or entry is measured and checked against the retry policies.
 *
 * The driver plays the event source mapping with local mode's poller (`QueuePoller`) over its own
 * fault-free SQS client; each invocation gets a 4 s deadline, so a lease left by a worker that
 * gave up after its outcome write runs out quickly. Workflows are started with faults off (a
 * producer that cannot publish gets the error; that is not a loss), then the faults go on.
 * Size: 60 workflows per spec (CELERIAC_RELIABILITY=large: 400).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsBackend, DEFAULT_RETRY, SqsBroker } from '../../lib/adapters/aws';
import { loadConfig } from '../../lib/config';
import {
  EMULATOR_CLIENT_CONFIG,
  type Emulator,
  type EventBridgeEndpoint,
  ensureQueue,
  ensureTable,
  startDynalite,
  startEventBridgeEndpoint,
  startFauxqs,
} from '../../lib/local/emulators';
import { QueuePoller } from '../../lib/local/poller';
import { createWorker } from '../../lib/worker';
import { FaultInjector, type FaultPlan } from './aws-fault-injection';
import { bySize, keepErrors, report, rng, SEED } from './support';
import { missingEvents, Probe, startWorkflows, verify, workloadApp } from './workload';

const WORKFLOWS = bySize(60, 400);
/** Lambda deadline per invocation (ms): the lease a worker that gave up after its outcome write leaves behind. */
const DEADLINE_MS = 4_000;

/** Event-loop slack on a busy 2-core machine, on top of a policy's longest wait. */
const SLACK_MS = 1_000;
/**
 * The SDK's standard retry strategy (@smithy/core): a random wait below min(base · 2^i, 20 s)
 * before retry i (from 0), base 1 s after throttling (50 ms otherwise); DynamoDB makes 4 attempts
 * (SQS and EventBridge 3), so no wait exceeds 1 s · 2² = 4 s.
 */
const SDK_BACKOFF_BOUND_MS = 4_000 + SLACK_MS;
/** The adapters' own retries of failed entries and unprocessed keys: DEFAULT_RETRY's cap. */
const ENTRY_BACKOFF_BOUND_MS = DEFAULT_RETRY.capMs + SLACK_MS;

let dynalite: Emulator;
let fauxqs: Emulator;
let eventbridge: EventBridgeEndpoint;

beforeAll(async () => {
  [dynalite, fauxqs, eventbridge] = await Promise.all([startDynalite(), startFauxqs(), startEventBridgeEndpoint()]);
});
afterAll(async () => {
  await Promise.all([dynalite?.stop(), fauxqs?.stop(), eventbridge?.stop()]);
});

interface Outcome {
  readonly lost: string[];
  readonly doubled: string[];
  readonly injector: FaultInjector;
  /** Records the workers reported failed (given up to redelivery). */
  readonly redelivered: number;
}

/** Runs the workload once under `plan`; prints the figures; returns what went wrong. */
async function runUnder(name: string, plan: FaultPlan, seed: number): Promise<Outcome> {
  const started = Date.now();
  const r = rng(seed);
  const injector = new FaultInjector(plan, rng(seed + 7));
  injector.enabled = false;
  eventbridge.setFailures(injector.eventBridgeFailures());

  const appName = `faults-${name}`;
  const table = `celeriac-${appName}`;
  const physical = `${appName}-default`;
  await ensureTable(dynalite.endpoint, table);
  const { url, dlqUrl } = await ensureQueue(fauxqs.endpoint, physical, {
    dlqName: `${physical}-dlq`,
    maxReceiveCount: 10,
    visibilityTimeoutSeconds: 30,
  });
  const config = loadConfig({
    CELERIAC_APP: appName,
    CELERIAC_TABLE: table,
    CELERIAC_BUS: `celeriac-${appName}`,
    CELERIAC_QUEUE_URLS: JSON.stringify({ default: url }),
    CELERIAC_DLQ_URLS: JSON.stringify({ default: dlqUrl }),
    AWS_REGION: EMULATOR_CLIENT_CONFIG.region,
  });
  // The app's clients carry the faults; the event source mapping's (receive, delete, depth) do not.
  const clients = {
    dynamodb: new DynamoDBClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: dynalite.endpoint }),
    sqs: new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: fauxqs.endpoint, useQueueUrlAsEndpoint: false }),
    eventbridge: new EventBridgeClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: eventbridge.endpoint }),
  };
  injector.attach(clients.dynamodb, 'dynamodb');
  injector.attach(clients.sqs, 'sqs');
  injector.attach(clients.eventbridge, 'eventbridge');
  const esmClient = new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: fauxqs.endpoint, useQueueUrlAsEndpoint: false });
  const esm = new SqsBroker({ client: esmClient, queueUrls: { default: url, dlq: dlqUrl as string } });
  const backend = awsBackend(config, { clients, escapeNonBmpInJson: true, kind: 'emulated' });

  const probe = new Probe();
  const logger = keepErrors();
  const w = workloadApp(appName, probe, { logger });
  w.app.use(backend);
  probe.watch(backend.broker);

  // Records whose delivery gave up after its outcome write: their continuations may be re-published
  // by the redelivery. Which record's delivery published a message is tracked per send (the
  // publisher of a chord body's errback is the header member that completed the join, not the
  // errback's parent).
  const stored = new Set<string>();
  const failedAfterStore = new Set<string>();
  const delivering = new AsyncLocalStorage<string>();
  const publishers = new Map<string, Set<string>>();
  const worker = createWorker(w.app, {
    faults: {
      afterDecode: (env) => delivering.enterWith(env.id),
      afterStore: (env) => void stored.add(env.id),
    },
  });
  const send = backend.broker.send.bind(backend.broker);
  backend.broker.send = async (messages) => {
    const publisher = delivering.getStore();
    for (const m of messages) {
      const key = sendKey(m.body);
      if (key === undefined || publisher === undefined) continue;
      const set = publishers.get(key) ?? new Set<string>();
      set.add(publisher);
      publishers.set(key, set);
    }
    return send(messages);
  };
  const stats = { invocations: 0, redelivered: 0, maxReceives: 0 };
  const handler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
    stats.invocations++;
    const res = await worker(event, { getRemainingTimeInMillis: () => DEADLINE_MS });
    const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
    stats.redelivered += failed.size;
    for (const rec of event.Records) {
      stats.maxReceives = Math.max(stats.maxReceives, Number(rec.attributes.ApproximateReceiveCount));
      const id = envelopeId(rec.body);
      if (failed.has(rec.messageId) && id !== undefined && stored.has(id)) failedAfterStore.add(id);
    }
    return res;
  };
  const pollerErrors: string[] = [];
  const poller = new QueuePoller({
    queue: 'default',
    arnQueueName: physical,
    consumer: esm,
    handler,
    settings: { batchSize: 10, maxBatchingWindowSeconds: 0, maxConcurrency: 5, visibilityTimeoutSeconds: 30, functionTimeoutSeconds: 30 },
    failedItemVisibilitySeconds: 1,
    waitMs: 500,
    onError: (message, error) => pollerErrors.push(`${message}: ${error instanceof Error ? error.message : String(error)}`),
  });

  try {
    const workflows = await startWorkflows(w, WORKFLOWS, r, `${name}-`);
    injector.enabled = true;
    poller.start();
    // Drained: nothing visible or in flight (the chord deadline checks wait, delayed, for a day).
    const deadline = Date.now() + bySize(90_000, 600_000);
    for (let idle = 0; idle < 3; ) {
      if (Date.now() > deadline) throw new Error(`${name}: the queue did not drain`);
      await new Promise((res) => setTimeout(res, 100));
      const d = await esm.depth('default');
      idle = d.visible + d.inFlight === 0 && poller.inFlight === 0 ? idle + 1 : 0;
    }
    await poller.stop();
    injector.enabled = false;

    const verdict = await verify(backend.store, probe, workflows);
    // Every outcome a worker stored has its lifecycle event (at least once).
    const seen = new Set(eventbridge.events.map((e) => `${e.DetailType} ${(JSON.parse(e.Detail) as { id?: string }).id}`));
    const missing = await missingEvents(backend.store, probe.runs, seen);
    const runsOf = new Map<string, number>();
    for (const x of probe.runs) runsOf.set(`${x.id}#${x.retries}`, (runsOf.get(`${x.id}#${x.retries}`) ?? 0) + 1);
    let republished = 0;
    const doubledSends: string[] = [];
    for (const d of probe.duplicateSends()) {
      if (d.sent.retries > 0 && d.extra + 1 <= (runsOf.get(`${d.sent.id}#${d.sent.retries - 1}`) ?? 0)) continue;
      const by = [...(publishers.get(d.key) ?? [])];
      if (d.sent.retries === 0 && by.length === 1 && failedAfterStore.has(by[0] as string)) {
        republished += d.extra;
        continue;
      }
      doubledSends.push(
        `${d.sent.task} ${d.key} sent ${d.extra + 1}× (parent ${d.sent.parentId}, published by ${by.join(', ') || 'the producer'})`,
      );
    }
    const dlq = await esm.depth('dlq');
    const dead = dlq.visible + dlq.inFlight + dlq.delayed;
    const lost = [...verdict.lost, ...missing, ...(dead > 0 ? [`${dead} message(s) in the DLQ`] : [])];
    const doubled = [...verdict.doubled, ...doubledSends];
    const s = injector.stats;
    report(
      `aws-faults ${name}`,
      'emulated (dynalite + fauxqs + capture endpoint)',
      {
        workflows: workflows.length,
        requests: `${s.requests.dynamodb} DynamoDB, ${s.requests.sqs} SQS, ${s.requests.eventbridge} EventBridge`,
        'injected faults': `${injector.total()} (${s.throttled} throttled, ${s.serverErrors} 5xx, ${s.outage} refused in the outage, ${s.ambiguous} applied-then-5xx, ${s.sendEntriesFailed} SendMessageBatch entries, ${s.eventEntriesFailed} PutEvents entries, ${s.keysUnprocessed} unprocessed keys)`,
        'records redelivered by the worker': stats.redelivered,
        lost: lost.length,
        doubled: doubled.length,
        're-published after a give-up (allowed)': republished,
        'sends traced to the delivery that made them': publishers.size,
        'max retry delay': `${injector.maxDelay('sdk')} ms SDK (bound ${SDK_BACKOFF_BOUND_MS}), ${injector.maxDelay('entries')} ms entries (bound ${ENTRY_BACKOFF_BOUND_MS})`,
        'max receives': stats.maxReceives,
      },
      started,
    );
    return { lost, doubled, injector, redelivered: stats.redelivered };
  } finally {
    await poller.stop();
    await poller.closed();
    for (const c of [clients.dynamodb, clients.sqs, clients.eventbridge, esmClient]) c.destroy();
  }
}

describe('AWS faults on the emulator-backed adapters', () => {
  it(
    `steady throttling and 5xx on DynamoDB, SQS and EventBridge, partial SendMessageBatch / PutEvents / BatchGetItem failures: all retried, nothing lost, nothing doubled, backoff bounded (${WORKFLOWS} workflows)`,
    async () => {
      const out = await runUnder(
        'steady',
        { refuse: 0.08, ambiguous: 0, sendEntries: 0.2, eventEntries: 0.2, unprocessedKeys: 0.2 },
        SEED + 3,
      );
      const s = out.injector.stats;
      expect(
        {
          throttled: s.throttled > 0,
          serverErrors: s.serverErrors > 0,
          sendEntries: s.sendEntriesFailed > 0,
          eventEntries: s.eventEntriesFailed > 0,
        },
        'every kind of fault was injected',
      ).toEqual({ throttled: true, serverErrors: true, sendEntries: true, eventEntries: true });
      expect({ lost: out.lost, doubled: out.doubled }).toEqual({ lost: [], doubled: [] });
      expect(out.injector.delays.sdk.length, 'SDK retries measured').toBeGreaterThan(0);
      expect(out.injector.delays.entries.length, 'entry retries measured').toBeGreaterThan(0);
      expect(out.injector.maxDelay('sdk'), 'longest SDK backoff').toBeLessThanOrEqual(SDK_BACKOFF_BOUND_MS);
      expect(out.injector.maxDelay('entries'), 'longest entry backoff').toBeLessThanOrEqual(ENTRY_BACKOFF_BOUND_MS);
    },
    bySize(120_000, 900_000),
  );

  it(
    `a 3 s outage of all three services (every request throttled) past the SDK's retries: records given up are redelivered, nothing lost, nothing doubled, backoff bounded (${WORKFLOWS} workflows)`,
    async () => {
      const out = await runUnder(
        'outage',
        {
          refuse: 0.03,
          ambiguous: 0,
          sendEntries: 0.05,
          eventEntries: 0.05,
          unprocessedKeys: 0.05,
          outage: { afterMs: 300, forMs: 3_000 },
        },
        SEED + 5,
      );
      expect(out.injector.stats.outage, 'requests refused in the outage').toBeGreaterThan(0);
      expect(out.redelivered, 'records the workers gave up on').toBeGreaterThan(0);
      expect({ lost: out.lost, doubled: out.doubled }).toEqual({ lost: [], doubled: [] });
      expect(out.injector.maxDelay('sdk'), 'longest SDK backoff').toBeLessThanOrEqual(SDK_BACKOFF_BOUND_MS);
      expect(out.injector.maxDelay('entries'), 'longest entry backoff').toBeLessThanOrEqual(ENTRY_BACKOFF_BOUND_MS);
    },
    bySize(120_000, 900_000),
  );

  it(
    `DynamoDB writes applied but answered with a 500 (ambiguous), retried by the SDK: nothing lost, nothing doubled (${WORKFLOWS} workflows)`,
    async () => {
      const out = await runUnder(
        'ambiguous',
        { refuse: 0, ambiguous: 0.05, sendEntries: 0, eventEntries: 0, unprocessedKeys: 0 },
        SEED + 4,
      );
      expect(out.injector.stats.ambiguous, 'ambiguous writes were injected').toBeGreaterThan(0);
      expect({ lost: out.lost, doubled: out.doubled }).toEqual({ lost: [], doubled: [] });
    },
    bySize(120_000, 900_000),
  );
});

function envelopeId(body: string): string | undefined {
  try {
    const id = (JSON.parse(body) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/** The `id#retries` a sent body is counted under (as the probe counts it). */
function sendKey(body: string): string | undefined {
  try {
    const env = JSON.parse(body) as { id?: unknown; headers?: { retries?: unknown } };
    if (typeof env.id !== 'string') return undefined;
    return `${env.id}#${typeof env.headers?.retries === 'number' ? env.headers.retries : 0}`;
  } catch {
    return undefined;
  }
}

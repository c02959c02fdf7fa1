/**
 * What the emulators' own thread buys emulated local mode: the peers workloads (1,000 `add`
 * tasks; 300 three-step chains; first send → all results ready) on a hand-built emulated runtime
 * — the AWS adapters against dynalite + fauxqs + the PutEvents capture endpoint, pollers from
 * lib/local/poller.ts with local mode's defaults (batch 10, 2 concurrent batches per queue,
 * results polled every 20 ms), the clients local mode uses (FAST_EMULATOR_CLIENT_CONFIG) — with
 * dynalite and fauxqs
 *
 *   in this thread  (startDynalite + startFauxqs, as the contract tests run them), or
 *   in their own    (startEmulatorThread, as `startLocal(app, { mode: 'emulated' })` runs them).
 *
 * Variants alternate, median of RUNS (default 3) after one warm-up each; wall seconds and CPU
 * seconds of this process (every thread), which a loaded machine inflates less than wall time.
 *
 *   node --import tsx bench/emulated-split.ts
 */
import { awsBackend } from '../lib/adapters/aws';
import { loadConfig } from '../lib/config';
import { chain, createApp } from '../lib/index';
import { FAST_EMULATOR_CLIENT_CONFIG, startEmulatorThread } from '../lib/local/emulators';
import {
  EMULATOR_CLIENT_CONFIG,
  ensureQueue,
  ensureTable,
  QueuePoller,
  startDynalite,
  startEventBridgeEndpoint,
  startFauxqs,
} from '../lib/local/index';
import { buildTopology } from '../lib/routing';
import { createWorker } from '../lib/worker';
import { quiet } from './driver';
import { machine, median, settle, waitForQuiet } from './env';

const RUNS = Number(process.env.RUNS ?? 3);

interface Endpoints {
  dynamodb: string;
  sqs: string;
  eventbridge: string;
}

async function inProcess(): Promise<{ endpoints: Endpoints; stop(): Promise<void> }> {
  const [dynamo, sqs, eb] = await Promise.all([startDynalite(), startFauxqs(), startEventBridgeEndpoint()]);
  return {
    endpoints: { dynamodb: dynamo.endpoint, sqs: sqs.endpoint, eventbridge: eb.endpoint },
    stop: async () => {
      await Promise.all([dynamo.stop(), sqs.stop(), eb.stop()]);
    },
  };
}

async function ownThread(): Promise<{ endpoints: Endpoints; stop(): Promise<void> }> {
  const [emulators, eb] = await Promise.all([startEmulatorThread(), startEventBridgeEndpoint()]);
  return {
    endpoints: { dynamodb: emulators.dynamodb, sqs: emulators.sqs, eventbridge: eb.endpoint },
    stop: async () => {
      await Promise.all([emulators.stop(), eb.stop()]);
    },
  };
}

type Where = 'this thread' | 'own thread';
interface Round {
  independent: number;
  chains: number;
  cpuIndependent: number;
  cpuChains: number;
}

const cpuSeconds = (since: NodeJS.CpuUsage): number => {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1e6;
};

async function round(where: Where): Promise<Round> {
  const emu = where === 'this thread' ? await inProcess() : await ownThread();
  const app = createApp({ name: 'split', logger: quiet });
  const add = app.task('add', (x: number, y: number) => x + y);
  const topology = buildTopology(app.topology());
  const table = 'celeriac-split';
  await ensureTable(emu.endpoints.dynamodb, table);
  const urls = await Promise.all(
    topology.queues.map((q) =>
      ensureQueue(emu.endpoints.sqs, `split-${q.name}`, {
        dlqName: `split-${q.name}-dlq`,
        maxReceiveCount: q.maxReceiveCount,
        visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
      }),
    ),
  );
  const config = loadConfig({
    CELERIAC_APP: 'split',
    CELERIAC_TABLE: table,
    CELERIAC_BUS: 'celeriac-split',
    CELERIAC_QUEUE_URLS: JSON.stringify(Object.fromEntries(topology.queues.map((q, i) => [q.name, urls[i]?.url]))),
    AWS_REGION: EMULATOR_CLIENT_CONFIG.region,
  });
  const aws = awsBackend(config, {
    endpoints: emu.endpoints,
    clientConfig: FAST_EMULATOR_CLIENT_CONFIG,
    escapeNonBmpInJson: true,
    kind: 'emulated',
  });
  app.use({ ...aws, pollIntervalMs: 20 });
  const handler = createWorker(app);
  const pollers = topology.queues.map(
    (q) =>
      new QueuePoller({
        queue: q.name,
        arnQueueName: `split-${q.name}`,
        consumer: aws.broker,
        handler,
        settings: { ...q, maxConcurrency: Math.min(q.maxConcurrency ?? 2, 4) },
        waitMs: 1_000,
        failedItemVisibilitySeconds: 1,
        onError: (m, e) => console.error(m, e),
      }),
  );
  for (const p of pollers) p.start();
  try {
    await settle();
    let c0 = process.cpuUsage();
    let t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: 1000 }, (_, k) => add.delay(k, k)));
    const v = await app
      .groupResult(
        'i',
        rs.map((r) => r.id),
      )
      .get({ timeoutMs: 300_000 });
    const independent = (performance.now() - t0) / 1000;
    const cpuIndependent = cpuSeconds(c0);
    if (v.some((x, k) => x !== 2 * k)) throw new Error('wrong results');
    c0 = process.cpuUsage();
    t0 = performance.now();
    const cs = await Promise.all(Array.from({ length: 300 }, (_, k) => chain(add.s(k, 1), add.s(2), add.s(3)).applyAsync()));
    const cv = await app
      .groupResult(
        'c',
        cs.map((r) => r.id),
      )
      .get({ timeoutMs: 300_000 });
    const chains = (performance.now() - t0) / 1000;
    const cpuChains = cpuSeconds(c0);
    if (cv.some((x, k) => x !== k + 6)) throw new Error('wrong chain results');
    return { independent, chains, cpuIndependent, cpuChains };
  } finally {
    await Promise.all(pollers.map((p) => p.stop()));
    aws.destroy();
    await emu.stop();
    await Promise.all(pollers.map((p) => p.closed()));
  }
}

await waitForQuiet();
console.log(machine());
const out: Record<Where, Round[]> = { 'this thread': [], 'own thread': [] };
for (let i = 0; i <= RUNS; i++) {
  for (const where of ['this thread', 'own thread'] as const) {
    const r = await round(where);
    if (i > 0) out[where].push(r); // the first round of each is a warm-up
  }
}
const med = (rs: Round[], k: keyof Round) => median(rs.map((r) => r[k])).toFixed(3);
console.log(`median of ${RUNS} (after 1 warm-up): seconds from first send to all results ready; CPU seconds of this process`);
console.log(
  '| dynalite + fauxqs | 1,000 tasks (s) | CPU (s) | 300 3-step chains (s) | CPU (s) | runs (s) |\n|---|---:|---:|---:|---:|---|',
);
for (const [where, rs] of Object.entries(out) as [Where, Round[]][]) {
  const runs = `${rs.map((r) => r.independent.toFixed(2)).join(', ')}; ${rs.map((r) => r.chains.toFixed(2)).join(', ')}`;
  console.log(
    `| ${where} | ${med(rs, 'independent')} | ${med(rs, 'cpuIndependent')} | ${med(rs, 'chains')} | ${med(rs, 'cpuChains')} | ${runs} |`,
  );
}

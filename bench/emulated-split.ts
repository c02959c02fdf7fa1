/**
 * Experiment for the emulated-mode goal of bench:peers: does moving the emulators off the main
 * thread help? The peers workloads (1,000 `add` tasks; 300 three-step chains; first send → all
 * results ready) on a hand-built emulated runtime — the AWS adapters against dynalite + fauxqs +
 * the PutEvents capture endpoint, pollers from lib/local/poller.ts with local mode's defaults
 * (batch 10, 2 concurrent batches per queue, results polled every 20 ms) — with the emulators
 *
 *   in-process  (as `startLocal(app, { mode: 'emulated' })` runs them), or
 *   in a child process (bench/emulators-child.ts), so the second core serves them.
 *
 * Variants alternate, median of RUNS (default 3) after one warm-up each.
 *
 *   node --import tsx bench/emulated-split.ts
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { awsBackend } from '../lib/adapters/aws';
import { loadConfig } from '../lib/config';
import { chain, createApp } from '../lib/index';
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
import { machine, median, settle, stopChild, waitForQuiet } from './env';

const ROOT = resolve(import.meta.dirname, '..');
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

async function childProcess(): Promise<{ endpoints: Endpoints; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench/emulators-child.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const endpoints = await new Promise<Endpoints>((res, rej) => {
    let buf = '';
    child.stdout?.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) res(JSON.parse(buf.slice(0, nl)) as Endpoints);
    });
    child.once('exit', (code) => rej(new Error(`emulators child exited ${code}`)));
  });
  return { endpoints, stop: () => stopChild(child) };
}

async function round(where: 'in-process' | 'child process'): Promise<{ independent: number; chains: number }> {
  const emu = where === 'in-process' ? await inProcess() : await childProcess();
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
    clientConfig: EMULATOR_CLIENT_CONFIG,
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
    let t0 = performance.now();
    const rs = await Promise.all(Array.from({ length: 1000 }, (_, k) => add.delay(k, k)));
    const v = await app
      .groupResult(
        'i',
        rs.map((r) => r.id),
      )
      .get({ timeoutMs: 300_000 });
    const independent = (performance.now() - t0) / 1000;
    if (v.some((x, k) => x !== 2 * k)) throw new Error('wrong results');
    t0 = performance.now();
    const cs = await Promise.all(Array.from({ length: 300 }, (_, k) => chain(add.s(k, 1), add.s(2), add.s(3)).applyAsync()));
    const cv = await app
      .groupResult(
        'c',
        cs.map((r) => r.id),
      )
      .get({ timeoutMs: 300_000 });
    const chains = (performance.now() - t0) / 1000;
    if (cv.some((x, k) => x !== k + 6)) throw new Error('wrong chain results');
    return { independent, chains };
  } finally {
    await Promise.all(pollers.map((p) => p.stop()));
    aws.destroy();
    await emu.stop();
    await Promise.all(pollers.map((p) => p.closed()));
  }
}

await waitForQuiet();
console.log(machine());
const out: Record<string, { independent: number[]; chains: number[] }> = {
  'in-process': { independent: [], chains: [] },
  'child process': { independent: [], chains: [] },
};
for (let i = 0; i <= RUNS; i++) {
  for (const where of ['in-process', 'child process'] as const) {
    const r = await round(where);
    if (i === 0) continue; // warm-up
    out[where]?.independent.push(r.independent);
    out[where]?.chains.push(r.chains);
  }
}
console.log(`median of ${RUNS} (after 1 warm-up): seconds from first send to all results ready`);
console.log('| emulators | 1,000 tasks (s) | 300 3-step chains (s) | runs |\n|---|---:|---:|---|');
for (const [where, t] of Object.entries(out)) {
  console.log(
    `| ${where} | ${median(t.independent).toFixed(3)} | ${median(t.chains).toFixed(3)} | ${t.independent.map((x) => x.toFixed(2)).join(', ')}; ${t.chains.map((x) => x.toFixed(2)).join(', ')} |`,
  );
}

/**
 * `npm run bench:peers`: celeriac beside Celery and BullMQ on the same two workloads, in one run.
 *
 *   - 1,000 independent `add` tasks;
 *   - 300 three-step chains add(i, 1) → add(2) → add(3);
 *
 * each timed from the first send until every result is ready, median of RUNS (default 3) after one
 * untimed warm-up round per system. Systems:
 *
 *   - Celery 5.2 (Debian python3-celery) with Debian's redis-server as broker and result backend,
 *     prefork pool, 2 processes (bench/peers_celery.py);
 *   - BullMQ on the same Redis (Queue + Worker; chains as FlowProducer flows), if the npm package
 *     `bullmq` is installed — otherwise skipped with a line saying so;
 *   - celeriac local mode `memory` and `emulated` (fauxqs + dynalite in their worker thread, through
 *     the AWS adapters), with the app's default settings (events on, batch size 10, 2 batches per queue).
 *
 * The script installs what is missing (apt-get: python3-celery, python3-redis, redis-server),
 * starts Redis on a free loopback port and the Celery worker, and stops both by PID.
 *
 * Goals: bench/goals.ts (emulated vs Celery + Redis, memory vs BullMQ). BENCH_QUICK=1: RUNS=1.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chain, createApp } from '../lib/index';
import { startLocal } from '../lib/local/index';
import { LOCAL_CATEGORIES, selfTimeByCategory, selfTimeByFile, topSelfTime } from './cpuprofile';
import { quiet } from './driver';
import { debian, ensureDebian, fmtLoad, freePort, machine, median, PYTHON, run, settle, sized, stopChild, waitForQuiet } from './env';
import { goalLine, printResult } from './goals';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = sized(process.env.RUNS, 3, 1);
const N_INDEPENDENT = 1000;
const N_CHAINS = 300;
const INTERVAL_MS = Number(process.env.CELERIAC_POLL_MS ?? 0);
const BULLMQ_CONCURRENCY = Number(process.env.BULLMQ_CONCURRENCY ?? 10);

interface Timings {
  independent: number[];
  chains: number[];
}

// ── celeriac ────────────────────────────────────────────────────────────────────────────────

async function celeriac(mode: 'memory' | 'emulated'): Promise<Timings> {
  const out: Timings = { independent: [], chains: [] };
  for (let i = 0; i <= RUNS; i++) {
    // A fresh app and local runtime per round: nothing left over from the previous one.
    const app = createApp({ name: 'peers', logger: quiet });
    const add = app.task('add', (x: number, y: number) => x + y);
    const local = await startLocal(app, { mode, periodic: false });
    await settle();
    try {
      let t0 = performance.now();
      const rs = await Promise.all(Array.from({ length: N_INDEPENDENT }, (_, k) => add.delay(k, k)));
      const values = await app
        .groupResult(
          'independent',
          rs.map((r) => r.id),
        )
        .get({ timeoutMs: 300_000, ...(INTERVAL_MS ? { intervalMs: INTERVAL_MS } : {}) });
      const tIndependent = (performance.now() - t0) / 1000;
      if (values.some((v, k) => v !== 2 * k)) throw new Error(`celeriac ${mode}: wrong results`);

      t0 = performance.now();
      const cs = await Promise.all(Array.from({ length: N_CHAINS }, (_, k) => chain(add.s(k, 1), add.s(2), add.s(3)).applyAsync()));
      const cv = await app
        .groupResult(
          'chains',
          cs.map((r) => r.id),
        )
        .get({ timeoutMs: 300_000, ...(INTERVAL_MS ? { intervalMs: INTERVAL_MS } : {}) });
      const tChains = (performance.now() - t0) / 1000;
      if (cv.some((v, k) => v !== k + 6)) throw new Error(`celeriac ${mode}: wrong chain results`);
      if (i > 0) {
        out.independent.push(tIndependent);
        out.chains.push(tChains);
      }
    } finally {
      await local.stop();
    }
  }
  return out;
}

// ── Redis, Celery ───────────────────────────────────────────────────────────────────────────

async function startRedis(dir: string): Promise<{ port: number; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    '/usr/bin/redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (let i = 0; i < 100; i++) {
    try {
      const pong = await run('/usr/bin/redis-cli', ['-p', String(port), 'ping']);
      if (pong.trim() === 'PONG') return { port, child };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await stopChild(child);
  throw new Error('redis-server did not start');
}

async function celery(redisUrl: string): Promise<Timings> {
  const env = { ...process.env, REDIS_URL: redisUrl, PYTHONPATH: join(ROOT, 'bench') };
  const worker = spawn(
    PYTHON,
    ['-m', 'celery', '-A', 'peers_celery', 'worker', '--pool=prefork', '--concurrency=2', '--loglevel=WARNING', '--without-heartbeat'],
    { env, cwd: join(ROOT, 'bench'), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  worker.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  try {
    const out = await run(PYTHON, [join(ROOT, 'bench/peers_celery.py'), String(RUNS)], { env, cwd: join(ROOT, 'bench') });
    return JSON.parse(out.trim().split('\n').pop() as string) as Timings;
  } catch (e) {
    console.error(`celery worker stderr (tail):\n${stderr}`);
    throw e;
  } finally {
    // SIGTERM is Celery's warm shutdown: the main process stops its pool children itself.
    await stopChild(worker, 15_000);
  }
}

// ── BullMQ (optional) ───────────────────────────────────────────────────────────────────────

/** The part of BullMQ's documented API used here (typed locally: the package may be absent). */
interface BullJob {
  readonly data: { x?: number; y?: number; add?: number };
  getChildrenValues(): Promise<Record<string, number>>;
  waitUntilFinished(events: unknown, ttl?: number): Promise<number>;
}
interface BullMq {
  Queue: new (
    name: string,
    opts: { connection: object },
  ) => {
    add(name: string, data: object): Promise<BullJob>;
    obliterate(opts: { force: boolean }): Promise<void>;
    close(): Promise<void>;
    setMaxListeners(n: number): void;
  };
  Worker: new (
    name: string,
    processor: (job: BullJob) => Promise<number>,
    opts: { connection: object; concurrency: number },
  ) => { waitUntilReady(): Promise<unknown>; close(): Promise<void> };
  QueueEvents: new (
    name: string,
    opts: { connection: object },
  ) => { waitUntilReady(): Promise<unknown>; close(): Promise<void>; setMaxListeners(n: number): void };
  FlowProducer: new (opts: {
    connection: object;
  }) => { add(flow: object): Promise<{ job: BullJob }>; close(): Promise<void>; setMaxListeners(n: number): void };
}

/**
 * BullMQ is installed by this bench into bench/.peers (gitignored), not as a project dependency:
 * its native msgpackr-extract builds are optional packages the project's lockfile would have to
 * list for every platform, and `npm ci` refuses a lockfile the registry cannot complete.
 */
async function loadBullMq(): Promise<BullMq | string> {
  const dir = fileURLToPath(new URL('./.peers/', import.meta.url));
  const entry = `${dir}node_modules/bullmq/dist/cjs/index.js`;
  try {
    if (!existsSync(entry)) {
      mkdirSync(dir, { recursive: true });
      execFileSync('npm', ['install', '--prefix', dir, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', 'bullmq@^5'], {
        stdio: 'ignore',
      });
    }
    return createRequire(import.meta.url)(entry) as BullMq;
  } catch (e) {
    return `BullMQ could not be installed into bench/.peers (${(e as Error).message.split('\n')[0]})`;
  }
}

async function bullmq(mq: BullMq, port: number): Promise<Timings> {
  const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
  const out: Timings = { independent: [], chains: [] };
  for (let i = 0; i <= RUNS; i++) {
    const qname = `peers-${i}`;
    const queue = new mq.Queue(qname, { connection });
    const events = new mq.QueueEvents(qname, { connection });
    const flow = new mq.FlowProducer({ connection });
    // Each pending job adds listeners to these emitters: 1,000 in flight is expected, not a leak.
    for (const e of [queue, events, flow]) e.setMaxListeners(0);
    const worker = new mq.Worker(
      qname,
      async (job) => {
        if (job.data.x !== undefined) return job.data.x + (job.data.y as number);
        // A chain step: the previous step is this job's only child.
        const prev = Object.values(await job.getChildrenValues())[0] as number;
        return prev + (job.data.add as number);
      },
      { connection, concurrency: BULLMQ_CONCURRENCY },
    );
    try {
      await Promise.all([worker.waitUntilReady(), events.waitUntilReady()]);
      let t0 = performance.now();
      const jobs = await Promise.all(Array.from({ length: N_INDEPENDENT }, (_, k) => queue.add('add', { x: k, y: k })));
      const values = await Promise.all(jobs.map((j) => j.waitUntilFinished(events, 300_000)));
      const tIndependent = (performance.now() - t0) / 1000;
      if (values.some((v, k) => v !== 2 * k)) throw new Error('bullmq: wrong results');

      t0 = performance.now();
      // A flow runs children before parents: the last chain step is the root.
      const step = (k: number) => ({
        name: 'add',
        queueName: qname,
        data: { add: 3 },
        children: [
          { name: 'add', queueName: qname, data: { add: 2 }, children: [{ name: 'add', queueName: qname, data: { x: k, y: 1 } }] },
        ],
      });
      const roots = await Promise.all(Array.from({ length: N_CHAINS }, (_, k) => flow.add(step(k))));
      const cv = await Promise.all(roots.map((r) => r.job.waitUntilFinished(events, 300_000)));
      const tChains = (performance.now() - t0) / 1000;
      if (cv.some((v, k) => v !== k + 6)) throw new Error('bullmq: wrong chain results');
      if (i > 0) {
        out.independent.push(tIndependent);
        out.chains.push(tChains);
      }
    } finally {
      await worker.close();
      await flow.close();
      await events.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  }
  return out;
}

// ── main ────────────────────────────────────────────────────────────────────────────────────

/** PROFILE=1: one more run of a celeriac mode under `node --cpu-prof`, summarised by self time. */
async function profile(mode: 'memory' | 'emulated'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-peers-prof-'));
  try {
    await run(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', join(ROOT, 'bench/peers.ts')], {
      cwd: ROOT,
      env: { ...process.env, PEERS_ONLY: mode, RUNS: '1', PROFILE: '', BENCH_SETTLE: '0' },
    });
    const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) as string);
    const { total, rows } = topSelfTime(file, ROOT, 25);
    console.log(
      `\nprofile: celeriac ${mode}, warm-up + 1 round of both workloads (${(total / 1000).toFixed(2)} s sampled, startup included)`,
    );
    console.log('| self ms | % | function | where |\n|---:|---:|---|---|');
    for (const r of rows) console.log(`| ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} | ${r.fn} | ${r.where} |`);
    console.log('\n| self ms | % | category |\n|---:|---:|---|');
    for (const r of selfTimeByCategory(file, ROOT, LOCAL_CATEGORIES))
      console.log(`| ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} | ${r.category} |`);
    console.log('\n| self ms | % | file / package |\n|---:|---:|---|');
    for (const r of selfTimeByFile(file, ROOT, 25)) console.log(`| ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} | ${r.file} |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const only = process.env.PEERS_ONLY;
  if (only === 'memory' || only === 'emulated') {
    const t = await celeriac(only);
    console.log(JSON.stringify(t));
    return;
  }
  ensureDebian([debian.celery, debian.pyredis, debian.redis]);
  await waitForQuiet();
  console.log(machine());
  const loads = [fmtLoad()];
  const results = new Map<string, Timings | string>();

  const dir = mkdtempSync(join(tmpdir(), 'celeriac-peers-'));
  const redis = await startRedis(dir);
  try {
    const url = `redis://127.0.0.1:${redis.port}/0`;
    await settle();
    results.set('Celery 5.2 + Redis (prefork, 2 processes)', await celery(url));
    loads.push(fmtLoad());
    await run('/usr/bin/redis-cli', ['-p', String(redis.port), 'flushall']);
    const mq = await loadBullMq();
    if (typeof mq === 'string') {
      console.log(`BullMQ: SKIPPED — ${mq}`);
      results.set(`BullMQ + Redis (1 worker, concurrency ${BULLMQ_CONCURRENCY})`, 'skipped: bullmq not installed');
    } else {
      results.set(`BullMQ + Redis (1 worker, concurrency ${BULLMQ_CONCURRENCY})`, await bullmq(mq, redis.port));
      loads.push(fmtLoad());
    }
  } finally {
    await stopChild(redis.child);
    rmSync(dir, { recursive: true, force: true });
  }
  results.set('celeriac local, memory', await celeriac('memory'));
  loads.push(fmtLoad());
  results.set('celeriac local, emulated (fauxqs + dynalite, own thread)', await celeriac('emulated'));
  loads.push(fmtLoad());

  const base = results.get('Celery 5.2 + Redis (prefork, 2 processes)') as Timings;
  const mi = median(base.independent);
  const mc = median(base.chains);
  console.log(`\nmedian of ${RUNS} (after 1 warm-up), seconds from first send to all results ready; speed-up vs Celery+Redis`);
  console.log(`| system | ${N_INDEPENDENT} tasks (s) | tasks/s | × Celery | ${N_CHAINS} 3-step chains (s) | steps/s | × Celery |`);
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  const ratios = new Map<string, [number, number]>();
  for (const [name, t] of results) {
    if (typeof t === 'string') {
      console.log(`| ${name} | ${t} | | | | | |`);
      continue;
    }
    const i = median(t.independent);
    const c = median(t.chains);
    ratios.set(name, [mi / i, mc / c]);
    console.log(
      `| ${name} | ${i.toFixed(3)} | ${Math.round(N_INDEPENDENT / i)} | ${(mi / i).toFixed(2)} | ${c.toFixed(3)} | ${Math.round((3 * N_CHAINS) / c)} | ${(mc / c).toFixed(2)} |`,
    );
  }
  console.log('\nall runs (s):');
  for (const [name, t] of results)
    if (typeof t !== 'string')
      console.log(
        `  ${name}: independent ${t.independent.map((x) => x.toFixed(3)).join(', ')}; chains ${t.chains.map((x) => x.toFixed(3)).join(', ')}`,
      );
  const [memI, memC] = ratios.get('celeriac local, memory') as [number, number];
  const [emuI, emuC] = ratios.get('celeriac local, emulated (fauxqs + dynalite, own thread)') as [number, number];
  // Memory mode against BullMQ: both ratios are to the same Celery run, so their quotient is the time ratio.
  const bull = ratios.get(`BullMQ + Redis (1 worker, concurrency ${BULLMQ_CONCURRENCY})`);
  const figures = {
    peersEmulatedIndependent: emuI,
    peersEmulatedChains: emuC,
    peersMemoryVsBullmqIndependent: bull ? memI / bull[0] : null,
    peersMemoryVsBullmqChains: bull ? memC / bull[1] : null,
    memoryVsCeleryIndependent: memI,
    memoryVsCeleryChains: memC,
  };
  console.log('');
  for (const key of [
    'peersEmulatedIndependent',
    'peersEmulatedChains',
    'peersMemoryVsBullmqIndependent',
    'peersMemoryVsBullmqChains',
  ] as const)
    console.log(goalLine(key, figures[key]));
  console.log(`load average (1/5/15 min) at start and after each system: ${loads.join(' → ')}`);
  printResult('peers', figures);
  if (process.env.PROFILE === '1') {
    await profile('emulated');
    await profile('memory');
  }
}

await main();

/**
 * `npm run bench:overhead`: celeriac's worker path (bench/overhead.ts, unchanged, run as a child
 * process) beside Celery 5.2's in-process trace (bench/celery_apply.py: `task.apply()` with
 * `task_store_eager_result=True` on a `cache+memory://` result backend, Debian's python3-celery).
 * Both are one process on one core; each is run RUNS times (default 5) alternately,
 * each run started once the CPUs are ≥ 90 % idle (bench/env.ts settle), and the median
 * is reported.
 *
 *   npm run bench:overhead                 N=200000 celeriac tasks, CELERY_N=100000 Celery tasks
 *   PROFILE=1 npm run bench:overhead       also profiles one celeriac run (node --cpu-prof) and
 *                                          prints the top self-time functions and files
 *
 * Goal: bench/goals.ts (overheadVsCelery). BENCH_QUICK=1: N=20000, CELERY_N=10000, RUNS=1.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { selfTimeByFile, topSelfTime } from './cpuprofile';
import { debian, ensureDebian, fmtLoad, machine, median, PYTHON, run, settle, sized, waitForQuiet } from './env';
import { goalLine, printResult } from './goals';

const ROOT = resolve(import.meta.dirname, '..');
const NODE = process.execPath;
const RUNS = sized(process.env.RUNS, 5, 1);
const N = String(sized(process.env.N, 200_000, 20_000));
const CELERY_N = String(sized(process.env.CELERY_N, 100_000, 10_000));
/**
 * The other AsyncLocalStorage implementation, for an informational second figure: Node 24 (the
 * Lambda runtime, nodejs24.x) runs it on AsyncContextFrame by default, Node 22 on promise hooks
 * (every promise in the process pays init/before/after hooks once a store is in use).
 */
const ALT =
  Number(process.versions.node.split('.')[0]) >= 24
    ? { flag: '--no-async-context-frame', what: "Node 22's AsyncLocalStorage on promise hooks" }
    : { flag: '--experimental-async-context-frame', what: "Node 24's default AsyncLocalStorage on AsyncContextFrame" };

async function celeriacOnce(extraNodeArgs: string[] = []): Promise<number> {
  const out = await run(NODE, [...extraNodeArgs, '--import', 'tsx', join(ROOT, 'bench/overhead.ts')], {
    env: { ...process.env, N },
    cwd: ROOT,
  });
  const m = out.match(/: (\d+) tasks\/s/);
  if (!m) throw new Error(`unexpected bench/overhead.ts output: ${out}`);
  return Number(m[1]);
}

async function celeryOnce(): Promise<{ rate: number; version: string; python: string }> {
  const out = await run(PYTHON, [join(ROOT, 'bench/celery_apply.py'), CELERY_N], { cwd: ROOT });
  const j = JSON.parse(out.trim().split('\n').pop() as string) as { tasks_per_s: number; celery: string; python: string };
  return { rate: j.tasks_per_s, version: j.celery, python: j.python };
}

async function main(): Promise<void> {
  ensureDebian([debian.celery]);
  await waitForQuiet();
  console.log(machine());
  console.log(`celeriac runs on node ${process.version} (${NODE})`);
  const loads: string[] = [fmtLoad()];
  const ours: number[] = [];
  const frame: number[] = [];
  const theirs: number[] = [];
  let version = '';
  let python = '';
  for (let i = 0; i < RUNS; i++) {
    await settle();
    ours.push(await celeriacOnce());
    await settle();
    frame.push(await celeriacOnce([ALT.flag]));
    await settle();
    const c = await celeryOnce();
    theirs.push(c.rate);
    version = c.version;
    python = c.python;
    loads.push(fmtLoad());
  }
  const a = median(ours);
  const b = median(theirs);
  const ratio = a / b;
  console.log(
    `celeriac worker path (memory adapters, events on, batches of 10, N=${N}): ${Math.round(a)} tasks/s  [runs: ${ours.join(', ')}]`,
  );
  console.log(
    `Celery ${version} (Python ${python}) task.apply(), task_store_eager_result=True, cache+memory:// (N=${CELERY_N}): ${Math.round(b)} tasks/s  [runs: ${theirs.map(Math.round).join(', ')}]`,
  );
  console.log(`ratio celeriac / Celery: ${ratio.toFixed(2)}×`);
  const f = median(frame);
  console.log(
    `(informational) the same celeriac run with ${ALT.flag} (${ALT.what}): ${Math.round(f)} tasks/s, ${(f / b).toFixed(2)}× Celery  [runs: ${frame.join(', ')}]`,
  );
  console.log(goalLine('overheadVsCelery', ratio));
  console.log(`load average (1/5/15 min) before and after each pair: ${loads.join(' → ')}`);
  printResult('overhead', { overheadVsCelery: ratio, celeriacTasksPerS: Math.round(a), celeryTasksPerS: Math.round(b), n: Number(N) });

  if (process.env.PROFILE === '1') {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-overhead-prof-'));
    try {
      const rate = await celeriacOnce(['--cpu-prof', `--cpu-prof-dir=${dir}`]);
      const file = join(dir, readdirSync(dir).find((f) => f.endsWith('.cpuprofile')) as string);
      const { total, rows } = topSelfTime(file, ROOT, 30);
      console.log(`\nprofile of one run (${rate} tasks/s under the profiler; ${(total / 1000).toFixed(2)} s sampled, setup included)`);
      console.log('| self ms | % | function | where |\n|---:|---:|---|---|');
      for (const r of rows) console.log(`| ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} | ${r.fn} | ${r.where} |`);
      console.log('\n| self ms | % | file / package |\n|---:|---:|---|');
      for (const r of selfTimeByFile(file, ROOT, 20)) console.log(`| ${r.ms.toFixed(0)} | ${r.pct.toFixed(1)} | ${r.file} |`);
      if (process.env.KEEP_PROFILE) console.log(`profile kept at ${file}`);
    } finally {
      if (!process.env.KEEP_PROFILE) rmSync(dir, { recursive: true, force: true });
    }
  }
}

await main();

/**
 * `npm run bench:report`: every benchmark in one run on the current commit, and a Markdown report
 * of each figure beside its goal.
 *
 * Runs bench:overhead, bench:peers, bench:cost, bench:fanin, bench:coldstart and bench:scaling one
 * after the other, each as a child process with the same environment (each waits for a quiet
 * machine itself, bench/env.ts), streams their output and captures it. Each bench ends with one
 * `RESULT {json}` line (bench/goals.ts); the report judges those figures against bench/goals.ts —
 * the one table of goals — and writes bench/results/<UTC date>-<commit>[-quick].md: the summary
 * table (figure, goal, MET / MISSED), the scaling table, each bench's duration and load, and every
 * bench's raw output.
 *
 *   npm run bench:report                          the full run (~10–15 min on a quiet 2-core VM)
 *   BENCH_QUICK=1 BENCH_LOAD_WAIT_S=0 npm run bench:report    a dry run with small sizes
 *   BENCHES=cost,scaling npm run bench:report     a subset (the report says which ran)
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { machine, QUICK } from './env';
import { type BenchName, figureText, GOALS, type GoalKey, goalText, parseResult, type ResultLine, verdict } from './goals';

const ROOT = resolve(import.meta.dirname, '..');
const BENCHES: readonly BenchName[] = ['overhead', 'peers', 'cost', 'fanin', 'coldstart', 'scaling'];
/** The benches' own knobs (bench/README.md), named in the report's command line when set. */
const KNOBS = [
  'N',
  'CELERY_N',
  'RUNS',
  'PAIRS',
  'ONLY',
  'TIME_TASKS',
  'COUNT_TASKS',
  'LAMBDA_MS_PER_INVOCATION',
  'BULLMQ_CONCURRENCY',
  'CELERIAC_POLL_MS',
  'PROFILE',
];

/** The file `npm run bench:<name>` runs, read from package.json: the scripts stay the one place that says it. */
function scriptOf(name: BenchName): string {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const m = /^tsx (\S+\.ts)$/.exec(scripts[`bench:${name}`] ?? '');
  if (!m) throw new Error(`package.json: bench:${name} is not "tsx <file>.ts"`);
  return join(ROOT, m[1] as string);
}

interface Run {
  readonly name: BenchName;
  readonly output: string;
  readonly code: number | null;
  readonly seconds: number;
  readonly result: ResultLine | undefined;
}

/** Runs one bench as a child process; its output goes to this terminal and into the report. */
function runBench(name: BenchName): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', scriptOf(name)], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const tee = (to: NodeJS.WriteStream) => (c: Buffer) => {
      output += c.toString();
      to.write(c);
    };
    child.stdout.on('data', tee(process.stdout));
    child.stderr.on('data', tee(process.stderr));
    child.on('error', reject);
    child.on('close', (code) => {
      let result: ResultLine | undefined;
      try {
        result = parseResult(output);
      } catch {
        result = undefined; // a garbled RESULT line: reported as not measured
      }
      resolvePromise({ name, output, code, seconds: (performance.now() - t0) / 1000, result });
    });
  });
}

const git = (args: string[]): Promise<string> =>
  new Promise((res) => {
    const c = spawn('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
    let o = '';
    c.stdout.on('data', (d: Buffer) => {
      o += d.toString();
    });
    c.on('close', () => res(o.trim()));
  });

/** The lines of a Markdown table in `output` that starts with `head`. */
function tableIn(output: string, head: string): string[] {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => l.startsWith(head));
  if (start < 0) return [];
  const end = lines.findIndex((l, i) => i > start && !l.startsWith('|'));
  return lines.slice(start, end < 0 ? undefined : end);
}

function report(runs: readonly Run[], header: string, commit: string): string {
  const byBench = new Map(runs.map((r) => [r.name, r]));
  const out: string[] = [];
  out.push(`# Benchmark report — ${commit}${QUICK ? ' (BENCH_QUICK=1: a dry run with small sizes, not results)' : ''}`, '');
  out.push(`${header}`, '');
  const knobs = Object.entries(process.env)
    .filter(([k]) => k.startsWith('BENCH') || KNOBS.includes(k))
    .map(([k, v]) => `${k}=${v} `)
    .join('');
  out.push(`Command: \`${knobs}npm run bench:report\`. Goals: bench/goals.ts.`, '');
  out.push('| bench | figure | goal | measured | verdict |', '|---|---|---|---:|---|');
  for (const key of Object.keys(GOALS) as GoalKey[]) {
    const g = GOALS[key];
    const run = byBench.get(g.bench);
    if (run === undefined) continue; // not run (BENCHES=…)
    const value = run.result?.figures[key];
    const v = typeof value === 'number' ? value : null;
    const status = run.code !== 0 && v === null ? `NOT MEASURED (bench exited ${run.code})` : verdict(key, v);
    out.push(`| \`bench:${g.bench}\` | ${g.what} | ${goalText(key)} | ${figureText(key, v)} | **${status}** |`);
  }
  const scaling = byBench.get('scaling');
  const table = scaling ? tableIn(scaling.output, '| work |') : [];
  if (table.length > 0) out.push('', '### How cost and time grow with the work (`bench:scaling`)', '', ...table);
  const verdictLine = scaling?.output.split('\n').find((l) => l.startsWith('verdict: '));
  if (verdictLine) out.push('', verdictLine);
  out.push('', '### Runs', '', '| bench | exit | duration | machine and load at its start |', '|---|---:|---:|---|');
  for (const r of runs) {
    const at = r.output.split('\n').find((l) => / · nproc \d+ · /.test(l)) ?? '';
    out.push(`| \`bench:${r.name}\` | ${r.code} | ${(r.seconds / 60).toFixed(1)} min | ${at} |`);
  }
  out.push('', '### Raw outputs');
  for (const r of runs) out.push('', `#### \`npm run bench:${r.name}\``, '', '```', r.output.trimEnd(), '```');
  return `${out.join('\n')}\n`;
}

async function main(): Promise<void> {
  const only = process.env.BENCHES?.split(',').map((s) => s.trim());
  const unknown = only?.filter((b) => !(BENCHES as readonly string[]).includes(b)) ?? [];
  if (unknown.length > 0) throw new Error(`BENCHES: no bench named ${unknown.join(', ')} (benches: ${BENCHES.join(', ')})`);
  const benches = BENCHES.filter((b) => only === undefined || only.includes(b));
  const header = machine();
  const commit = (await git(['rev-parse', '--short', 'HEAD'])) || 'unknown';
  const dirty = (await git(['status', '--porcelain', '--', 'lib', 'bench', 'examples/shop/src', 'package.json'])) !== '';
  console.log(`bench:report — ${benches.join(', ')} on ${commit}${dirty ? ' (uncommitted changes!)' : ''}`);
  const runs: Run[] = [];
  for (const b of benches) {
    console.log(`\n━━ bench:${b} ━━`);
    runs.push(await runBench(b));
  }
  const dir = join(ROOT, 'bench/results');
  mkdirSync(dir, { recursive: true });
  const date = new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-');
  const file = join(dir, `${date}-${commit}${dirty ? '-dirty' : ''}${QUICK ? '-quick' : ''}.md`);
  const text = report(runs, `${header}${dirty ? ' · **uncommitted changes in lib/, bench/ or package.json**' : ''}`, commit);
  writeFileSync(file, text);
  console.log(`\n${text.slice(0, text.indexOf('### Raw outputs'))}`);
  console.log(`report written to ${file}`);
  const failed = runs.filter((r) => r.code !== 0);
  if (failed.length > 0) {
    console.log(`bench(es) that failed: ${failed.map((r) => `${r.name} (exit ${r.code})`).join(', ')}`);
    process.exitCode = 1;
  }
}

await main();

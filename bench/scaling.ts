/**
 * `npm run bench:scaling`: how cost and time grow with the work — chains of 1, 10, 50 and 100
 * `add` steps, chords of 10, 1,000 and 10,000 `add` header tasks with a `sum` body — so a reader
 * can check that nothing grows faster than the work. Events on (the app default) throughout.
 *
 * Per size, two measurements:
 *   time      memory adapters, the worker handler driven in-process in batches of 10 by
 *             bench/driver.ts (no pollers, no emulators): ~TIME_TASKS tasks a run (workflows =
 *             tasks ÷ workflow size), first send → every result read and checked; one untimed
 *             round of every size, then RUNS rounds that visit the sizes in turn (this VM's speed
 *             drifts over seconds: interleaving spreads the drift over all sizes); median.
 *   counted   one emulated run (bench/counted.ts — the counting clients of bench:cost: dynalite +
 *             fauxqs + the PutEvents endpoint, every AWS call counted with its bytes and billing
 *             units), ~COUNT_TASKS tasks: DynamoDB write and read calls and units, SQS and
 *             EventBridge calls and billed units, $ per million tasks, per task; the producer's
 *             messages (a chain's first message carries its plan while the plan fits
 *             inlinePlanBytes, 8 KiB; a bigger plan, or any chord's, is stored once and referenced);
 *             message bytes and all request bytes sent, per task.
 *
 * Verdicts (goals: bench/goals.ts, scaling*): every per-task figure at every size against the
 * smallest size; a chain's first-message bytes per step between consecutive lengths (≤ 1: the
 * message grows linearly with the chain, or less).
 *
 *   npm run bench:scaling          BENCH_QUICK=1: chords of 10, 100, 1,000; fewer tasks; 1 round
 */
import { memoryBackend } from '../lib/adapters/memory';
import type { App } from '../lib/app';
import { chain, chord } from '../lib/canvas/builders';
import type { AnySignature } from '../lib/canvas/signature';
import { createApp } from '../lib/index';
import { type CountedWorkload, costOf, emulatedRun, producerSends } from './counted';
import { driver, quiet } from './driver';
import { fmtLoad, machine, median, QUICK, sized, waitForQuiet } from './env';
import { type Figures, GOALS, type GoalKey, goalLine, printResult, verdict } from './goals';

const CHAIN_LENGTHS = [1, 10, 50, 100];
const CHORD_WIDTHS = QUICK ? [10, 100, 1_000] : [10, 1_000, 10_000];
const TIME_TASKS = sized(process.env.TIME_TASKS, 10_000, 1_000);
const COUNT_TASKS = sized(process.env.COUNT_TASKS, 1_000, 200);
const RUNS = sized(process.env.RUNS, 5, 1);

type Family = 'chain' | 'chord';
const register = (app: App) => ({
  add: app.task('add', (x: number, y: number) => x + y),
  sum: app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0)),
});
type Tasks = ReturnType<typeof register>;

/** One workflow of a family and size: what the counted run sends, and its tasks for per-task figures. */
interface Shape extends Pick<CountedWorkload<Tasks>, 'send' | 'expect'> {
  readonly family: Family;
  readonly size: number;
  /** Tasks one workflow runs. */
  readonly tasks: number;
}

function shape(family: Family, size: number): Shape {
  if (family === 'chain')
    return {
      family,
      size,
      tasks: size,
      send: (_app, t, i) => {
        const steps: AnySignature[] = [t.add.s(i, 1), ...Array.from({ length: size - 1 }, () => t.add.s(1))];
        return (chain as (...s: AnySignature[]) => AnySignature)(...steps).applyAsync() as Promise<{ get(): Promise<unknown> }>;
      },
      expect: (i) => i + size,
    };
  return {
    family,
    size,
    tasks: size + 1,
    send: (_app, t, i) =>
      chord(
        Array.from({ length: size }, (_, k) => t.add.s(i, k)),
        t.sum.s(),
      ).applyAsync(),
    expect: (i) => size * i + (size * (size - 1)) / 2,
  };
}

/** Workflows for about `tasks` tasks; at least `min` (a chain needs 10 to fill a batch of 10). */
const workflowsFor = (s: Shape, tasks: number, min: number) => Math.max(min, Math.round(tasks / s.tasks));

/** One memory-mode run; returns µs per task. */
async function timed(s: Shape, workflows: number): Promise<number> {
  const backend = memoryBackend({ pollIntervalMs: 1 });
  const app = createApp({ name: 'scaling', backend, logger: quiet });
  const t = register(app);
  const drain = driver(app, backend);
  const t0 = performance.now();
  const handles = await Promise.all(Array.from({ length: workflows }, (_, i) => s.send(app, t, i)));
  await drain();
  const values = await Promise.all(handles.map((h) => h.get()));
  const ms = performance.now() - t0;
  values.forEach((v, i) => {
    if (v !== s.expect(i))
      throw new Error(`${s.family} of ${s.size}: workflow ${i} returned ${JSON.stringify(v)}, expected ${s.expect(i)}`);
  });
  return (ms * 1000) / (workflows * s.tasks);
}

interface Row {
  readonly shape: Shape;
  readonly timeWorkflows: number;
  readonly usPerTask: number;
  readonly countWorkflows: number;
  readonly cost: ReturnType<typeof costOf>;
  /** The producer's messages and their body bytes, per workflow; whether it stored the plan. */
  readonly first: { messages: number; bodyBytes: number; planStored: boolean };
}

/** The counted per-task figures a verdict compares across sizes. */
const COUNTED_FIGURES: readonly [string, (r: Row) => number][] = [
  ['DynamoDB write calls', (r) => r.cost.calls.ddbWrite],
  ['WRU', (r) => r.cost.wru],
  ['DynamoDB read calls', (r) => r.cost.calls.ddbRead],
  ['RRU', (r) => r.cost.rru],
  ['SQS calls', (r) => r.cost.calls.sqs],
  ['SQS requests billed', (r) => r.cost.sqs],
  ['EventBridge calls', (r) => r.cost.calls.eventbridge],
  ['EventBridge events', (r) => r.cost.ev],
  ['$ per task', (r) => r.cost.total],
];

/** Largest value of `f` over the rows ÷ its value at the smallest size, and where it peaks. */
function growth(rows: readonly Row[], f: (r: Row) => number): { ratio: number; at: number } {
  const base = f(rows[0] as Row);
  let best = { ratio: 1, at: (rows[0] as Row).shape.size };
  for (const r of rows.slice(1)) {
    const v = f(r);
    const ratio = base === 0 ? (v === 0 ? 1 : Number.POSITIVE_INFINITY) : v / base;
    if (ratio > best.ratio) best = { ratio, at: r.shape.size };
  }
  return best;
}

const n = (x: number, d = 2) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const int = (x: number) => Math.round(x).toLocaleString('en-US');

function table(rows: readonly Row[]): void {
  console.log(
    '| work | tasks per run (time · counted) | µs per task (memory) | DynamoDB writes per task (calls · WRU) | reads per task (calls · RRU) | SQS per task (calls · billed) | EventBridge per task (calls · events) | $ per million tasks | producer per workflow (messages · body bytes) | message bytes per task | request bytes per task |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const c = r.cost;
    console.log(
      `| ${r.shape.family} of ${int(r.shape.size)} | ${int(r.timeWorkflows * r.shape.tasks)} · ${int(r.countWorkflows * r.shape.tasks)} | ${n(r.usPerTask, 1)} | ${n(c.calls.ddbWrite)} · ${n(c.wru)} | ${n(c.calls.ddbRead)} · ${n(c.rru)} | ${n(c.calls.sqs)} · ${n(c.sqs)} | ${n(c.calls.eventbridge)} · ${n(c.ev)} | $${n(c.total * 1e6)} | ${int(r.first.messages)} · ${int(r.first.bodyBytes)} | ${int(c.messageBytes)} | ${int(c.requestBytes)} |`,
    );
  }
}

async function main(): Promise<void> {
  await waitForQuiet();
  console.log(machine());
  console.log(
    `time: memory adapters, worker handler driven in-process (bench/driver.ts), events on, ~${int(TIME_TASKS)} tasks a run, median of ${RUNS} interleaved round(s) after 1 untimed round; ` +
      `counted: one emulated run per size (bench/counted.ts, bench:cost's counting clients), events on, ~${int(COUNT_TASKS)} tasks${QUICK ? ' (BENCH_QUICK=1: a dry run, not results)' : ''}\n`,
  );
  const shapes = [...CHAIN_LENGTHS.map((l) => shape('chain', l)), ...CHORD_WIDTHS.map((w) => shape('chord', w))];

  const times = new Map<Shape, number[]>(shapes.map((s) => [s, []]));
  const timeWorkflows = (s: Shape) => workflowsFor(s, TIME_TASKS, 1);
  for (let round = 0; round <= RUNS; round++) {
    for (const s of shapes) {
      const us = await timed(s, timeWorkflows(s));
      if (round > 0) (times.get(s) as number[]).push(us);
    }
  }
  const loadAfterTime = fmtLoad();

  const rows: Row[] = [];
  for (const s of shapes) {
    const workflows = workflowsFor(s, COUNT_TASKS, s.family === 'chain' ? 10 : 1);
    const r = await emulatedRun({ name: `${s.family} of ${s.size}`, n: workflows, register, send: s.send, expect: s.expect }, true);
    const p = producerSends(r);
    rows.push({
      shape: s,
      timeWorkflows: timeWorkflows(s),
      usPerTask: median(times.get(s) as number[]),
      countWorkflows: workflows,
      cost: costOf(r, workflows * s.tasks),
      first: { messages: p.messages / workflows, bodyBytes: p.bodyBytes / workflows, planStored: p.storeWrites > 0 },
    });
  }
  const chains = rows.filter((r) => r.shape.family === 'chain');
  const chords = rows.filter((r) => r.shape.family === 'chord');
  table(rows);
  console.log('\ntime per task, every round (µs):');
  for (const r of rows)
    console.log(`  ${r.shape.family} of ${r.shape.size}: ${(times.get(r.shape) as number[]).map((x) => n(x, 1)).join(', ')}`);

  const figures: Figures = {};
  const verdicts: string[] = [];
  const judge = (key: GoalKey, value: number, detail: string) => {
    figures[key] = value;
    verdicts.push(`${goalLine(key, value)} — ${detail}`);
  };
  for (const [family, fam, countsKey, timeKey, bytesKey] of [
    ['chain', chains, 'scalingChainCounts', 'scalingChainTime', 'scalingChainBytes'],
    ['chord', chords, 'scalingChordCounts', 'scalingChordTime', 'scalingChordBytes'],
  ] as const) {
    const counted = COUNTED_FIGURES.map(([name, f]) => ({ name, ...growth(fam, f) })).sort((a, b) => b.ratio - a.ratio);
    const worst = counted[0] as (typeof counted)[number];
    judge(
      countsKey,
      worst.ratio,
      `largest: ${worst.name} (${family} of ${int(worst.at)}); ${counted
        .slice(1)
        .map((c) => `${c.name} ${n(c.ratio)}×`)
        .join(', ')}`,
    );
    const t = growth(fam, (r) => r.usPerTask);
    judge(timeKey, t.ratio, `largest at ${family} of ${int(t.at)}`);
    const m = growth(fam, (r) => r.cost.messageBytes);
    const b = growth(fam, (r) => r.cost.requestBytes);
    judge(
      bytesKey,
      m.ratio,
      `largest at ${family} of ${int(m.at)}; every request body (messages, store writes and reads, events) ${n(b.ratio)}× (at ${int(b.at)})`,
    );
  }
  // A chain's first message: bytes per step between consecutive lengths (≤ 1: linear or less).
  let stepGrowth = 0;
  const steps: string[] = [];
  for (let i = 1; i < chains.length; i++) {
    const a = chains[i - 1] as Row;
    const b = chains[i] as Row;
    const g = b.first.bodyBytes / b.shape.size / (a.first.bodyBytes / a.shape.size);
    steps.push(`${a.shape.size} → ${b.shape.size}: ${n(g)}×`);
    stepGrowth = Math.max(stepGrowth, g);
  }
  judge(
    'scalingChainFirstMessage',
    stepGrowth,
    `first message ${chains.map((r) => `${int(r.first.bodyBytes)} B`).join(' · ')}; per step ${steps.join(', ')}`,
  );

  // What the chain's bytes mean, from the measured figures.
  const cap = `inlinePlanBytes (${int(createApp({ name: 'scaling' }).settings.inlinePlanBytes)} B, the default)`;
  const inlined = chains.filter((r) => r.shape.size > 1 && !r.first.planStored);
  console.log('\nchain bytes: what travels');
  for (const r of chains)
    console.log(
      `  chain of ${r.shape.size}: plan ${r.first.planStored ? 'stored once' : 'inline'}, first message ${int(r.first.bodyBytes)} B; all messages of one chain ${int(r.cost.messageBytes * r.shape.size)} B (${int(r.cost.messageBytes)} B per step)`,
    );
  console.log(
    inlined.length > 0
      ? `  while a chain's plan fits ${cap} every step's message carries the whole plan: O(n) bytes per step, O(n²) over the chain (${inlined.map((r) => `chain of ${r.shape.size}`).join(', ')}); ` +
          'a longer chain stores its plan once and each message names it (~constant per step), so a message never carries more than the cap'
      : '  no chain carried its plan inline: bytes per step are constant',
  );

  console.log('');
  for (const v of verdicts) console.log(v);
  const missed = Object.entries(figures).filter(([k, v]) => verdict(k as GoalKey, v as number) !== 'MET');
  console.log(
    missed.length === 0
      ? 'verdict: nothing grows faster than the work (every per-task figure within its factor at every size)'
      : `verdict: grows faster than the work — ${missed.map(([k, v]) => `${GOALS[k as GoalKey].what}: ${n(v as number)}×`).join('; ')} (see the lines above)`,
  );
  console.log(`load average (1/5/15 min): after the timed runs ${loadAfterTime}; at the end ${fmtLoad()}`);
  for (const r of rows) {
    const k = `${r.shape.family}${r.shape.size}`;
    figures[`${k} us/task`] = r.usPerTask;
    figures[`${k} WRU/task`] = r.cost.wru;
    figures[`${k} RRU/task`] = r.cost.rru;
    figures[`${k} $/M tasks`] = r.cost.total * 1e6;
    figures[`${k} first message bytes`] = r.first.bodyBytes;
    figures[`${k} request bytes/task`] = r.cost.requestBytes;
  }
  printResult('scaling', figures);
}

await main();

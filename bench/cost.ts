/**
 * `npm run bench:cost`: what a workflow costs on AWS, from the AWS API calls celeriac really makes.
 *
 * A counted emulated run per workload, events on and off (bench/counted.ts: every AWS API call,
 * by phase, with its bytes and billing units), priced at us-east-1 list prices; Step Functions
 * Standard for the same workflows beside it.
 *
 * "plain task, payload bucket" is "plain task" with a payload bucket configured: below the
 * threshold it must cost exactly the same; "5 MiB argument → 3-step chain → 5 MiB result" moves
 * its values through S3 (README, "Large payloads"; BENCH_PAYLOAD_N workflows, default 5).
 *
 * Prices: us-east-1 list prices (see PRICES and bench/RESULTS.md for the pages).
 *
 *   npm run bench:cost
 */
import type { App } from '../lib/app';
import { chain, chord, createApp } from '../lib/index';
import { buildTopology } from '../lib/routing';
import { BATCH, COUNTED, costOf, emulatedRun, LAMBDA_MS, m$, PRICES } from './counted';
import { machine, QUICK, waitForQuiet } from './env';
import { type Figures, GOALS, goalLine, printResult } from './goals';

// ── workloads ───────────────────────────────────────────────────────────────────────────────

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
  /** Run with a payload bucket (values over the threshold go to S3). */
  readonly payloads?: boolean;
}
interface Tasks {
  add: ReturnType<typeof addTask>;
  sum: ReturnType<typeof sumTask>;
  paced: ReturnType<typeof addTask>;
  bounded: ReturnType<typeof addTask>;
  pass: ReturnType<typeof passTask>;
}
const addTask = (app: App) => app.task('add', (x: number, y: number) => x + y);
const sumTask = (app: App) => app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
// Limits far above what the run reaches: what is measured is the requests a limit adds, not waiting.
const pacedTask = (app: App) => app.task('paced', (x: number, y: number) => x + y, { rateLimit: '1000000/s' });
const boundedTask = (app: App) => app.task('bounded', (x: number, y: number) => x + y, { concurrency: 1000 });
/** Returns its (large) input with one character changed: a step whose result is as large as its argument. */
const passTask = (app: App) => app.task('pass', (s: string) => `${s.length % 10}${s.slice(1)}`);
const registerTasks = (app: App): Tasks => ({
  add: addTask(app),
  sum: sumTask(app),
  paced: pacedTask(app),
  bounded: boundedTask(app),
  pass: passTask(app),
});
const BIG = 5 * 1024 * 1024;
const bigInput = (i: number): string => `${i % 10}`.repeat(BIG);

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
  // The threshold's effect below it: the same plain task with a payload bucket configured.
  { ...plainTask('plain task, payload bucket', (_app, t, i) => t.add.delay(i, i), '1 Task state (Lambda invoke)'), payloads: true },
  {
    name: '5 MiB argument → 3-step chain → 5 MiB result',
    n: Number(process.env.BENCH_PAYLOAD_N ?? 5),
    tasks: 3,
    payloads: true,
    send: (_app, t, i) => chain(t.pass.s(bigInput(i)), t.pass.s(), t.pass.s()).applyAsync(),
    expect: (i) => `${BIG % 10}${bigInput(i).slice(1)}`,
    sfnTransitions: 3,
    sfnNote: '3 Task states; Step Functions state holds 256 KiB at most: the 5 MiB would go through S3 by hand',
  },
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

// ── report ──────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  await waitForQuiet();
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
  for (const listed of WORKLOADS.filter((x) => process.env.ONLY === undefined || x.name.includes(process.env.ONLY))) {
    // BENCH_QUICK=1: a tenth of the workflows (per-workflow figures barely move; a dry run).
    const w = QUICK ? { ...listed, n: Math.ceil(listed.n / 10) } : listed;
    for (const events of [true, false]) {
      const r = await emulatedRun({ ...w, register: registerTasks }, events);
      const c = costOf(r, w.n);
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
        `per workflow: SQS ${c.sqs.toFixed(3)} req · DynamoDB ${c.wru.toFixed(3)} WRU + ${c.rru.toFixed(3)} RRU · EventBridge ${c.ev.toFixed(3)} events · Lambda ${c.invocations.toFixed(3)} invocations · S3 ${c.s3Puts.toFixed(3)} PUT + ${c.s3Gets.toFixed(3)} GET` +
          (c.clientS3Gets > 0 ? ` (+ ${c.clientS3Gets.toFixed(3)} GET by the caller's get(), not counted)` : ''),
      );
      console.log(
        `$ per million workflows: SQS ${m$(c.usd.sqs)} + DynamoDB ${m$(c.usd.ddb)} + EventBridge ${m$(c.usd.events)} + Lambda ${m$(c.usd.lambda)} + S3 ${m$(c.usd.s3)} = ${m$(c.total)}  (${m$(c.total / w.tasks)} per million tasks)\n`,
      );
      summary.push(
        `| ${w.name} | ${events ? 'on' : 'off'} | ${m$(c.usd.sqs)} | ${m$(c.usd.ddb)} | ${m$(c.usd.events)} | ${m$(c.usd.lambda)} | ${m$(c.usd.s3)} | **${m$(c.total)}** | ${m$(c.total / w.tasks)} |`,
      );
      totals.set(`${w.name}/${events}`, c.total);
      details.set(`${w.name}/${events}`, c);
    }
  }
  console.log('$ per million workflows (us-east-1 list prices)');
  console.log('| workflow | events | SQS | DynamoDB | EventBridge | Lambda | S3 | total | per million tasks |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
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
  // Goals (events on; events off beside them, at the same limit), and how sensitive each is to the
  // Lambda duration assumption.
  const figures: Figures = {};
  for (const [name, key] of [
    ['plain task', 'costPlainEventsOn'],
    ['3-step chain', 'costChainEventsOn'],
  ] as const) {
    const limit = GOALS[key].limit;
    for (const events of [true, false]) {
      const c = details.get(`${name}/${events}`);
      if (c === undefined) continue; // not run (ONLY=…)
      const perMs = c.invocations * (1 / 1000) * (memoryMb / 1024) * PRICES.lambdaGbSecondArm;
      const withoutDuration = c.total - c.invocations * LAMBDA_MS * (1 / 1000) * (memoryMb / 1024) * PRICES.lambdaGbSecondArm;
      const breakEven = (limit / 1e6 - withoutDuration) / perMs;
      const sensitivity = `(at ${LAMBDA_MS} ms per invocation; ${breakEven > 0 ? `met while billed duration ≤ ${Math.floor(breakEven)} ms per batch of ${BATCH}` : 'missed even at 0 ms'})`;
      if (events) {
        figures[key] = c.total * 1e6;
        console.log(`${goalLine(key, c.total * 1e6)} ${sensitivity}`);
      } else {
        figures[`${key.replace('EventsOn', '')}EventsOff`] = c.total * 1e6;
        console.log(
          `(informational) ${name}, events off, against the same limit: ${m$(c.total)} ${c.total * 1e6 <= limit ? 'within' : 'over'} ${sensitivity}`,
        );
      }
    }
  }
  for (const [key, total] of totals) figures[`$/M ${key.replace('/true', ', events on').replace('/false', ', events off')}`] = total * 1e6;
  printResult('cost', figures);
}

await main();

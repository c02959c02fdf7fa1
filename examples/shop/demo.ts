/**
 * `npm run demo` — the example shop app (src/app.ts) run by local mode, telling the story of
 * "call a function when a task is done": a chain, a task hook, a signal, a bus subscriber, static
 * link rules, an errback, a chord and a periodic task, with every result read back with `get()`.
 *
 *   npm run demo                      # emulated (dynalite + fauxqs in-process) if it starts in 5 s, else memory
 *   npm run demo -- --mode memory     # or --mode emulated
 */

import { fileURLToPath } from 'node:url';
import { chain, chord, group } from 'celeriac';
import { errbackCallId, type LocalMode, type LocalRuntime, linkCallId, startLocal } from 'celeriac/local';
import { add, alert, alertLog, app, auditLog, charge, report, sum } from './src/app.js';

const EMULATED_START_LIMIT_MS = 5_000;
/** The shop's project root: subscriber entries (`src/subscriber.ts`) are relative to it, wherever the demo runs from. */
const SHOP_ROOT = fileURLToPath(new URL('.', import.meta.url));
const DAY_MS = 86_400_000;
const started = performance.now();
const tty = process.stdout.isTTY === true;
// Without a terminal (a pipe, CI logs) assume 80 columns: nothing is cut there either.
const width = Math.max(80, Math.min(process.stdout.columns ?? 80, 140));

// ── command line ───────────────────────────────────────────────────────────────────────────
function parseMode(argv: readonly string[]): LocalMode | undefined {
  let mode: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '-h' || a === '--help') {
      console.log('usage: npm run demo [-- --mode memory|emulated]');
      process.exit(0);
    }
    if (a === '--mode') mode = argv[++i];
    else if (a.startsWith('--mode=')) mode = a.slice('--mode='.length);
    else fail(`unknown argument "${a}"`);
  }
  if (mode === undefined) return undefined;
  if (mode !== 'memory' && mode !== 'emulated') fail(`--mode must be memory or emulated, got "${mode}"`);
  return mode as LocalMode;
}

function fail(message: string): never {
  console.error(`demo: ${message}\nusage: npm run demo [-- --mode memory|emulated]`);
  process.exit(2);
}

// fauxqs uses node:sqlite, which prints an ExperimentalWarning on Node 22: noise in a demo.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  if (String(warning).includes('SQLite is an experimental feature')) return;
  (emitWarning as (...a: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

// The metrics subscriber (src/subscriber.ts) logs one JSON line per event, as a Lambda
// would to CloudWatch; the demo collects those lines instead of interleaving them with its output.
const subscriberLines: { task: string; state: string }[] = [];
const consoleLog = console.log;
console.log = (...args: unknown[]) => {
  if (typeof args[0] === 'string' && args[0].startsWith('{"metric"')) subscriberLines.push(JSON.parse(args[0]));
  else consoleLog(...args);
};

// ── starting local mode ────────────────────────────────────────────────────────────────────
const startShop = (mode: LocalMode): Promise<LocalRuntime> => startLocal(app, { mode, root: SHOP_ROOT });

async function start(requested: LocalMode | undefined): Promise<{ local: LocalRuntime; how: string }> {
  const t0 = performance.now();
  if (requested !== undefined) {
    const local = await startShop(requested);
    return { local, how: `${describeMode(requested)}, as asked, up in ${ms(performance.now() - t0)}` };
  }
  const attempt = startShop('emulated');
  let why: string;
  try {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const slow = new Promise<'slow'>((r) => {
      timer = setTimeout(() => r('slow'), EMULATED_START_LIMIT_MS);
    });
    const first = await Promise.race([attempt, slow]);
    clearTimeout(timer);
    if (first !== 'slow') return { local: first, how: `${describeMode('emulated')}, up in ${ms(performance.now() - t0)}` };
    why = `the emulators took over ${EMULATED_START_LIMIT_MS / 1000} s to start`;
  } catch (e) {
    why = `the emulators did not start (${e instanceof Error ? e.message : String(e)})`;
  }
  const local = await startShop('memory');
  // If the emulators come up after all, take them down and keep the app on memory.
  attempt.then(
    async (late) => {
      await late.stop();
      app.use(local.backend);
    },
    () => {},
  );
  return { local, how: `${describeMode('memory')} — ${why}` };
}

function describeMode(mode: LocalMode): string {
  return mode === 'emulated' ? 'emulated (DynamoDB: dynalite, SQS: fauxqs)' : 'memory (in-memory adapters)';
}

// ── progress ───────────────────────────────────────────────────────────────────────────────
const postrun: { id: string; task: string; state: string; args: readonly unknown[]; retval: unknown }[] = [];
app.signals.taskPostrun.connect((e) => {
  postrun.push({ id: e.taskId, task: e.task, state: e.state, args: e.args, retval: e.retval });
});

const STEPS = 6;
let step = 0;
let stepName = '';
let spinner = 0;
let local: LocalRuntime | undefined;
// Under 80 columns whatever the counts: the live line is rewritten in place and never cut.
const progressLine = (): string =>
  `${'⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏'[spinner++ % 10]} [${step}/${STEPS}] ${stepName.padEnd(44)} ${postrun.length} tasks · ${local?.events.length ?? 0} events`;
let ticker: ReturnType<typeof setInterval> | undefined;
function begin(name: string): void {
  step++;
  stepName = name;
  // Without a terminal, one line per step as it starts; the counts come at the end, once they are
  // final (a line printed now would show the counts of the steps before, still running).
  if (!tty) process.stdout.write(`· [${step}/${STEPS}] ${name}\n`);
}

// ── the story ──────────────────────────────────────────────────────────────────────────────
async function main(): Promise<void> {
  const mode = parseMode(process.argv.slice(2));
  const { local: l, how } = await start(mode);
  local = l;
  process.stdout.write(`celeriac demo · app "${app.name}"\nlocal mode: ${how}\n\n`);
  // One line, rewritten in place (kept under 80 columns, so it never wraps).
  if (tty) ticker = setInterval(() => process.stdout.write(`\r\x1b[K${progressLine()}`), 80);
  const rows: [string, string, string][] = [];
  const timeout = { timeoutMs: 15_000 };
  try {
    begin('chain add(2, 3) → add(4) → report');
    const total = await chain(add.s(2, 3), add.s(4), report.s()).applyAsync();
    const totalValue = await total.get(timeout);

    begin('chord: sum over a group of four adds');
    const summed = await chord(group(add.s(1, 1), add.s(2, 2), add.s(3, 3), add.s(4, 4)), sum.s()).applyAsync();
    const chordValue = await summed.get(timeout);

    begin('charge o-1 (40): succeeds');
    const paid = await charge.delay({ id: 'o-1', amount: 40 });
    const paidValue = await paid.get(timeout);

    begin('charge o-2 (5000): fails; linkError → alert');
    const refused = await charge.applyAsync([{ id: 'o-2', amount: 5_000 }], { linkError: alert.s('#payments') });
    const refusal = (await refused.get({ ...timeout, propagate: false })) as unknown as Error;

    begin('drain: links, errbacks, subscribers finish');
    const drained = await local.drain();
    const dueIn = (drained.deferred[0]?.dueAt ?? 0) - local.now();

    begin('tick(1 day): the periodic task fires');
    const before = postrun.length;
    await local.tick(DAY_MS);
    await local.drain();
    const nightly = postrun.slice(before).find((p) => p.task === 'add');

    // Results of the calls the rules made, read back by their deterministic ids.
    const notified = await app.asyncResult<string>(linkCallId(total.id, 'notify')).get(timeout);
    const refund = await app.asyncResult<string>(errbackCallId(refused.id, 'refund')).get(timeout);
    const nightlyValue = nightly ? await app.asyncResult<number>(nightly.id).get(timeout) : undefined;
    const subscriberRule = local.rules().find((r) => r.target.kind === 'subscriber');

    rows.push(
      ['chain', 'add(2, 3) → add(4) → report', String(totalValue)],
      ['hook', 'report onSuccess → audit log', (auditLog[0] ?? '(none)').replace(/^\S+ /, '')],
      ['link', 'report → notify (EventBridge rule)', notified],
      ['chord', 'group(add ×4) → sum', String(chordValue)],
      ['task', 'charge o-1 (40)', JSON.stringify(paidValue)],
      ['task', 'charge o-2 (5000)', `FAILURE ${refusal.name}: ${refusal.message}`],
      ['errback', 'linkError → alert (inline errback)', alertLog[0] ?? '(not called)'],
      ['link', 'charge ✗ → refund (EventBridge rule)', refund],
      ['signal', 'taskPostrun → metrics', tallyByTask(postrun)],
      ['bus', 'metrics subscriber (src/subscriber.ts)', `${subscriberRule?.delivered ?? 0} events, logged ${tally(subscriberLines)}`],
      [
        'schedule',
        'nightly-total: rate(1 day), tick(1 day)',
        nightly ? `add(${nightly.args.join(', ')}) = ${nightlyValue}` : '(did not fire)',
      ],
    );
    if (ticker) clearInterval(ticker);
    if (tty) process.stdout.write('\r\x1b[K');
    printTable(rows);
    const left = drained.deferred.length;
    // Plain words, each line under 80 columns: what ran, what is still waiting, what to try next.
    const lines = [
      '',
      `${postrun.length} tasks ran and published ${local.events.length} events in ${ms(performance.now() - started)}.`,
      left > 0
        ? `Still waiting: the chord's deadline check, due in ${Math.round(dueIn / 60_000)} min\n(it does nothing, now that the chord is done).`
        : 'Every queue is empty.',
      '',
      'Try next:',
      '  npx celeriac init my-app    a project of your own, with tests and a CDK app',
      '  cd examples/shop && npm run dev',
      '                              this shop, dashboard on http://127.0.0.1:8787',
      '  npm test                    the whole suite',
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    if (ticker) clearInterval(ticker);
    await local.stop();
    console.log = consoleLog;
  }
}

/** `✓3 ✗1`: outcomes counted by state. */
function tally(items: readonly { state: string }[]): string {
  const ok = items.filter((i) => i.state === 'SUCCESS').length;
  const failed = items.length - ok;
  return failed > 0 ? `✓${ok} ✗${failed}` : `✓${ok}`;
}

/** `add ✓7 · charge ✓1 ✗1`: outcomes by task, in order of first appearance. */
function tallyByTask(items: readonly { task: string; state: string }[]): string {
  const tasks = [...new Set(items.map((i) => i.task))];
  return tasks.map((t) => `${t} ${tally(items.filter((i) => i.task === t))}`).join(' · ');
}

/** Task ids are UUIDs; their first 8 hex digits are enough to tell them apart here. */
const shortIds = (s: string): string => s.replace(/\b([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, '$1');

function printTable(rows: readonly [string, string, string][]): void {
  const k = Math.max(...rows.map((r) => r[0].length));
  const w = Math.max(...rows.map((r) => r[1].length));
  const room = width - k - w - 8;
  if (room < 40) {
    // Narrow terminal: each result under its row instead of beside it.
    process.stdout.write('\n');
    for (const [kind, what, result] of rows) {
      process.stdout.write(` ${kind.padEnd(k)}  ${what}\n`);
      for (const part of wrap(shortIds(result), width - k - 6)) process.stdout.write(` ${''.padEnd(k)}  → ${part}\n`);
    }
    return;
  }
  process.stdout.write(`\n ${''.padEnd(k)}  ${'what'.padEnd(w)} │ result\n ${'─'.repeat(k + w + 3)}┼${'─'.repeat(room + 1)}\n`);
  for (const [kind, what, result] of rows) {
    wrap(shortIds(result), room).forEach((part, i) => {
      process.stdout.write(i === 0 ? ` ${kind.padEnd(k)}  ${what.padEnd(w)} │ ${part}\n` : ` ${''.padEnd(k + w + 2)} │   ${part}\n`);
    });
  }
}

/** Splits text into lines of at most `room` characters, at spaces where it can. */
function wrap(text: string, room: number): string[] {
  const lines: string[] = [];
  let rest = text;
  while (rest.length > room) {
    const cut = rest.lastIndexOf(' ', room);
    const at = cut > room / 2 ? cut : room;
    lines.push(rest.slice(0, at));
    rest = rest.slice(at).trimStart();
    room -= 2; // continuation lines are indented
  }
  lines.push(rest);
  return lines;
}

function ms(n: number): string {
  return n < 1_000 ? `${Math.round(n)} ms` : `${(n / 1_000).toFixed(1)} s`;
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (e: unknown) => {
    if (ticker) clearInterval(ticker);
    console.error(`\ndemo failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exitCode = 1;
  },
);

/**
 * Fan-in benchmarks (canvas issue):
 *  1. a chord of N header tasks vs a plain group of N tasks, memory mode, wall time from first
 *     send to result ready (15 back-to-back pairs after 3 warm-up pairs; median of the pairs' ratios);
 *  2. first-message size and DynamoDB bytes for chains of 1…9 chords (each chord: 3 header tasks).
 *
 *   npm run bench:fanin            (N=10000 by default; BENCH_QUICK=1: N=1000, 3 pairs, 1 warm-up)
 *
 * Goal: bench/goals.ts (faninChordVsGroup).
 */
import { memoryBackend } from '../lib/adapters/memory';
import { createApp } from '../lib/app';
import { chain, chord, group } from '../lib/canvas/builders';
import type { AnySignature } from '../lib/canvas/signature';
import type { ResultStore } from '../lib/ports';
import { driver, quiet } from './driver';
import { machine, QUICK, sized, waitForQuiet } from './env';
import { goalLine, printResult } from './goals';

const N = sized(process.env.N, 10_000, 1_000);

function setup() {
  const backend = memoryBackend({ pollIntervalMs: 1 });
  const app = createApp({ name: 'bench', backend, logger: quiet, events: false });
  const inc = app.task('inc', (x: number) => x + 1);
  let bodyRuns = 0;
  const total = app.task('total', (xs: number[]) => {
    bodyRuns++;
    return xs.reduce((a, b) => a + b, 0);
  });
  return { backend, app, inc, total, drain: driver(app, backend), bodyRuns: () => bodyRuns };
}

async function timeGroup(): Promise<number> {
  const s = setup();
  const t0 = performance.now();
  const g = await group(Array.from({ length: N }, (_, i) => s.inc.s(i))).applyAsync();
  await s.drain();
  const values = await g.get();
  const ms = performance.now() - t0;
  if (values.length !== N) throw new Error('group incomplete');
  return ms;
}

async function timeChord(): Promise<number> {
  const s = setup();
  const t0 = performance.now();
  const r = await chord(
    Array.from({ length: N }, (_, i) => s.inc.s(i)),
    s.total.s(),
  ).applyAsync();
  await s.drain();
  const v = await r.get();
  const ms = performance.now() - t0;
  if (v !== (N * (N + 1)) / 2) throw new Error(`chord result wrong: ${v}`);
  if (s.bodyRuns() !== 1) throw new Error(`chord body ran ${s.bodyRuns()} times`);
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const PAIRS = sized(process.env.PAIRS, 15, 3);

async function fanIn(): Promise<number> {
  // Warm-up: both paths compiled by the JIT and the heap grown before anything is timed.
  for (let i = 0; i < (QUICK ? 1 : 3); i++) {
    await timeGroup();
    await timeChord();
  }
  const g: number[] = [];
  const c: number[] = [];
  // Pairs run back to back, group then chord. This VM's speed drifts by ±30 % over seconds, so
  // the ratio is taken within each pair and the median of the pairs' ratios reported, with the
  // median times and the ratio of the medians beside it.
  for (let i = 0; i < PAIRS; i++) {
    g.push(await timeGroup());
    c.push(await timeChord());
  }
  const ratios = g.map((gi, i) => (c[i] as number) / gi);
  console.log(
    `fan-in, memory mode, N=${N}, ${PAIRS} pairs: group ${median(g).toFixed(0)} ms, chord ${median(c).toFixed(0)} ms (medians); ` +
      `chord/group ratio ${median(ratios).toFixed(2)} (median of pairs; ratio of medians ${(median(c) / median(g)).toFixed(2)}; ` +
      `pairs ${ratios.map((r) => r.toFixed(2)).join(' ')}); chord body ran once every time`,
  );
  console.log(goalLine('faninChordVsGroup', median(ratios)));
  return median(ratios);
}

/** Counts bytes written to the store (plan items + result records + join shards). */
function meter(store: ResultStore) {
  let bytes = 0;
  let writes = 0;
  const wrap = <K extends keyof ResultStore>(k: K, size: (...a: Parameters<ResultStore[K]>) => number) => {
    const orig = (store[k] as (...a: unknown[]) => unknown).bind(store);
    (store as unknown as Record<string, unknown>)[k] = (...a: Parameters<ResultStore[K]>) => {
      bytes += size(...a);
      writes++;
      return orig(...a);
    };
  };
  wrap('writeIfNotReady', (r) => JSON.stringify(r).length);
  wrap('writeProgress', (r) => JSON.stringify(r).length);
  wrap('putPlan', (p) => JSON.stringify(p).length);
  wrap('joinAdd', (j) => j.length + 16);
  return () => ({ bytes, writes });
}

async function depth(): Promise<void> {
  console.log('\nchain of k chords (3 header tasks each): first message and store bytes');
  console.log('| chords | first message (bytes) | plan stored (bytes) | store writes | store bytes written | result |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (let k = 1; k <= 9; k++) {
    const s = setup();
    const read = meter(s.backend.store);
    const sizes: number[] = [];
    const send = s.backend.broker.send.bind(s.backend.broker);
    s.backend.broker.send = async (msgs) => {
      for (const m of msgs) sizes.push(Buffer.byteLength(m.body));
      return send(msgs);
    };
    let planBytes = 0;
    const putPlan = s.backend.store.putPlan.bind(s.backend.store);
    s.backend.store.putPlan = async (p) => {
      planBytes += JSON.stringify(p).length;
      return putPlan(p);
    };
    const steps: AnySignature[] = [s.inc.s(0)];
    for (let i = 0; i < k; i++) steps.push(chord([s.inc.s(), s.inc.s(), s.inc.s()], s.total.s()));
    const r = await (chain as (...x: AnySignature[]) => AnySignature)(...steps).applyAsync();
    const first = sizes[0] as number;
    await s.drain();
    const v = await (r as { get(): Promise<number> }).get();
    const { bytes, writes } = read();
    console.log(`| ${k} | ${first} | ${planBytes} | ${writes} | ${bytes} | ${v} |`);
  }
}

await waitForQuiet();
console.log(machine());
const ratio = await fanIn();
await depth();
printResult('fanin', { faninChordVsGroup: ratio, n: N, pairs: PAIRS });

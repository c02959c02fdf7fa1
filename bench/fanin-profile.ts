/**
 * Where a chord's extra time goes: the workloads of bench/fanin.ts (a chord of N header tasks vs a
 * group of N tasks, memory mode), each profiled on its own with the V8 profiler (node:inspector),
 * then self time per function compared (chord − group).
 *
 *   node --import tsx bench/fanin-profile.ts        (N=10000, ROUNDS=3 of each)
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { memoryBackend } from '../lib/adapters/memory';
import { createApp } from '../lib/app';
import { chord, group } from '../lib/canvas/builders';
import { topSelfTime } from './cpuprofile';
import { driver, quiet } from './driver';

const N = Number(process.env.N ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const ROOT = resolve(import.meta.dirname, '..');

function setup() {
  const backend = memoryBackend({ pollIntervalMs: 1 });
  const app = createApp({ name: 'bench', backend, logger: quiet, events: false });
  const inc = app.task('inc', (x: number) => x + 1);
  const total = app.task('total', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
  return { app, inc, total, drain: driver(app, backend) };
}

async function runGroup(): Promise<number> {
  const s = setup();
  const t0 = performance.now();
  const g = await group(Array.from({ length: N }, (_, i) => s.inc.s(i))).applyAsync();
  await s.drain();
  await g.get();
  return performance.now() - t0;
}

async function runChord(): Promise<number> {
  const s = setup();
  const t0 = performance.now();
  const r = await chord(
    Array.from({ length: N }, (_, i) => s.inc.s(i)),
    s.total.s(),
  ).applyAsync();
  await s.drain();
  await r.get();
  return performance.now() - t0;
}

const session = new Session();
session.connect();
await session.post('Profiler.enable');
await session.post('Profiler.setSamplingInterval', { interval: 100 });

async function profiled(name: string, fn: () => Promise<number>): Promise<{ file: string; ms: number[] }> {
  await fn(); // warm-up, not profiled
  const ms: number[] = [];
  await session.post('Profiler.start');
  for (let i = 0; i < ROUNDS; i++) ms.push(await fn());
  const { profile } = await session.post('Profiler.stop');
  const file = join(tmpdir(), `celeriac-fanin-${name}-${process.pid}.cpuprofile`);
  writeFileSync(file, JSON.stringify(profile));
  return { file, ms };
}

const g = await profiled('group', runGroup);
const c = await profiled('chord', runChord);
const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
console.log(`N=${N}, ${ROUNDS} rounds each under the profiler: group ${fmt(g.ms)} ms; chord ${fmt(c.ms)} ms`);
const gp = topSelfTime(g.file, ROOT, 10_000);
const cp = topSelfTime(c.file, ROOT, 10_000);
console.log(`sampled: group ${gp.total.toFixed(0)} ms, chord ${cp.total.toFixed(0)} ms, difference ${(cp.total - gp.total).toFixed(0)} ms`);
const key = (r: { fn: string; where: string }) => `${r.fn} ${r.where}`;
const gm = new Map(gp.rows.map((r) => [key(r), r.ms]));
const diff = cp.rows
  .map((r) => ({ k: key(r), chord: r.ms, group: gm.get(key(r)) ?? 0 }))
  .map((r) => ({ ...r, d: r.chord - r.group }))
  .sort((a, b) => b.d - a.d)
  .slice(0, 25);
console.log('\n| chord − group (ms) | chord (ms) | group (ms) | function |\n|---:|---:|---:|---|');
for (const r of diff) console.log(`| ${r.d.toFixed(0)} | ${r.chord.toFixed(0)} | ${r.group.toFixed(0)} | ${r.k} |`);
session.disconnect();

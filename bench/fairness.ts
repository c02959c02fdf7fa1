/**
 * Per-tenant fairness (README, "Fairness"): a noisy tenant sends NOISY calls, then a quiet tenant
 * sends QUIET; how long the quiet tenant's calls wait for their bodies to start, with and without
 * fairness keys, on local `memory` mode (whose queues deliver fairly across message groups, as
 * SQS fair queues do) and `emulated` mode (whose SQS emulator, fauxqs, takes the group id but
 * delivers in arrival order).
 *
 *   npm run bench:fairness              NOISY=1000 QUIET=10 WORK_MS=2 MODES=memory,emulated
 *
 * Prints, per mode and with/without keys: the quiet calls' wait (send → body start) p50 and max,
 * and how many noisy bodies started after the quiet calls were sent and before the last quiet one.
 */
import { createApp } from '../lib/app';
import { type LocalMode, startLocal } from '../lib/local';
import { machine, median, waitForQuiet } from './env';

const NOISY = Number(process.env.NOISY ?? 1_000);
const QUIET = Number(process.env.QUIET ?? 10);
const WORK_MS = Number(process.env.WORK_MS ?? 2);
const MODES = (process.env.MODES ?? 'memory,emulated').split(',').map((m) => m.trim()) as LocalMode[];

interface Run {
  readonly p50: number;
  readonly max: number;
  /** Noisy bodies that started after the quiet calls were sent and before the last quiet body. */
  readonly ahead: number;
  readonly totalMs: number;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

async function run(mode: LocalMode, keyed: boolean): Promise<Run> {
  const app = createApp({ name: `bench-fair-${keyed ? 'k' : 'n'}`, logger: silent });
  const starts: { tenant: string; at: number; sentAt: number }[] = [];
  const work = app.task('work', async (tenant: string, sentAt: number) => {
    starts.push({ tenant, at: Date.now(), sentAt });
    await new Promise((r) => setTimeout(r, WORK_MS));
  });
  const local = await startLocal(app, { mode, logger: silent });
  try {
    const call = (tenant: string) => work.applyAsync([tenant, Date.now()], keyed ? { fairnessKey: tenant } : {});
    const t0 = Date.now();
    await Promise.all(Array.from({ length: NOISY }, () => call('noisy')));
    const before = starts.length;
    await Promise.all(Array.from({ length: QUIET }, () => call('quiet')));
    await local.drain({ timeoutMs: 600_000 });
    const after = starts.slice(before);
    const quiet = after.filter((s) => s.tenant === 'quiet');
    const waits = quiet.map((s) => s.at - s.sentAt).sort((a, b) => a - b);
    const last = after.findLastIndex((s) => s.tenant === 'quiet');
    return {
      p50: median(waits),
      max: waits[waits.length - 1] ?? Number.NaN,
      ahead: after.slice(0, last).filter((s) => s.tenant === 'noisy').length,
      totalMs: Date.now() - t0,
    };
  } finally {
    await local.stop();
  }
}

async function main(): Promise<void> {
  await waitForQuiet();
  console.log(machine());
  console.log(`noisy tenant ${NOISY} calls, then quiet tenant ${QUIET} calls; body ${WORK_MS} ms; local defaults (batch 10, 2 pollers)`);
  console.log('| mode | fairness keys | quiet wait p50 | quiet wait max | noisy bodies started ahead of the last quiet one | run |');
  console.log('|---|---|---|---|---|---|');
  for (const mode of MODES) {
    for (const keyed of [false, true]) {
      const r = await run(mode, keyed);
      console.log(
        `| ${mode} | ${keyed ? 'yes' : 'no'} | ${r.p50.toFixed(0)} ms | ${r.max.toFixed(0)} ms | ${r.ahead} | ${(r.totalMs / 1000).toFixed(1)} s |`,
      );
    }
  }
}

await main();

/**
 * Shared bench helpers: machine description, load-average gate, Debian packages, loopback ports,
 * child processes stopped by PID, medians, the quick (dry-run) switch.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, freemem, loadavg, totalmem } from 'node:os';

/**
 * BENCH_QUICK=1: every bench runs with small sizes and few runs — a dry run that checks the benches
 * and `bench:report` end to end in minutes; its figures are not results.
 */
export const QUICK = process.env.BENCH_QUICK === '1';

/** A size or run count: the env knob if set, else the full or the quick default. */
export const sized = (knob: string | undefined, full: number, quick: number): number =>
  knob !== undefined ? Number(knob) : QUICK ? quick : full;

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export const fmtLoad = (): string =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');

/** One line describing the machine and its load, for RESULTS.md. */
export function machine(): string {
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const model = cpus()[0]?.model ?? 'unknown';
  const gib = (n: number) => (n / 2 ** 30).toFixed(1);
  let commit = 'unknown commit';
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib', 'examples/shop/src'], { encoding: 'utf8' }).trim() !== '';
    commit = `commit ${head}${dirty ? ' + uncommitted lib/ changes' : ''}`;
  } catch {
    // not a git checkout
  }
  return `${new Date().toISOString()} · ${commit} · nproc ${nproc} · ${model} · ${gib(totalmem())} GiB RAM (${gib(freemem())} free) · node ${process.version} · load ${fmtLoad()}`;
}

function cpuTimes(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] as string;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Fraction of all CPUs busy over the next `ms` (from /proc/stat; 0…1). */
export async function cpuBusy(ms = 2_000): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  return b.total === a.total ? 0 : (b.busy - a.busy) / (b.total - a.total);
}

/**
 * Waits until the machine is quiet — 1-minute load average below `threshold` AND the CPUs ≥ 90 %
 * idle over a 2-second sample (the load average lags: another engineer's test run can start a
 * second before ours) — for at most BENCH_LOAD_WAIT_S seconds (default 600; 0 = do not wait).
 * Prints what it did; returns the 1-minute load average it started at.
 */
export async function waitForQuiet(threshold = 1.0): Promise<number> {
  const maxS = Number(process.env.BENCH_LOAD_WAIT_S ?? 600);
  const started = Date.now();
  let said = false;
  let busy = 0;
  for (;;) {
    const l1 = loadavg()[0] as number;
    busy = maxS > 0 ? await cpuBusy() : 0;
    if ((l1 < threshold && busy < 0.1) || Date.now() - started >= maxS * 1000) break;
    if (!said) {
      console.log(`load average ${fmtLoad()}, CPUs ${(busy * 100).toFixed(0)} % busy: waiting up to ${maxS} s for a quiet machine…`);
      said = true;
    }
    await new Promise((r) => setTimeout(r, 3_000));
  }
  const l1 = loadavg()[0] as number;
  if (l1 >= threshold || busy >= 0.1) {
    console.log(`WARNING: measuring at load average ${fmtLoad()}, CPUs ${(busy * 100).toFixed(0)} % busy; figures are pessimistic`);
  }
  return l1;
}

/** Between runs: waits (at most `maxS`) until the CPUs are ≥ 90 % idle, so one run does not measure someone else's job. */
export async function settle(maxS = 120): Promise<number> {
  if (process.env.BENCH_SETTLE === '0') return 0; // profiled child runs: no idle gaps in the profile
  const started = Date.now();
  let busy = await cpuBusy(1_000);
  while (busy >= 0.1 && Date.now() - started < maxS * 1000) busy = await cpuBusy(2_000);
  return busy;
}

/** Debian's python3 (python3-celery installs into its dist-packages, not into a pyenv or venv). */
export const PYTHON = '/usr/bin/python3';

function pythonHas(mod: string): boolean {
  try {
    execFileSync(PYTHON, ['-c', `import ${mod}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Installs the Debian packages a bench needs when missing (root on Debian: `apt-get update` then
 * `apt-get install -y`). `need` lists [package, is-it-there check].
 */
export function ensureDebian(need: readonly (readonly [pkg: string, present: () => boolean])[]): void {
  const missing = need.filter(([, present]) => !present()).map(([pkg]) => pkg);
  if (missing.length === 0) return;
  console.log(`installing Debian packages: ${missing.join(' ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
  const still = need.filter(([, present]) => !present()).map(([pkg]) => pkg);
  if (still.length > 0) throw new Error(`still missing after apt-get install: ${still.join(' ')}`);
}

export const debian = {
  celery: ['python3-celery', () => existsSync(PYTHON) && pythonHas('celery')] as const,
  pyredis: ['python3-redis', () => existsSync(PYTHON) && pythonHas('redis')] as const,
  redis: ['redis-server', () => existsSync('/usr/bin/redis-server')] as const,
};

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Runs a command to completion; resolves with stdout, rejects with stderr on a non-zero exit. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${err.slice(-4000)}`)),
    );
  });
}

/** Stops a child this bench started, by its PID (SIGTERM, then SIGKILL after `graceMs`). */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
  }, graceMs);
  await exited;
  clearTimeout(timer);
}

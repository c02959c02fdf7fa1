/**
 * Runs the real `celeriac` CLI (bin/celeriac.mjs) as child processes, and a `celeriac dev` of a
 * fixture app in a temporary directory (so its `.celeriac/dev.json` is the test's own).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'celeriac.mjs');
export const FIXTURE_APP = join(ROOT, 'test', 'cli', 'fixtures', 'app.ts');
export const NO_APP = join(ROOT, 'test', 'cli', 'fixtures', 'no-app.ts');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Env for children: no stack config leaking in from the machine running the tests. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CELERIAC_') && !k.startsWith('AWS_')) env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

export function tempDir(prefix = 'celeriac-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Runs `celeriac <args>` in `cwd` and resolves when it exits (killed after `timeoutMs`). */
export function cli(args: readonly string[], o: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult> {
  return exec(process.execPath, [BIN, ...args], o);
}

/**
 * Runs `file <args>` in `cwd` and resolves when it exits (killed after `timeoutMs`, default 20 s).
 * With `group`, it runs in a process group of its own and the timeout ends the whole group (what
 * `npx` starts lives on otherwise).
 */
export function exec(
  file: string,
  args: readonly string[],
  o: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; group?: boolean },
): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: o.cwd,
      env: o.env ?? cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: o.group === true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => (o.group ? killGroup(child) : child.kill('SIGKILL')), o.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Ends a command and everything it started (npx → node): it runs in its own process group. */
export function killGroup(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null) {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
}

/** A child process with its output so far. */
export interface Running {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves when `pattern` shows up in stdout or stderr (rejects after `timeoutMs` or on exit). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code. */
  exited(): Promise<number | null>;
}

export function start(args: readonly string[], o: { cwd: string; env?: NodeJS.ProcessEnv }): Running {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: o.cwd, env: o.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let errOut = '';
  const waiters = new Set<() => void>();
  const poke = () => {
    for (const w of [...waiters]) w();
  };
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    poke();
  });
  child.stderr?.on('data', (d: Buffer) => {
    errOut += d.toString();
    poke();
  });
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  let done = false;
  void exit.then(() => {
    done = true;
    poke();
  });
  return {
    child,
    stdout: () => out,
    stderr: () => errOut,
    exited: () => exit,
    waitFor: (pattern, timeoutMs = 15_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (pattern.test(out) || pattern.test(errOut)) {
            cleanup();
            resolve();
          } else if (done) {
            cleanup();
            reject(new Error(`process exited before ${pattern}:\nstdout: ${out}\nstderr: ${errOut}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}:\nstdout: ${out}\nstderr: ${errOut}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
  };
}

/** A `celeriac dev` run by a test. */
export interface DevRun {
  readonly cwd: string;
  readonly url: string;
  readonly port: number;
  readonly proc: Running;
  /** SIGINT, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `celeriac dev <app>` on a free port in a fresh temporary directory. */
export async function startDev(o: { app?: string; mode?: 'memory' | 'emulated' } = {}): Promise<DevRun> {
  const cwd = tempDir();
  const proc = start(['dev', o.app ?? FIXTURE_APP, '--mode', o.mode ?? 'memory', '--port', '0'], { cwd });
  await proc.waitFor(/Ctrl-C to stop/, 30_000);
  const statePath = join(cwd, '.celeriac', 'dev.json');
  if (!existsSync(statePath)) throw new Error(`dev started but wrote no ${statePath}`);
  const { url } = JSON.parse(readFileSync(statePath, 'utf8')) as { url: string };
  return {
    cwd,
    url,
    port: Number(new URL(url).port),
    proc,
    async stop() {
      if (proc.child.exitCode === null) proc.child.kill('SIGINT');
      const code = await proc.exited();
      return code;
    },
  };
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 10_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A fresh directory under the repository's test-artifacts/ (ignored by git and lint): files
 * written there resolve packages (vitest, aws-cdk-lib, tsx) from this checkout's node_modules.
 */
export function repoScratchDir(prefix: string): string {
  const base = join(ROOT, 'test-artifacts');
  mkdirSync(base, { recursive: true });
  return mkdtempSync(join(base, prefix));
}

/** `tsc -p tsconfig.json` (the repository's TypeScript) in `cwd`. */
export function typecheck(cwd: string): Promise<CliResult> {
  return exec(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], { cwd, timeoutMs: 120_000 });
}

/** The directory of the bundled asset (index.mjs) of the function with `description` in a synthesized stack. */
export function bundledAssetDir(cdkOut: string, stackName: string, description: string): string {
  const template = JSON.parse(readFileSync(join(cdkOut, `${stackName}.template.json`), 'utf8')) as {
    Resources: Record<string, { Type: string; Properties: { Description?: string; Code?: { S3Key?: string } } }>;
  };
  const assets = JSON.parse(readFileSync(join(cdkOut, `${stackName}.assets.json`), 'utf8')) as {
    files: Record<string, { source: { path: string } }>;
  };
  const fn = Object.values(template.Resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description === description);
  const hash = (fn?.Properties.Code?.S3Key ?? '').replace(/\.zip$/, '');
  const dir = assets.files[hash]?.source.path;
  if (dir === undefined) throw new Error(`${stackName}: no bundled asset for the function "${description}"`);
  return join(cdkOut, dir);
}

/** The bundled code (index.mjs) of the function with `description` in a synthesized stack. */
export function bundledCode(cdkOut: string, stackName: string, description: string): string {
  return readFileSync(join(bundledAssetDir(cdkOut, stackName, description), 'index.mjs'), 'utf8');
}

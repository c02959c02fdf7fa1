/**
 * A scratch project outside the repository (under the OS temp dir), into which the packed
 * tarball is installed the way a user installs it: `npm install ./celeriac-x.y.z.tgz` plus the
 * peers from the registry. Commands run with this Node (the one running the test) first on PATH.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, killGroup } from '../cli/helpers';

export { killGroup };

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CONSUMER_FIXTURE = fileURLToPath(new URL('./consumer', import.meta.url));

/** What a TypeScript CDK user installs next to celeriac (the peers, their CLI, the bundler). */
export const PEERS = [
  'aws-cdk-lib@^2.276.0',
  'constructs@^10.8.1',
  'aws-cdk@^2.1148',
  'esbuild@^0.28',
  'typescript@~5.9',
  '@types/node@^22',
];

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Env of every command: no stack config or npm script context leaking in from the test's own run. */
export function commandEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('CELERIAC_') || k.startsWith('AWS_') || k.startsWith('npm_') || k === 'NODE_OPTIONS' || k === 'INIT_CWD') continue;
    env[k] = v;
  }
  return { ...env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, NO_COLOR: '1', CI: 'true', ...extra };
}

/** Runs a command to its end (its process group killed after `timeoutMs`); never throws on a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  o: { cwd: string; timeoutMs?: number; env?: NodeJS.ProcessEnv },
): Promise<Run> {
  return exec(command, args, { cwd: o.cwd, env: o.env ?? commandEnv(), timeoutMs: o.timeoutMs ?? 170_000, group: true });
}

/** Runs a command that must succeed; the error carries its output. */
export async function ok(command: string, args: readonly string[], o: { cwd: string; timeoutMs?: number }): Promise<Run> {
  const r = await run(command, args, o);
  if (r.code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** A background command (a `celeriac dev`), with its output so far. */
export interface Background {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the output once `pattern` appears in it; rejects when the command ends first or after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  stop(): Promise<void>;
}

export function background(command: string, args: readonly string[], o: { cwd: string }): Background {
  const child = spawn(command, args, { cwd: o.cwd, env: commandEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer): void => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return {
    child,
    output: () => out,
    waitFor: (pattern, timeoutMs = 60_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(out)) done(() => resolve(out));
        };
        const timer = setTimeout(() => done(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${out}`))), timeoutMs);
        const done = (f: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        void exited.then(() => done(() => (pattern.test(out) ? resolve(out) : reject(new Error(`ended before ${pattern}:\n${out}`)))));
        check();
      }),
    stop: async () => {
      killGroup(child);
      await exited;
    },
  };
}

/** The tarball packed from the repository's current build, in `dir`. */
export interface Packed {
  readonly tarball: string;
  /** `npm pack --json`'s report: sizes in bytes and the files. */
  readonly size: number;
  readonly unpackedSize: number;
  readonly entryCount: number;
  readonly files: readonly string[];
}

/** Builds dist/ and packs it (`npm pack`, without the prepack build it would repeat) into `dir`. */
export async function buildAndPack(dir: string): Promise<Packed> {
  await ok('npm', ['run', 'build'], { cwd: ROOT, timeoutMs: 400_000 });
  const r = await ok('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT });
  const [report] = JSON.parse(r.stdout) as {
    filename: string;
    size: number;
    unpackedSize: number;
    entryCount: number;
    files: { path: string }[];
  }[];
  if (!report) throw new Error(`npm pack printed no report: ${r.stdout}`);
  return {
    tarball: join(dir, report.filename),
    size: report.size,
    unpackedSize: report.unpackedSize,
    entryCount: report.entryCount,
    files: report.files.map((f) => f.path),
  };
}

/**
 * A new project directory under `parent` with a package.json, as `npm init` would leave it, and
 * the files of `template` (a directory) when given.
 */
export function newProject(parent: string, name: string, o: { template?: string; pkg?: Record<string, unknown> } = {}): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  if (o.template) cpSync(o.template, dir, { recursive: true });
  const pkg = o.pkg ?? { type: 'module' };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name, version: '0.0.0', private: true, ...pkg }, null, 2)}\n`);
  return dir;
}

/** Installs the tarball and `extra` packages into the project `dir` from the registry. */
export async function installInto(dir: string, tarball: string, extra: readonly string[] = PEERS): Promise<void> {
  await ok('npm', ['install', '--no-audit', '--no-fund', tarball, ...extra], { cwd: dir, timeoutMs: 400_000 });
}

export function scratchDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-package-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Whether Node `version` (x.y.z) is older than `min` (x.y). */
export function olderThan(version: string, min: string): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  const [c = 0, d = 0] = min.split('.').map(Number);
  return a < c || (a === c && b < d);
}

/**
 * A Node binary older than `min`, to check what a user on an unsupported Node sees: the first on
 * PATH (a system Node), else the `node@20` npm package (the Node binary as an npm package).
 */
export async function olderNode(min: string, cwd: string): Promise<{ path: string; version: string }> {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(d, 'node');
    try {
      accessSync(candidate, constants.X_OK);
    } catch {
      continue;
    }
    const r = await run(candidate, ['-p', 'process.versions.node'], { cwd, timeoutMs: 10_000 });
    const version = r.stdout.trim();
    if (r.code === 0 && olderThan(version, min)) return { path: candidate, version };
  }
  const r = await ok('npm', ['exec', '--yes', '--package=node@20', '--', 'node', '-p', 'process.execPath + " " + process.versions.node'], {
    cwd,
    timeoutMs: 300_000,
  });
  const [path = '', version = ''] = r.stdout.trim().split(' ');
  return { path, version };
}

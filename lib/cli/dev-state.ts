/**
 * How other CLI processes find a running `celeriac dev`: it writes its dashboard address to
 * `.celeriac/dev.json` in the directory it runs in, and removes the file when it stops.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface DevState {
  /** Dashboard / API base URL, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly pid: number;
  readonly app: string;
  readonly mode: string;
  readonly appModule: string;
  /** Epoch ms. */
  readonly startedAt: number;
}

export const DEV_STATE_FILE = join('.celeriac', 'dev.json');

export function devStatePath(cwd: string = process.cwd()): string {
  return join(cwd, DEV_STATE_FILE);
}

/** The recorded dev server, or undefined when there is none (or the file is unreadable). */
export function readDevState(cwd?: string): DevState | undefined {
  try {
    const parsed = JSON.parse(readFileSync(devStatePath(cwd), 'utf8')) as Partial<DevState>;
    if (typeof parsed.url !== 'string' || typeof parsed.pid !== 'number') return undefined;
    return parsed as DevState;
  } catch {
    return undefined;
  }
}

/** Writes the state atomically (write + rename): a reader never sees half a file. */
export function writeDevState(state: DevState, cwd?: string): void {
  const path = devStatePath(cwd);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}

/** Removes the state file if it is still ours (another `dev` may have replaced it). */
export function clearDevState(pid: number, cwd?: string): void {
  if (readDevState(cwd)?.pid === pid) rmSync(devStatePath(cwd), { force: true });
}

/** True when a process with this pid exists (signal 0 checks without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

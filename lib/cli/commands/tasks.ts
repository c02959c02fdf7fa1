/** `celeriac call` and `celeriac result`. */

import { type RequestOptions, requestCallOptions } from '../../canvas/json';
import { parseTaskArgs } from '../args';
import { CliError, ExitCodes, notFound, usage } from '../errors';
import { formatDuration, shortId } from '../format';
import { err, out, outJson, sleep } from '../io';
import { spinner } from '../spinner';
import type { Target, TaskView } from '../target';

export interface CallOptions extends RequestOptions {
  readonly wait?: boolean;
  /** Seconds `--wait` waits at most. */
  readonly timeout?: number;
  readonly json?: boolean;
}

/** Sends a call; with `wait`, waits for and prints its outcome. Returns the exit code. */
export async function callCommand(target: Target, task: string, rawArgs: readonly string[], o: CallOptions): Promise<number> {
  const args = parseTaskArgs(rawArgs);
  const sent = await target.call({ task, args, ...requestCallOptions(o) });
  if (!o.wait) {
    if (o.json) outJson({ id: sent.id, task: sent.task, state: 'PENDING' });
    else out(sent.id);
    return ExitCodes.OK;
  }
  const view = await waitFor(target, sent.id, `${task}[${shortId(sent.id)}]`, o);
  return printOutcome(view, o.json === true);
}

/**
 * `celeriac apply '<canvas JSON>'` (or `@file.json`): applies a chain, group or chord in its JSON
 * form. Prints the handle's id (a group: its member ids, one a line); with `wait`, waits for the
 * outcome: the result (a group: the ordered list of results) on stdout, exit 1 if any failed.
 */
export async function applyCommand(target: Target, raw: string, o: CallOptions, cwd: string): Promise<number> {
  const canvas = await readCanvasArg(raw, cwd);
  const applied = await target.apply({ canvas, ...requestCallOptions(o) });
  const ids = applied.members ?? [applied.id];
  if (!o.wait) {
    if (o.json) outJson({ ...applied, state: 'PENDING' });
    else for (const id of ids) out(id);
    return ExitCodes.OK;
  }
  if (applied.members === undefined)
    return printOutcome(await waitFor(target, applied.id, `${applied.kind}[${shortId(applied.id)}]`, o), o.json === true);
  const views: TaskView[] = [];
  for (const [i, id] of ids.entries())
    views.push(await waitFor(target, id, `group[${shortId(applied.id)}] member ${i + 1} of ${ids.length}`, o));
  const failed = views.filter((w) => w.state !== 'SUCCESS');
  if (o.json) outJson({ id: applied.id, kind: applied.kind, state: failed.length === 0 ? 'SUCCESS' : 'FAILURE', members: views });
  else {
    for (const w of failed) err(outcomeLine(w));
    if (failed.length === 0) {
      err(`group[${applied.id}] SUCCESS: ${views.length} member(s)`);
      out(JSON.stringify(views.map((w) => w.result ?? null)));
    }
  }
  return failed.length === 0 ? ExitCodes.OK : ExitCodes.TASK_FAILED;
}

async function readCanvasArg(raw: string, cwd: string): Promise<unknown> {
  let text = raw;
  if (raw.startsWith('@')) {
    const { readFile } = await import('node:fs/promises');
    const { resolve } = await import('node:path');
    try {
      text = await readFile(resolve(cwd, raw.slice(1)), 'utf8');
    } catch (e) {
      throw usage(`cannot read the canvas file ${raw.slice(1)}: ${(e as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw usage(`the canvas is not JSON (${(e as Error).message}); see \`celeriac apply --help\` for its form`);
  }
}

export interface ResultOptions {
  readonly wait?: boolean;
  readonly timeout?: number;
  readonly json?: boolean;
}

/** Prints a task's state or outcome. Returns the exit code. */
export async function resultCommand(target: Target, given: string, o: ResultOptions): Promise<number> {
  const id = await resolveId(target, given);
  if (o.wait) return printOutcome(await waitFor(target, id, shortId(id), o), o.json === true);
  const view = await target.result(id);
  if (view === undefined) {
    throw notFound(`no task ${id}: nothing is stored under this id (it may not have run yet: add --wait to wait for it)`);
  }
  if (view.ready) return printOutcome(view, o.json === true);
  if (o.json) outJson(view);
  else out(view.state);
  return ExitCodes.OK;
}

/** A short form as `inspect` and `events` print it: a hex prefix, maybe `…`, maybe a `.link.x` suffix. */
const SHORT_ID = /^([0-9a-f]{4,35})…?(\..+)?$/i;

/**
 * Turns an id prefix (`3f2a9c1e`, `3f2a9c1e…`, `3f2a9c1e….link.notify`) into the one recent task
 * id it names. A full id, or anything that is not a prefix form, is returned as given.
 *
 * @throws CliError usage when the prefix names several recent tasks, or the target keeps no task
 *   list (a deployed stack); not found when it names none.
 */
export async function resolveId(target: Target, given: string): Promise<string> {
  const m = SHORT_ID.exec(given);
  if (m === null || (given.length >= 36 && !given.includes('…'))) return given;
  if (!given.includes('…') && (await target.result(given)) !== undefined) return given;
  const prefix = (m[1] as string).toLowerCase();
  const suffix = m[2] ?? '';
  const rows = await target.recentTasks(1_000);
  if (rows === undefined) {
    throw usage(`${given} looks like an id prefix, and ${target.label} keeps no task list to look it up in; pass the full id`);
  }
  let ids = [...new Set(rows.map((r) => r.id))].filter((id) => id.toLowerCase().startsWith(prefix) && id.endsWith(suffix));
  // Without a suffix, `3f2a9c1e` means the task itself rather than its `.link.x` callbacks.
  const plain = ids.filter((id) => !id.slice(prefix.length).includes('.'));
  if (suffix === '' && plain.length === 1) ids = plain;
  if (ids.length === 1) return ids[0] as string;
  if (ids.length === 0) throw notFound(`no recent task id starts with ${given}; \`celeriac inspect\` lists recent tasks`);
  throw usage(
    `${given} names ${ids.length} recent tasks (${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', …' : ''}); give more of the id`,
  );
}

/** Polls until the task is ready, with a spinner on a terminal. */
async function waitFor(target: Target, id: string, label: string, o: { timeout?: number; json?: boolean }): Promise<TaskView> {
  const deadline = o.timeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + o.timeout * 1_000;
  const spin = spinner(`waiting for ${label}`, o.json !== true);
  try {
    for (;;) {
      const view = await target.result(id);
      if (view?.ready) return view;
      spin.update(`waiting for ${label} ${view?.state ?? 'PENDING'}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new CliError(
          ExitCodes.TIMEOUT,
          `timed out after ${o.timeout} s waiting for ${label} (still ${view?.state ?? 'PENDING'}); it goes on: check later with \`celeriac result ${id}\``,
        );
      }
      await sleep(Math.min(target.pollMs, left));
    }
  } finally {
    spin.stop();
  }
}

/** Prints a ready task: result on stdout, a status line on stderr. Exit 1 unless SUCCESS. */
function printOutcome(view: TaskView, json: boolean): number {
  const ok = view.state === 'SUCCESS';
  const name = `${view.task ?? 'task'}[${view.id}]`;
  if (json) {
    outJson(view);
  } else if (ok) {
    err(`${name} SUCCESS${view.durationMs === undefined ? '' : ` in ${formatDuration(view.durationMs)}`}`);
    out(view.result === undefined ? 'null' : typeof view.result === 'string' ? view.result : JSON.stringify(view.result));
  } else {
    err(outcomeLine(view));
  }
  return ok ? ExitCodes.OK : ExitCodes.TASK_FAILED;
}

/** `add[<id>] FAILURE: TypeError: … (CODE)` */
function outcomeLine(view: TaskView): string {
  const e = view.error;
  return `${view.task ?? 'task'}[${view.id}] ${view.state}${e ? `: ${e.type}: ${e.message}${e.code ? ` (${e.code})` : ''}` : ''}`;
}

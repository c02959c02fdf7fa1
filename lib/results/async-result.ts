import { CeleriacError, ErrorCodes, TaskRevokedError, TimeoutError } from '../errors';
import type { Backend, ResultRecord } from '../ports';
import { deserializeError, type SerializedError } from '../protocol/failure';
import { ID_RULE, isId } from '../protocol/ids';
import type { Json } from '../protocol/json';
import { idSegment, mapBounded, resolveValues } from '../protocol/payload';
import { isReady, PROPAGATE_STATES, States, type TaskState } from './states';

/** What a result handle needs from its app. */
export interface ResultHost {
  backend(): Promise<Backend>;
  /** Revoke by id (stores REVOKED unless already ready). */
  revoke(id: string): Promise<void>;
  /**
   * True while a task body runs in this process (`get()` refuses to wait there). The host answers,
   * so that results need not know how tasks are run (results sit below the task layer).
   */
  insideTask(): boolean;
}

export interface GetOptions {
  /** Give up after this many ms with a TimeoutError (the task is unaffected). Default: wait forever. */
  readonly timeoutMs?: number;
  /** Poll interval in ms. Default: the backend's (memory 2 ms, AWS 200 ms). */
  readonly intervalMs?: number;
  /** Re-raise a stored failure (default true); false returns the error object instead. */
  readonly propagate?: boolean;
  /** First re-raise a failed ancestor's error (chain parents, chord header). Default true. */
  readonly followParents?: boolean;
  /** Allow waiting inside a task body (Celery's `disable_sync_subtasks=False`). */
  readonly allowInTask?: boolean;
}

/** Everything stored about a task (`info()`). */
export interface ResultInfo<T = unknown> {
  readonly id: string;
  readonly state: TaskState;
  readonly result?: T;
  readonly error?: Error;
  readonly serializedError?: SerializedError;
  readonly traceback?: string;
  readonly meta?: Json;
  readonly task?: string;
  readonly parentId?: string | null;
  readonly rootId?: string;
  readonly groupId?: string;
  readonly children: readonly string[];
  readonly retries?: number;
  readonly dateDone?: Date;
  readonly durationMs?: number;
  readonly args?: readonly Json[];
}

const DEFAULT_POLL_MS = 200;

/**
 * A handle on one task's result (Celery's `AsyncResult`). Reads are async and go to the store.
 *
 * @example
 * ```ts
 * const r = await add.delay(2, 3);
 * await r.state();                      // 'PENDING' … 'SUCCESS'
 * await r.get({ timeoutMs: 10_000 });   // 5
 * ```
 */
export class AsyncResult<T = unknown> {
  readonly id: string;
  /** The previous step (chain) or header (chord), local only, as in Celery. */
  readonly parent: AsyncResult<unknown> | GroupResult<readonly unknown[]> | undefined;
  /** True when the call asked for no result to be stored: `get()` resolves to undefined at once. */
  readonly ignored: boolean;
  readonly #host: ResultHost;

  constructor(host: ResultHost, id: string, parent?: AsyncResult<unknown> | GroupResult<readonly unknown[]>, ignored = false) {
    this.#host = host;
    this.id = id;
    this.parent = parent;
    this.ignored = ignored;
  }

  /** Reads the stored record (undefined = PENDING). */
  async record(): Promise<ResultRecord | undefined> {
    return (await this.#host.backend()).store.get(this.id);
  }

  async state(): Promise<TaskState> {
    return (await this.record())?.state ?? States.PENDING;
  }
  /** SUCCESS, FAILURE or REVOKED. */
  async ready(): Promise<boolean> {
    return isReady(await this.state());
  }
  async successful(): Promise<boolean> {
    return (await this.state()) === States.SUCCESS;
  }
  /** FAILURE only (REVOKED is not failed, as in Celery). */
  async failed(): Promise<boolean> {
    return (await this.state()) === States.FAILURE;
  }

  /** Result or error, traceback, parent, children, and the rest of the stored record. */
  async info(): Promise<ResultInfo<T>> {
    const backend = await this.#host.backend();
    const stored = await backend.store.get(this.id);
    if (!stored) return { id: this.id, state: States.PENDING, children: [] };
    const r = await resolveValues(backend.payloads, stored);
    return {
      id: r.id,
      state: r.state,
      ...(r.state === States.SUCCESS ? { result: r.result as T } : {}),
      ...(r.error ? { error: deserializeError(r.error), serializedError: r.error } : {}),
      ...(r.traceback ? { traceback: r.traceback } : {}),
      ...(r.meta !== undefined ? { meta: r.meta } : {}),
      ...(r.task ? { task: r.task } : {}),
      ...(r.parentId !== undefined ? { parentId: r.parentId } : {}),
      ...(r.rootId ? { rootId: r.rootId } : {}),
      ...(r.groupId ? { groupId: r.groupId } : {}),
      children: r.children ?? [],
      ...(r.retries !== undefined ? { retries: r.retries } : {}),
      ...(r.dateDone !== undefined ? { dateDone: new Date(r.dateDone) } : {}),
      ...(r.durationMs !== undefined ? { durationMs: r.durationMs } : {}),
      ...(r.args ? { args: r.args } : {}),
    };
  }

  /** Ids of what this task caused (next chain step, callbacks), from the stored record. */
  async children(): Promise<readonly string[]> {
    return (await this.record())?.children ?? [];
  }

  /**
   * Waits until the task is ready and returns its result; a stored failure is re-raised as the
   * remote error (keeping its `code` and class name). A failed ancestor raises first.
   */
  async get(options: GetOptions = {}): Promise<T> {
    if (this.ignored) return undefined as T;
    guardInTask(this.#host, options);
    const backend = await this.#host.backend();
    const interval = options.intervalMs ?? backend.pollIntervalMs ?? DEFAULT_POLL_MS;
    const propagate = options.propagate ?? true;
    const follow = (options.followParents ?? true) && propagate;
    const start = backend.clock.now();
    const lineage = follow && this.parent ? new Lineage(this.parent) : undefined;
    for (;;) {
      const r = await backend.store.get(this.id);
      // A SUCCESS proves every ancestor succeeded (a chain step or chord body runs only after
      // them): the ancestors are read only while this task is not done or when it failed.
      if (r?.state === States.SUCCESS) return outcome<T>(await resolveValues(backend.payloads, r), propagate);
      if (lineage) await lineage.throwIfFailed(backend);
      if (r && isReady(r.state)) return outcome<T>(await resolveValues(backend.payloads, r), propagate);
      if (options.timeoutMs !== undefined && backend.clock.now() - start >= options.timeoutMs) {
        throw new TimeoutError(`result ${this.id} was not ready after ${options.timeoutMs} ms (state ${r?.state ?? States.PENDING})`);
      }
      await backend.clock.sleep(interval);
    }
  }

  /** Raises the stored error if this task failed or was revoked; otherwise does nothing. */
  async maybeThrow(): Promise<void> {
    const backend = await this.#host.backend();
    const r = await backend.store.get(this.id);
    if (r && PROPAGATE_STATES.has(r.state)) await raise(backend, r);
  }

  /** Stops the task if it has not started yet: stores REVOKED; its worker discards it. */
  async revoke(): Promise<void> {
    await this.#host.revoke(this.id);
  }

  /**
   * Deletes the stored result (and the local parents'), with every large payload the task stored
   * (README, "Large payloads": its arguments, each attempt's, its result, its error's details) and
   * none another task stored; the state reads PENDING afterwards. Forgetting a task that has not
   * finished takes its large arguments from it: its next delivery fails with PAYLOAD_NOT_FOUND.
   * @throws CeleriacError INVALID_ARGS when the id is not a task id (empty, or in a namespace
   *   celeriac reserves for its own records).
   */
  async forget(): Promise<void> {
    // Only a task's record is the caller's to delete: an id outside the rule names nothing of
    // theirs (the join, errback and replacement records share the table, in reserved namespaces).
    if (!isId(this.id))
      throw new CeleriacError(ErrorCodes.INVALID_ARGS, `forget(): ${JSON.stringify(this.id)} is not a task id: ${ID_RULE}`);
    const backend = await this.#host.backend();
    // The task's folder, not the keys its record names: the record may point at a value another
    // task stored (a result passed through), and a crashed attempt's objects are named by no record.
    await backend.payloads?.deleteUnder(idSegment(this.id));
    await backend.store.delete(this.id);
    if (this.parent) await this.parent.forget();
  }

  toString(): string {
    return this.id;
  }
  toJSON(): string {
    return this.id;
  }
}

/**
 * A handle on a group's results, in member order (Celery's `GroupResult`).
 *
 * @example
 * ```ts
 * const g = await group(add.s(1, 1), add.s(2, 2)).applyAsync();
 * await g.get(); // [2, 4]
 * ```
 */
export class GroupResult<T extends readonly unknown[] = unknown[]> {
  readonly id: string;
  readonly results: readonly AsyncResult<unknown>[];
  readonly parent: AsyncResult<unknown> | GroupResult<readonly unknown[]> | undefined;
  readonly #host: ResultHost;

  constructor(
    host: ResultHost,
    id: string,
    results: readonly AsyncResult<unknown>[],
    parent?: AsyncResult<unknown> | GroupResult<readonly unknown[]>,
  ) {
    this.#host = host;
    this.id = id;
    this.results = results;
    this.parent = parent;
  }

  /** Member records in order (one batched read). */
  async records(): Promise<(ResultRecord | undefined)[]> {
    if (this.results.length === 0) return [];
    const backend = await this.#host.backend();
    return backend.store.getMany(this.results.map((r) => r.id));
  }

  async states(): Promise<TaskState[]> {
    return (await this.records()).map((r) => r?.state ?? States.PENDING);
  }
  /** All members ready. */
  async ready(): Promise<boolean> {
    return (await this.states()).every(isReady);
  }
  /** All members SUCCESS. */
  async successful(): Promise<boolean> {
    return (await this.states()).every((s) => s === States.SUCCESS);
  }
  /** Any member FAILURE. */
  async failed(): Promise<boolean> {
    return (await this.states()).some((s) => s === States.FAILURE);
  }
  /** Any member not ready. */
  async waiting(): Promise<boolean> {
    return !(await this.ready());
  }
  /** Number of members in SUCCESS. */
  async completedCount(): Promise<number> {
    return (await this.states()).filter((s) => s === States.SUCCESS).length;
  }

  /**
   * Waits for every member and returns their results in member order. With `propagate` (default)
   * the first failed member in order raises; without, errors stand in the list.
   */
  async get(options: GetOptions = {}): Promise<T> {
    guardInTask(this.#host, options);
    if (this.results.length === 0) return [] as unknown as T;
    const backend = await this.#host.backend();
    const interval = options.intervalMs ?? backend.pollIntervalMs ?? DEFAULT_POLL_MS;
    const propagate = options.propagate ?? true;
    const follow = (options.followParents ?? true) && propagate;
    const start = backend.clock.now();
    // A ready record never changes (SUCCESS is never overwritten): each poll reads only the
    // members still running, so waiting on a large group costs reads in proportion to what is left.
    const recs: (ResultRecord | undefined)[] = new Array(this.results.length).fill(undefined);
    const lineage = follow && this.parent ? new Lineage(this.parent) : undefined;
    for (;;) {
      if (lineage) await lineage.throwIfFailed(backend);
      const waiting: number[] = [];
      for (let i = 0; i < recs.length; i++) {
        const r = recs[i];
        if (!r || !isReady(r.state)) waiting.push(i);
      }
      const fresh = await backend.store.getMany(waiting.map((i) => (this.results[i] as AsyncResult<unknown>).id));
      waiting.forEach((i, k) => {
        recs[i] = fresh[k];
      });
      if (propagate) {
        // As Celery's join: members in order; the first ready failure raises.
        for (const r of recs) {
          if (!r || !isReady(r.state)) break;
          if (PROPAGATE_STATES.has(r.state)) await raise(backend, r);
        }
      }
      if (recs.every((r) => r && isReady(r.state))) {
        // Members by reference are read a few at a time, not all at once.
        const resolved = await mapBounded(recs as ResultRecord[], (r) => resolveValues(backend.payloads, r));
        return resolved.map((r) => outcome(r, false)) as unknown as T;
      }
      if (options.timeoutMs !== undefined && backend.clock.now() - start >= options.timeoutMs) {
        const done = recs.filter((r) => r && isReady(r.state)).length;
        throw new TimeoutError(`group ${this.id}: ${done} of ${recs.length} results ready after ${options.timeoutMs} ms`);
      }
      await backend.clock.sleep(interval);
    }
  }

  /** Alias of `get()` (Celery's `join`). */
  join(options: GetOptions = {}): Promise<T> {
    return this.get(options);
  }

  async maybeThrow(): Promise<void> {
    const backend = await this.#host.backend();
    for (const r of await this.records()) if (r && PROPAGATE_STATES.has(r.state)) await raise(backend, r);
  }

  /** Revokes every member. */
  async revoke(): Promise<void> {
    await Promise.all(this.results.map((r) => r.revoke()));
  }

  /** Forgets every member. */
  async forget(): Promise<void> {
    await Promise.all(this.results.map((r) => r.forget()));
  }

  /** Member ids, for `app.groupResult(id, ids)` elsewhere (Celery's `save()` keeps them server-side). */
  toJSON(): { id: string; results: string[] } {
    return { id: this.id, results: this.results.map((r) => r.id) };
  }
}

/** Throws the error a failed or revoked record stores, its details read back when stored by reference. */
async function raise(backend: Backend, r: ResultRecord): Promise<never> {
  outcome(await resolveValues(backend.payloads, r), true);
  throw new Error(`record ${r.id} is ${r.state}, not an error`); // unreachable: outcome() threw
}

function outcome<T>(r: ResultRecord, propagate: boolean): T {
  if (r.state === States.SUCCESS) return r.result as T;
  const err = r.error
    ? deserializeError(r.error)
    : r.state === States.REVOKED
      ? new TaskRevokedError(`task ${r.id} was revoked`)
      : new CeleriacError(ErrorCodes.TASK_ERROR, `task ${r.id} failed`);
  if (propagate) throw err;
  return err as T;
}

/**
 * The failed-ancestor check of `get()` (Celery's `_maybe_reraise_parent_error`): ancestors root
 * first, a group's members in order, the first failed or revoked one raises. Across polls a ready
 * record is never read again (it never changes), so waiting on the body of a chord of 10,000 does
 * not re-read 10,000 header records every interval.
 */
class Lineage {
  readonly #ids: string[] = [];
  readonly #ready = new Map<string, ResultRecord>();

  constructor(parent: AsyncResult<unknown> | GroupResult<readonly unknown[]>) {
    const nodes: (AsyncResult<unknown> | GroupResult<readonly unknown[]>)[] = [];
    for (let n: typeof parent | undefined = parent; n; n = n.parent) nodes.unshift(n);
    for (const n of nodes) {
      if (n instanceof GroupResult) for (const m of n.results) this.#ids.push(m.id);
      else this.#ids.push(n.id);
    }
  }

  async throwIfFailed(backend: Backend): Promise<void> {
    const waiting = this.#ids.filter((id) => !this.#ready.has(id));
    if (waiting.length > 0) {
      const fresh = await backend.store.getMany(waiting);
      fresh.forEach((r, k) => {
        if (r && isReady(r.state)) this.#ready.set(waiting[k] as string, r);
      });
    }
    for (const id of this.#ids) {
      const r = this.#ready.get(id);
      if (r && PROPAGATE_STATES.has(r.state)) await raise(backend, r);
    }
  }
}

function guardInTask(host: ResultHost, options: GetOptions): void {
  if (!options.allowInTask && host.insideTask()) {
    throw new CeleriacError(
      ErrorCodes.SYNC_SUBTASK,
      'never wait for a result inside a task (it holds a Lambda while another task runs); chain the work instead, or pass { allowInTask: true }',
    );
  }
}

/**
 * The dashboard's task feed: a bounded, in-memory ring of recent tasks and lifecycle events.
 *
 * The ports have no "list recent tasks" query (DynamoDB would need a Scan), and adding one would
 * put a dashboard concern on every adapter. So the feed listens instead: the app's in-process
 * signals (publish → PENDING, prerun → STARTED, postrun → outcome) and the lifecycle events of
 * the local bus. Both exist in every local mode, because local pollers run the worker in this
 * process. Only the last `capacity` tasks are kept, so a long `celeriac dev` run stays small.
 */

import type { App } from '../../app';
import type { BusEvent, ResultRecord, ResultStore } from '../../ports';
import type { Envelope } from '../../protocol/envelope';
import type { SerializedError } from '../../protocol/failure';
import type { Json } from '../../protocol/json';
import type { Plan } from '../../protocol/plan';
import { isReady } from '../../results/states';
import { CHORD_DEADLINE_TASK } from '../../runtime/engine';

/** One task as the dashboard and the CLI show it. */
export interface TaskRow {
  readonly id: string;
  readonly task: string;
  /** PENDING (published), STARTED, RETRY, SUCCESS, FAILURE, REVOKED, or a custom state. */
  readonly state: string;
  readonly rootId: string;
  readonly parentId: string | null;
  readonly groupId?: string;
  readonly queue?: string;
  readonly args?: readonly Json[];
  /** Attempts made before the latest one. */
  readonly retries: number;
  /** Epoch ms of the (latest) publish, the start and the outcome, as seen by this process. */
  readonly sentAt?: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly durationMs?: number;
  /** The result, or a string preview of it when it is large. */
  readonly result?: Json;
  readonly error?: { readonly type: string; readonly message: string; readonly code: string };
  /** Epoch ms of the last change: the ring's order. */
  readonly updatedAt: number;
}

/** What changed, for listeners (the SSE stream). */
export type FeedChange = { readonly kind: 'task'; readonly row: TaskRow } | { readonly kind: 'event'; readonly event: BusEvent };

export interface TaskFeedOptions {
  /** Tasks kept (default 1,000): the oldest are dropped first. */
  readonly capacity?: number;
  /** Workflow plans kept (default 200). */
  readonly planCapacity?: number;
  /** Lifecycle events kept (default 1,000). */
  readonly eventCapacity?: number;
  /** Read after each outcome for the stored duration, error and result. */
  readonly store?: ResultStore;
  readonly now?: () => number;
  /** Where a failed store read goes (default: ignored; the row keeps what the signals said). */
  readonly onError?: (error: unknown) => void;
}

/** Results bigger than this (as JSON) are kept as a string preview: the ring must stay small. */
const MAX_RESULT_CHARS = 2_000;
/** Tasks the dashboard never shows: internal bookkeeping messages, not user work. */
const HIDDEN_TASKS: ReadonlySet<string> = new Set([CHORD_DEADLINE_TASK]);

/**
 * A bounded ring of recent tasks (newest last), the plans of recent workflows and recent events.
 *
 * @example
 * ```ts
 * const feed = new TaskFeed({ store: backend.store });
 * const detach = feed.attach(app);
 * feed.onChange((c) => console.log(c));
 * ```
 */
export class TaskFeed {
  readonly #rows = new Map<string, TaskRow>();
  /** Plans by plan id, plus which plans belong to each workflow root (rootId ≠ plan id when a task starts a canvas). */
  readonly #plans = new Map<string, { readonly rootId: string; readonly plan: Plan }>();
  /** Plans that travel by reference (big ones, any with a group or chord): plan id → workflow root, read on demand. */
  readonly #planRefs = new Map<string, string>();
  readonly #events: BusEvent[] = [];
  /** Chord deadline check messages published and not yet due: id → queue, due time. */
  readonly #checks = new Map<string, { readonly queue: string; readonly dueAt: number }>();
  readonly #listeners = new Set<(change: FeedChange) => void>();
  readonly #capacity: number;
  readonly #planCapacity: number;
  readonly #eventCapacity: number;
  readonly #store: ResultStore | undefined;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  #version = 0;

  constructor(opts: TaskFeedOptions = {}) {
    this.#capacity = Math.max(1, opts.capacity ?? 1_000);
    this.#planCapacity = Math.max(1, opts.planCapacity ?? 200);
    this.#eventCapacity = Math.max(1, opts.eventCapacity ?? 1_000);
    this.#store = opts.store;
    this.#now = opts.now ?? Date.now;
    this.#onError = opts.onError ?? (() => {});
  }

  /** Increases with every change: lets pollers skip unchanged snapshots. */
  get version(): number {
    return this.#version;
  }

  /**
   * Connects to the app's signals. Receivers only touch memory and never await the store, so the
   * worker path they run in is not slowed down. Returns the disconnect function.
   */
  attach(app: App): () => void {
    const s = app.signals;
    const offs = [
      s.beforeTaskPublish.connect((p) => this.published(p.body, p.queue)),
      s.taskPrerun.connect((p) => this.#update(p.taskId, p.task, { state: 'STARTED', startedAt: this.#now() })),
      s.taskPostrun.connect((p) => {
        // IGNORED and REJECTED (requeued) leave no stored outcome: the task goes back to waiting.
        const state = p.state === 'IGNORED' ? 'SUCCESS' : p.state === 'REJECTED' ? 'PENDING' : p.state;
        this.#update(p.taskId, p.task, { state, finishedAt: this.#now() });
        this.#refresh(p.taskId);
      }),
      s.taskUnknown.connect((p) => this.#refresh(p.id)),
      s.taskRevoked.connect((p) => this.#refresh(p.request.id)),
    ];
    return () => {
      for (const off of offs) off();
    };
  }

  /** Records a published message: a new task (PENDING), a retry's next attempt, and the workflow plan it carries. */
  published(envelope: Envelope, queue: string): void {
    if (HIDDEN_TASKS.has(envelope.task)) {
      // Not a task, but a delayed message in a queue: counted so the queue table can say what it is.
      if (envelope.task === CHORD_DEADLINE_TASK && envelope.headers.eta !== undefined) {
        this.#checks.set(envelope.id, { queue, dueAt: Date.parse(envelope.headers.eta) });
        while (this.#checks.size > this.#capacity) this.#checks.delete(this.#checks.keys().next().value as string);
      }
      return;
    }
    const h = envelope.headers;
    if (envelope.workflow !== undefined) {
      if ('plan' in envelope.workflow) this.addPlan(envelope.workflow.plan, h.rootId);
      else if (!this.#plans.has(envelope.workflow.ref) && !this.#planRefs.has(envelope.workflow.ref)) {
        this.#planRefs.set(envelope.workflow.ref, h.rootId);
        while (this.#planRefs.size > this.#planCapacity) this.#planRefs.delete(this.#planRefs.keys().next().value as string);
      }
    }
    const known = this.#rows.get(envelope.id);
    this.#put({
      id: envelope.id,
      task: envelope.task,
      // A retry re-publishes the same id: it stays RETRY until it starts again.
      state: known === undefined || isReady(known.state) ? 'PENDING' : known.state,
      rootId: h.rootId,
      parentId: h.parentId,
      ...(h.groupId === undefined ? {} : { groupId: h.groupId }),
      queue,
      args: envelope.args,
      retries: h.retries,
      sentAt: this.#now(),
      updatedAt: this.#now(),
      ...(known?.startedAt === undefined || known.state === 'PENDING' ? {} : { startedAt: known.startedAt }),
    });
  }

  /**
   * Chord deadline checks waiting in each queue: celeriac's own delayed messages (one per chord,
   * due at its deadline, a no-op once the chord is done), which a queue's "delayed" count includes.
   */
  deadlineChecks(): Record<string, number> {
    const now = this.#now();
    const out: Record<string, number> = {};
    for (const [id, c] of this.#checks) {
      if (c.dueAt <= now) this.#checks.delete(id);
      else out[c.queue] = (out[c.queue] ?? 0) + 1;
    }
    return out;
  }

  /** Remembers a workflow plan (from a message, or read from the store). */
  addPlan(plan: Plan, rootId: string): void {
    this.#planRefs.delete(plan.id);
    if (this.#plans.has(plan.id)) return;
    this.#plans.set(plan.id, { rootId, plan });
    while (this.#plans.size > this.#planCapacity) this.#plans.delete(this.#plans.keys().next().value as string);
  }

  /** Plans of the workflow whose root task is `rootId` (several when tasks of it start canvases). */
  plansFor(rootId: string): Plan[] {
    const out: Plan[] = [];
    for (const p of this.#plans.values()) if (p.rootId === rootId || p.plan.id === rootId) out.push(p.plan);
    return out;
  }

  /** Ids of stored plans of workflow `rootId` seen by reference only: the reader loads them with `store.getPlan`. */
  planRefsFor(rootId: string): string[] {
    const out: string[] = [];
    for (const [planId, root] of this.#planRefs) if (root === rootId || planId === rootId) out.push(planId);
    return out;
  }

  /** Records lifecycle events (from the local bus) and the task outcomes they carry. */
  ingestEvents(events: readonly BusEvent[]): void {
    for (const e of events) {
      this.#events.push(e);
      if (this.#events.length > this.#eventCapacity * 2) this.#events.splice(0, this.#events.length - this.#eventCapacity);
      const d = e.detail as Record<string, Json | undefined>;
      if (typeof d.id === 'string' && typeof d.task === 'string' && typeof d.state === 'string' && !HIDDEN_TASKS.has(d.task)) {
        this.#update(d.id, d.task, {
          state: d.state,
          ...(typeof d.rootId === 'string' ? { rootId: d.rootId } : {}),
          ...(typeof d.parentId === 'string' || d.parentId === null ? { parentId: d.parentId } : {}),
          ...(typeof d.groupId === 'string' ? { groupId: d.groupId } : {}),
          ...(typeof d.queue === 'string' ? { queue: d.queue } : {}),
          ...(typeof d.durationMs === 'number' ? { durationMs: d.durationMs } : {}),
          ...(typeof d.attempt === 'number' ? { retries: d.attempt } : {}),
          ...('result' in d && d.result !== undefined ? { result: preview(d.result) } : {}),
          ...(isErrorJson(d.error) ? { error: briefError(d.error) } : {}),
          finishedAt: e.time,
        });
      }
      this.#emit({ kind: 'event', event: e });
    }
  }

  /** Merges a stored record into the row for its task (the store is the source of truth). */
  applyRecord(record: ResultRecord): void {
    const row = this.#rows.get(record.id);
    if (row === undefined && record.task === undefined) return;
    this.#update(record.id, record.task ?? (row as TaskRow).task, {
      state: record.state,
      ...(record.rootId === undefined ? {} : { rootId: record.rootId }),
      ...(record.parentId === undefined ? {} : { parentId: record.parentId }),
      ...(record.groupId === undefined ? {} : { groupId: record.groupId }),
      ...(record.durationMs === undefined ? {} : { durationMs: record.durationMs }),
      ...(record.retries === undefined ? {} : { retries: record.retries }),
      ...(record.result === undefined ? {} : { result: preview(record.result) }),
      ...(record.error === undefined ? {} : { error: briefError(record.error) }),
      ...(record.dateDone === undefined ? {} : { finishedAt: record.dateDone }),
    });
  }

  /** Recent tasks, newest first. */
  tasks(limit = this.#capacity): TaskRow[] {
    const all = [...this.#rows.values()];
    const out: TaskRow[] = [];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) out.push(all[i] as TaskRow);
    return out;
  }

  /** Tasks of one workflow, oldest first. */
  tasksOf(rootId: string): TaskRow[] {
    return [...this.#rows.values()].filter((r) => r.rootId === rootId || r.id === rootId);
  }

  get(id: string): TaskRow | undefined {
    return this.#rows.get(id);
  }

  /** Recent lifecycle events, oldest first. */
  events(limit = this.#eventCapacity): BusEvent[] {
    return this.#events.slice(-limit);
  }

  /** Calls `listener` on every change; returns the unsubscribe function. */
  onChange(listener: (change: FeedChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #update(id: string, task: string, patch: Partial<Omit<TaskRow, 'id' | 'task' | 'updatedAt'>>): void {
    if (HIDDEN_TASKS.has(task)) return;
    const row = this.#rows.get(id);
    // An outcome is final: a late STARTED or PENDING (signals and events race) never undoes it.
    if (row !== undefined && isReady(row.state) && patch.state !== undefined && !isReady(patch.state)) {
      const { state: _ignored, ...rest } = patch;
      patch = rest;
    }
    const base: TaskRow = row ?? { id, task, state: 'PENDING', rootId: id, parentId: null, retries: 0, updatedAt: 0 };
    const next: TaskRow = { ...base, ...patch, id, task, updatedAt: this.#now() };
    if (next.durationMs === undefined && next.startedAt !== undefined && next.finishedAt !== undefined && isReady(next.state)) {
      this.#put({ ...next, durationMs: Math.max(0, next.finishedAt - next.startedAt) });
    } else {
      this.#put(next);
    }
  }

  #put(row: TaskRow): void {
    // Delete then set: a Map keeps insertion order, so the most recently changed row moves last.
    this.#rows.delete(row.id);
    this.#rows.set(row.id, row);
    while (this.#rows.size > this.#capacity) this.#rows.delete(this.#rows.keys().next().value as string);
    this.#emit({ kind: 'task', row });
  }

  #refresh(id: string): void {
    const store = this.#store;
    if (store === undefined) return;
    store.get(id).then(
      (rec) => {
        if (rec !== undefined) this.applyRecord(rec);
      },
      (e: unknown) => this.#onError(e),
    );
  }

  #emit(change: FeedChange): void {
    this.#version++;
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch (e) {
        this.#onError(e);
      }
    }
  }
}

function preview(value: Json): Json {
  const s = JSON.stringify(value);
  if (s === undefined || s.length <= MAX_RESULT_CHARS) return value;
  return `${s.slice(0, MAX_RESULT_CHARS)}… (${s.length} characters)`;
}

function isErrorJson(v: Json | undefined): v is Json & SerializedError {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { message?: unknown }).message === 'string';
}

function briefError(e: SerializedError): TaskRow['error'] {
  return { type: String(e.type ?? 'Error'), message: String(e.message), code: String(e.code ?? '') };
}

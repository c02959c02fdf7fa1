import type { HandleSpec } from './canvas/compile';
import { type AnySignature, type CanvasHost, Group, Signature } from './canvas/signature';
import type { Remaining, Suffixes } from './canvas/types';
import { CeleriacError, ErrorCodes, TaskRevokedError } from './errors';
import type { Backend, PayloadStore } from './ports';
import { serializeError } from './protocol/failure';
import { type Json, type JsonObject, toJson } from './protocol/json';
import { DEFAULT_MAX_RESULT_BYTES, DEFAULT_PAYLOAD_THRESHOLD_BYTES, SQS_MAX_MESSAGE_BYTES } from './protocol/limits';
import { isPayloadPointer, readPointer } from './protocol/payload';
import type { NodeOptions } from './protocol/plan';
import { checkTimeLimits } from './protocol/time-limits';
import { AsyncResult, GroupResult, type ResultHost } from './results/async-result';
import { States } from './results/states';
import type { AppTopologyInput, QueueSettings } from './routing/topology';
import type { AppSettings, Logger, RuntimeApp, TaskDef } from './runtime/app-port';
import { applyCanvas } from './runtime/producer';
import { createSignals, type Signals } from './signals';
import type { Outcome } from './signals/events';
import { maybeCurrentTask, runWithContext } from './task/context';
import { checkConcurrency, startIntervalMs } from './task/flow';
import { ACCUMULATE_TASK } from './task/replace';
import type { CallOptions, TaskContext, TaskOptions } from './task/types';
import { type LogLevel, powertoolsLogger, withTaskFields } from './telemetry/logger';

/** A backend, or a (possibly async) factory called once on first use. */
export type BackendSource = Backend | (() => Backend | Promise<Backend>);

export interface AppOptions {
  /** App name: EventBridge source `celeriac.<name>`; letters, digits, `-` and `_`. */
  readonly name: string;
  readonly backend?: BackendSource;
  /** Queue for tasks that name none. Default `default`. */
  readonly defaultQueue?: string;
  /** Publish lifecycle events (default true); a task's `events` option overrides. */
  readonly events?: boolean;
  /** Plans up to this many bytes travel inside messages; bigger ones are stored once. Default 8 KiB. */
  readonly inlinePlanBytes?: number;
  /** Seconds a chord header may take before the chord fails with CHORD_TIMEOUT. Default 86 400; 0 = never. */
  readonly chordDeadlineSeconds?: number;
  /** Largest group / chord header. Default 100 000. */
  readonly maxGroupSize?: number;
  /** Largest stored result (bytes). Default 350 000 (DynamoDB items hold 400 KB). */
  readonly maxResultBytes?: number;
  /** Deepest nesting accepted in incoming JSON. Default 64. */
  readonly maxJsonDepth?: number;
  /** Store name, args, kwargs, queue, retries with every result (Celery's result_extended). */
  readonly resultExtended?: boolean;
  /**
   * Large payloads (README, "Large payloads"): an argument, the kwargs, a result or an error's
   * details whose JSON is over `threshold` bytes is stored once in the backend's payload store
   * (S3 when `CELERIAC_PAYLOAD_BUCKET` is set) and travels as a reference. Default 64 KiB.
   */
  readonly payloads?: { readonly threshold?: number };
  /**
   * Where the app and its worker log (Powertools Logger, console and pino all fit). Default:
   * Powertools Logger, JSON lines from `logLevel` up. Inside a task every line also carries the
   * task's id, name, root id and attempt, and the Lambda request id and cold start.
   */
  readonly logger?: Logger;
  /** The default logger's level (`createApp` reads `CELERIAC_LOG_LEVEL`). Default `info`. */
  readonly logLevel?: LogLevel;
}

/**
 * A task: call it with `delay` / `applyAsync`, build signatures with `s` / `si`.
 * `A` is the argument tuple, `R` the (awaited) result.
 */
export interface Task<A extends readonly unknown[], R> {
  readonly name: string;
  readonly options: TaskOptions<A, R>;
  /**
   * A signature with partial args, which fill the task's LAST parameters: a previous result (or
   * call args) is prepended later, as Celery does (`sub.s(10).delay(30)` runs `sub(30, 10)`).
   */
  s<const P extends Suffixes<A>>(...args: P): Signature<Remaining<A, P>, R>;
  /** An immutable signature: parent results and call args are ignored. */
  si(...args: A): Signature<[ignored?: unknown], R>;
  /** Publishes a call; resolves once the message is sent. */
  delay(...args: A): Promise<AsyncResult<R>>;
  applyAsync(args: A, options?: CallOptions): Promise<AsyncResult<R>>;
  /** Runs the body in this process (Celery's `task(...)`): no message, no stored result. */
  run(...args: A): Promise<R>;
  /** One task calling this task for each item, returning the list (Celery's `map`). */
  map(items: readonly A[0][]): Signature<[], R[]>;
  /** As `map`, spreading each item as the argument tuple (Celery's `starmap`). */
  starmap(items: readonly A[]): Signature<[], R[]>;
  /** A group of `ceil(items / n)` starmap tasks; results are a list of lists (Celery's `chunks`). */
  chunks(items: readonly A[], n: number): Group<[], R[][]>;
}

/** What an inline errback learns about the failed task: Celery's request of the failed call. */
export interface ErrbackRequest {
  readonly id: string;
  readonly task: string;
  readonly args: readonly Json[];
  readonly kwargs: JsonObject | undefined;
  /** How many times the failed call had been retried. */
  readonly retries: number;
  readonly rootId: string;
  readonly parentId: string | null;
  /** The group the failed call was a member of, if any. */
  readonly groupId: string | undefined;
}

/** A new-style errback: `s(...extra)` builds the signature to pass as `linkError`. */
export interface Errback<E extends unknown[]> {
  readonly name: string;
  s(...extra: E): Signature<[failedId?: unknown], void>;
}

/** A task, or its name. */
export type TaskRef = { readonly name: string } | string;

const NAME_RE = /^[A-Za-z0-9_.:-]{1,200}$/;
export const MAP_TASK = 'celeriac.map';
export const STARMAP_TASK = 'celeriac.starmap';

/**
 * A celeriac app: a registry of tasks, signals, and the backend they publish to.
 * Create one with `createApp`.
 */
export class App implements RuntimeApp, CanvasHost, ResultHost {
  readonly name: string;
  readonly signals: Signals;
  readonly logger: Logger;
  readonly settings: AppSettings;
  readonly #tasks = new Map<string, TaskDef>();
  #backendSource: BackendSource | undefined;
  #backend: Promise<Backend> | undefined;
  readonly #links: { from: string; to: string; kind: 'success' | 'error' }[] = [];
  readonly #subscribers: { name: string; entry?: string; tasks?: readonly string[]; outcomes?: readonly Outcome[] }[] = [];
  readonly #periodic: { name: string; task: string; schedule: string; args?: readonly unknown[] }[] = [];
  readonly #queues = new Map<string, QueueSettings>();
  #owners: Map<string, string | undefined> | undefined;

  constructor(options: AppOptions) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(options.name ?? '')) {
      throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `app name "${options.name}" must be 1-64 letters, digits, "-" or "_"`);
    }
    this.name = options.name;
    // Every line written inside a task names it, whichever logger the app was given.
    this.logger = withTaskFields(options.logger ?? powertoolsLogger({ serviceName: options.name, logLevel: options.logLevel ?? 'info' }));
    this.signals = createSignals((e, signal) => this.logger.error(`signal receiver for ${signal} failed`, { error: serializeError(e) }));
    this.settings = {
      defaultQueue: options.defaultQueue ?? 'default',
      events: options.events ?? true,
      inlinePlanBytes: options.inlinePlanBytes ?? 8_192,
      chordDeadlineSeconds: options.chordDeadlineSeconds ?? 86_400,
      maxGroupSize: options.maxGroupSize ?? 100_000,
      maxResultBytes: options.maxResultBytes ?? DEFAULT_MAX_RESULT_BYTES,
      maxJsonDepth: options.maxJsonDepth ?? 64,
      resultExtended: options.resultExtended ?? false,
      payloadThreshold: payloadThreshold(options.payloads?.threshold),
    };
    this.#backendSource = options.backend;
    this.#registerBuiltins();
  }

  /**
   * Registers a task.
   *
   * @example
   * ```ts
   * export const add = app.task('add', (x: number, y: number) => x + y);
   * const r = await add.delay(2, 3);
   * ```
   */
  task<A extends unknown[], R>(name: string, fn: (...args: A) => R, options: TaskOptions<A, Awaited<R>> = {}): Task<A, Awaited<R>> {
    if (!NAME_RE.test(name)) {
      throw new CeleriacError(
        ErrorCodes.INVALID_OPTIONS,
        `task name "${name}" must be 1-200 characters of letters, digits, "_", ".", ":" or "-"`,
      );
    }
    if (this.#tasks.has(name))
      throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `task "${name}" is already registered in app "${this.name}"`);
    if (typeof fn !== 'function') throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `task "${name}" needs a function body`);
    // Flow-control options fail here, at start-up, rather than in a worker.
    if (options.rateLimit !== undefined) startIntervalMs(name, options.rateLimit);
    if (options.concurrency !== undefined) checkConcurrency(name, options.concurrency as number);
    checkTimeLimits(options.timeLimit, options.softTimeLimit, `task "${name}"`);
    if (options.lazyPayloads && options.schema !== undefined) {
      // The schema would check `{ $payload }` references, not the values they stand for.
      throw new CeleriacError(
        ErrorCodes.INVALID_OPTIONS,
        `task "${name}": lazyPayloads and schema cannot be combined (a schema checks values)`,
      );
    }
    this.#tasks.set(name, { name, fn, options });
    this.#owners = undefined;
    return this.#makeTask<A, Awaited<R>>(name, options);
  }

  #makeTask<A extends unknown[], R>(name: string, options: TaskOptions<A, R>): Task<A, R> {
    const jsonArgs = (args: readonly unknown[]) => args.map((a, i) => toJson(a, `${name} args[${i}]`));
    return {
      name,
      options,
      s: (...args) => new Signature(this, name, jsonArgs(args)),
      si: (...args) => new Signature(this, name, jsonArgs(args), { immutable: true }),
      delay: (...args) => this.applyCanvas(new Signature(this, name, []), args, {}) as Promise<AsyncResult<R>>,
      applyAsync: (args, opts = {}) => this.applyCanvas(new Signature(this, name, []), args, opts) as Promise<AsyncResult<R>>,
      run: async (...args) => {
        const def = this.#tasks.get(name) as TaskDef;
        const payloads = async () => (await this.backend()).payloads;
        return (await runWithContext(directContext(name, args, payloads), () => def.fn(...args))) as R;
      },
      map: (items) => new Signature(this, MAP_TASK, [name, jsonArgs(items as unknown[])]) as unknown as Signature<[], R[]>,
      starmap: (items) => new Signature(this, STARMAP_TASK, [name, jsonArgs(items as unknown[])]) as unknown as Signature<[], R[]>,
      chunks: (items, n) => {
        if (!Number.isInteger(n) || n < 1)
          throw new CeleriacError(ErrorCodes.INVALID_CANVAS, `chunks() size must be a positive integer, got ${n}`);
        const parts: AnySignature[] = [];
        for (let i = 0; i < items.length; i += n)
          parts.push(new Signature(this, STARMAP_TASK, [name, jsonArgs(items.slice(i, i + n) as unknown[])]));
        return new Group(this, parts) as unknown as Group<[], R[][]>;
      },
    };
  }

  #registerBuiltins(): void {
    const call = async (taskName: string, args: readonly unknown[]) => {
      const def = this.#tasks.get(taskName);
      if (!def) throw new CeleriacError(ErrorCodes.TASK_NOT_REGISTERED, `map/starmap: task "${taskName}" is not registered`);
      return def.fn(...args);
    };
    this.#tasks.set(MAP_TASK, {
      name: MAP_TASK,
      fn: async (taskName: string, items: unknown[]) => {
        const out: unknown[] = [];
        for (const item of items) out.push(await call(taskName, [item]));
        return out;
      },
      options: { events: false },
    });
    this.#tasks.set(STARMAP_TASK, {
      name: STARMAP_TASK,
      fn: async (taskName: string, items: unknown[][]) => {
        const out: unknown[] = [];
        for (const item of items) out.push(await call(taskName, item));
        return out;
      },
      options: { events: false },
    });
    this.#tasks.set(ACCUMULATE_TASK, { name: ACCUMULATE_TASK, fn: (values: unknown[]) => values, options: {} });
  }

  /**
   * Registers a new-style errback (Celery's errback with `(request, exc, traceback)`): called
   * inline, in the worker of the failing task, with the failed request, the error, its traceback
   * and the signature's own args. It gets no task id and its return value is not stored.
   *
   * @example
   * ```ts
   * const alert = app.errback('alert', (request, error, traceback, channel: string) => notify(channel, request.id, error));
   * await charge.applyAsync([order], { linkError: alert.s('#payments') });
   * ```
   */
  errback<E extends unknown[]>(
    name: string,
    fn: (request: ErrbackRequest, error: Error, traceback: string | undefined, ...extra: E) => unknown,
    options: Omit<TaskOptions<unknown[], unknown>, 'errbackStyle'> = {},
  ): Errback<E> {
    const t = this.task(name, fn as (...args: unknown[]) => unknown, { ...options, errbackStyle: 'inline' });
    return { name, s: (...extra: E) => t.s(...(extra as unknown[])) as unknown as Signature<[failedId?: unknown], void> };
  }

  /** A signature for a task by name, without its code (Celery's `signature('add', ...)`). */
  signature<R = unknown>(
    name: string,
    args: readonly unknown[] = [],
    options: Omit<CallOptions, 'link' | 'linkError'> = {},
  ): Signature<unknown[], R> {
    return new Signature<unknown[], R>(
      this,
      name,
      args.map((a, i) => toJson(a, `${name} args[${i}]`)),
      { options },
    );
  }

  /**
   * Calls a task by name (Celery's `send_task`): for producers that do not import the task's code.
   *
   * @example
   * ```ts
   * const r = await app.sendTask<number>('add', [2, 3]);
   * ```
   */
  sendTask<R = unknown>(name: string, args: readonly unknown[] = [], options: CallOptions = {}): Promise<AsyncResult<R>> {
    return this.applyCanvas(new Signature(this, name, []), args, options) as Promise<AsyncResult<R>>;
  }

  /** Rebuilds a result handle from an id. */
  asyncResult<R = unknown>(id: string): AsyncResult<R> {
    return new AsyncResult<R>(this, id);
  }

  /** Rebuilds a group handle from its id and member ids. */
  groupResult<R extends readonly unknown[] = unknown[]>(id: string, memberIds: readonly string[]): GroupResult<R> {
    return new GroupResult<R>(
      this,
      id,
      memberIds.map((m) => new AsyncResult(this, m)),
    );
  }

  /** Publishes any canvas; used by signatures. */
  async applyCanvas(canvas: AnySignature, args: readonly unknown[], options: CallOptions): Promise<unknown> {
    return this.#handle(await applyCanvas(this, canvas, args, options), true);
  }

  /**
   * The handle of a published canvas. The last tasks (`last`: the handle itself, or a group's
   * members) are ignored as the worker will drop their records: `ignoreResult` of the call, else
   * of the task (Celery's `options.setdefault('ignore_result', task.ignore_result)`), and only
   * where nothing continues from them; every parent has a continuation, so it keeps its record.
   */
  #handle(spec: HandleSpec, last: boolean): AsyncResult<unknown> | GroupResult<unknown[]> {
    const parent = spec.parent ? this.#handle(spec.parent, false) : undefined;
    if (spec.t === 'task') {
      const ignored = last && (spec.ignoreResult ?? this.#tasks.get(spec.task)?.options.ignoreResult ?? false);
      return new AsyncResult(this, spec.id, parent, ignored);
    }
    return new GroupResult(
      this,
      spec.id,
      spec.children.map((c) => this.#handle(c, last) as AsyncResult<unknown>),
      parent,
    );
  }

  /** True while a task body runs in this process (in a worker, or called directly). */
  insideTask(): boolean {
    return maybeCurrentTask() !== undefined;
  }

  /** Stops a task that has not started: stores REVOKED unless it is already ready. */
  async revoke(id: string): Promise<void> {
    const backend = await this.backend();
    await backend.store.writeIfNotReady({
      id,
      state: States.REVOKED,
      error: serializeError(new TaskRevokedError(`task ${id} was revoked`)),
      revokedBy: 'client',
      dateDone: backend.clock.now(),
      cont: 'pending',
    });
  }

  // ── backend ──────────────────────────────────────────────────────────────────────────────

  /** Points the app at a backend (local mode, tests, a custom adapter set). */
  use(backend: BackendSource): this {
    this.#backendSource = backend;
    this.#backend = undefined;
    return this;
  }

  /** The backend, created on first use. */
  backend(): Promise<Backend> {
    if (!this.#backend) {
      const src = this.#backendSource;
      if (!src) {
        return Promise.reject(
          new CeleriacError(
            ErrorCodes.NOT_CONFIGURED,
            `app "${this.name}" has no backend: run it under startLocal(), in a worker, or call app.use(backend)`,
          ),
        );
      }
      this.#backend = Promise.resolve(typeof src === 'function' ? src() : src);
      this.#backend.catch(() => {
        this.#backend = undefined;
      });
    }
    return this.#backend;
  }

  // ── registry and topology ────────────────────────────────────────────────────────────────

  getTask(name: string): TaskDef | undefined {
    return this.#tasks.get(name);
  }

  /** Names of the app's own tasks (built-ins excluded). */
  taskNames(): string[] {
    return [...this.#tasks.keys()].filter((n) => !n.startsWith('celeriac.'));
  }

  queueOf(task: string, opts?: NodeOptions): string {
    return opts?.queue ?? this.#tasks.get(task)?.options.queue ?? this.settings.defaultQueue;
  }

  queueOwner(queue: string): string | undefined {
    if (!this.#owners) {
      const owners = new Map<string, string | undefined>();
      for (const name of this.taskNames()) {
        const q = this.queueOf(name);
        owners.set(q, owners.has(q) ? undefined : name);
      }
      this.#owners = owners;
    }
    return this.#owners.get(queue);
  }

  /** Declares settings for a queue (batch size, timeouts, DLQ receive count…). */
  queue(name: string, settings: QueueSettings): this {
    this.#queues.set(name, settings);
    return this;
  }

  /** A static link: whenever `from` succeeds, `to` is called with its result (an EventBridge rule on AWS). */
  link(from: TaskRef, to: TaskRef): this {
    this.#links.push({ from: nameOf(from), to: nameOf(to), kind: 'success' });
    return this;
  }

  /** A static error link: whenever `from` fails, `to` is called with the failed task id. */
  linkError(from: TaskRef, to: TaskRef): this {
    this.#links.push({ from: nameOf(from), to: nameOf(to), kind: 'error' });
    return this;
  }

  /** A subscriber function receiving lifecycle events (all outcomes unless filtered). */
  subscribe(name: string, options: { entry?: string; tasks?: readonly TaskRef[]; outcomes?: readonly Outcome[] } = {}): this {
    this.#subscribers.push({
      name,
      ...(options.entry ? { entry: options.entry } : {}),
      ...(options.tasks ? { tasks: options.tasks.map(nameOf) } : {}),
      ...(options.outcomes ? { outcomes: options.outcomes } : {}),
    });
    return this;
  }

  /** A periodic task (EventBridge Scheduler expression: `rate(5 minutes)` or `cron(…)`). */
  periodic(name: string, task: TaskRef, schedule: string, args: readonly unknown[] = []): this {
    this.#periodic.push({ name, task: nameOf(task), schedule, args });
    return this;
  }

  /** The topology as plain data: what the CDK stack deploys and local mode runs. */
  topology(): AppTopologyInput {
    const tasks = this.taskNames().map((name) => {
      const def = this.#tasks.get(name) as TaskDef;
      return { name, queue: this.queueOf(name), events: def.options.events ?? this.settings.events };
    });
    const queueNames = new Set([...tasks.map((t) => t.queue), ...this.#queues.keys()]);
    return {
      app: this.name,
      tasks,
      links: [...this.#links],
      subscribers: [...this.#subscribers],
      periodic: [...this.#periodic],
      queues: [...queueNames].map((q) => ({ name: q, ...(this.#queues.get(q) ?? {}) })),
    };
  }
}

/** The payload threshold asked for, checked: a positive integer below the message limit it guards. */
function payloadThreshold(asked: number | undefined): number {
  if (asked === undefined) return DEFAULT_PAYLOAD_THRESHOLD_BYTES;
  if (!Number.isSafeInteger(asked) || asked < 1 || asked >= SQS_MAX_MESSAGE_BYTES) {
    throw new CeleriacError(
      ErrorCodes.INVALID_OPTIONS,
      `payloads.threshold must be an integer 1…${SQS_MAX_MESSAGE_BYTES - 1} (bytes; under the 1 MiB message limit it guards), got ${asked}`,
    );
  }
  return asked;
}

function nameOf(t: TaskRef): string {
  return typeof t === 'string' ? t : t.name;
}

function directContext(name: string, args: readonly unknown[], payloads: () => Promise<PayloadStore | undefined>): TaskContext {
  const id = `direct-${name}`;
  return {
    id,
    task: name,
    args,
    kwargs: undefined,
    retries: 0,
    rootId: id,
    parentId: null,
    groupId: undefined,
    groupIndex: undefined,
    eta: undefined,
    expires: undefined,
    queue: undefined,
    headers: {},
    fairnessKey: undefined,
    signal: new AbortController().signal,
    deadline: Number.POSITIVE_INFINITY,
    calledDirectly: true,
    retry(options) {
      // Celery: called directly, retry() re-raises the error instead of retrying.
      throw options?.error ?? new CeleriacError(ErrorCodes.TASK_ERROR, `${name}.retry() called outside a worker`);
    },
    replace() {
      // Celery applies the replacement eagerly and returns its value; a direct call here is
      // synchronous to the caller, which cannot wait for a workflow, so it is refused instead.
      throw new CeleriacError(ErrorCodes.TASK_ERROR, `${name}.replace() called outside a worker`);
    },
    async updateState() {},
    // The backend is asked for only when there is a reference to read: a direct call needs none otherwise.
    readPayload: async <T>(x: unknown) => (isPayloadPointer(x) ? readPointer(await payloads(), x) : x) as T,
  };
}

/**
 * Creates an app.
 *
 * @example
 * ```ts
 * import { createApp, chain } from 'celeriac';
 * export const app = createApp({ name: 'shop' });
 * export const add = app.task('add', (x: number, y: number) => x + y);
 * ```
 */
export function createApp(options: AppOptions): App {
  return new App(options);
}

export type { AppTopologyInput, Json, JsonObject, QueueSettings };

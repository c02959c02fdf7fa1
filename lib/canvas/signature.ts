import { CeleriacError, ErrorCodes } from '../errors';
import { type Json, type JsonObject, toJson } from '../protocol/json';
import type { AsyncResult, GroupResult } from '../results/async-result';

/** Options of `applyAsync` and `sig.set()` (Celery's `apply_async` options, camelCased). */
export interface CallOptions {
  /** Seconds to wait before running. Wins over `eta` when both are given. */
  readonly countdown?: number;
  /** Earliest run time. */
  readonly eta?: Date | string;
  /** Seconds from now, or an absolute time, after which the task is REVOKED instead of run. */
  readonly expires?: number | Date | string;
  /** Use this task id (for a chain: the last task; for a group: the group id; for a chord: the body). */
  readonly taskId?: string;
  readonly queue?: string;
  /** Custom headers, visible in `ctx.headers`, preserved across retries. */
  readonly headers?: JsonObject;
  readonly ignoreResult?: boolean;
  readonly timeLimit?: number;
  readonly softTimeLimit?: number;
  /** Callbacks run on success with the result prepended. */
  readonly link?: AnySignature | readonly AnySignature[];
  /** Errbacks run on final failure. */
  readonly linkError?: AnySignature | readonly AnySignature[];
  /** Chord only: seconds the header may take before the chord fails with CHORD_TIMEOUT. */
  readonly chordDeadline?: number;
  /**
   * Called inside a task: record the new result in the caller's `children` (Celery's
   * `add_to_parent`). Default true.
   */
  readonly addToParent?: boolean;
  /**
   * Call once: the first call with this key (per app, and per task name or canvas kind) within
   * `idempotencyTtl` publishes; a later one gets the first call's handle and publishes nothing.
   * Decided by one conditional write. README, "Call once: idempotency keys".
   */
  readonly idempotencyKey?: string;
  /** Seconds the idempotency key holds (default 86,400: 24 hours). */
  readonly idempotencyTtl?: number;
  /**
   * The tenant this call belongs to (README, "Fairness"): the SQS MessageGroupId of every message
   * of the call — each step, member, callback, errback, retry — so that a noisy tenant does not
   * delay the others (SQS fair queues). On `applyAsync` it is the whole call's key, winning over
   * the task's `fairnessKey` default; `sig.set({ fairnessKey })` gives one step its own. 1-128
   * printable ASCII characters without spaces (SQS's rule).
   */
  readonly fairnessKey?: string;
}

/** Options that belong to one call, never to a signature: they are not `set()` on a canvas. */
export type CallOnlyOption = 'idempotencyKey' | 'idempotencyTtl';

/** The parameters still open after `sig.clone(P)` prepends `P` (call arguments fill the leading ones). */
export type AfterPrefix<A extends readonly unknown[], P extends readonly unknown[]> = P extends readonly []
  ? A
  : Required<A> extends readonly [unknown, ...infer T]
    ? P extends readonly [unknown, ...infer PT]
      ? AfterPrefix<T, PT>
      : A
    : A;

/** The options `set()` and `clone()` merge into a signature's own. */
export type SetOptions = Omit<CallOptions, 'link' | 'linkError' | CallOnlyOption>;

/** What a canvas needs from its app to be applied. Implemented by the App. */
export interface CanvasHost {
  applyCanvas(canvas: AnySignature, args: readonly unknown[], options: CallOptions): Promise<unknown>;
  readonly name: string;
}

type LinkList = readonly AnySignature[];

/** Options a canvas carries (Celery's `options`), plus its links. */
export interface CanvasOptions extends Omit<CallOptions, 'link' | 'linkError' | CallOnlyOption> {
  readonly link?: LinkList;
  readonly linkError?: LinkList;
}

/**
 * The base of every signature and canvas primitive. `In` is the argument tuple still expected
 * (what a previous step's result is prepended to), `Out` what it resolves to, `H` the handle
 * `applyAsync()` returns.
 */
export abstract class Canvas<In extends readonly unknown[], Out, H> {
  /** Phantom types: carry In/Out through inference; never set at run time. */
  declare readonly __in: In;
  declare readonly __out: Out;
  declare readonly __handle: H;
  abstract readonly kind: 'task' | 'chain' | 'group' | 'chord';
  /** Mutable like Celery's `options`: `set()`, `link()` and `linkError()` change it in place. */
  options: CanvasOptions;
  readonly host: CanvasHost;

  protected constructor(host: CanvasHost, options: CanvasOptions) {
    this.host = host;
    this.options = options;
  }

  /** Merges options in place and returns this signature (Celery's `set`). */
  set(options: SetOptions): this {
    this.options = { ...this.options, ...options };
    return this;
  }

  /** Adds a callback: applied on success with this result prepended. Returns this signature. */
  link(callback: AnySignature): this {
    assertSignature(callback, 'link()');
    this.options = { ...this.options, link: [...(this.options.link ?? []), callback] };
    return this;
  }

  /** Adds an errback: applied on final failure. Returns this signature. */
  linkError(errback: AnySignature): this {
    assertSignature(errback, 'linkError()');
    this.options = { ...this.options, linkError: [...(this.options.linkError ?? []), errback] };
    return this;
  }

  /** Publishes this signature with call args prepended (first task only, for a chain). */
  applyAsync(args: Partial<In> | readonly [] = [], options: CallOptions = {}): Promise<H> {
    return this.host.applyCanvas(this as unknown as AnySignature, args as readonly unknown[], options) as Promise<H>;
  }

  /** `applyAsync(args)` with no options. */
  delay(...args: Partial<In>): Promise<H> {
    return this.applyAsync(args as Partial<In>);
  }

  /** A copy with its own options object (links are shared signatures, as in Celery). */
  abstract clone(): this;
}

/** Any signature or canvas; used where types are not tracked. */
// biome-ignore lint/suspicious/noExplicitAny: the erased form of a typed canvas
export type AnySignature = Canvas<any, any, any>;

/**
 * A task signature: a task name, partial arguments and options (Celery's `Signature`).
 * Created by `task.s()` / `task.si()`.
 */
export class Signature<In extends readonly unknown[], Out> extends Canvas<In, Out, AsyncResult<Out>> {
  readonly kind = 'task' as const;
  readonly task: string;
  readonly args: readonly Json[];
  readonly kwargs: JsonObject | undefined;
  readonly immutable: boolean;

  constructor(
    host: CanvasHost,
    task: string,
    args: readonly Json[],
    opts: { kwargs?: JsonObject; immutable?: boolean; options?: CanvasOptions } = {},
  ) {
    super(host, opts.options ?? {});
    this.task = task;
    this.args = args;
    this.kwargs = opts.kwargs;
    this.immutable = opts.immutable ?? false;
  }

  /**
   * A copy; this signature is not changed. With `args` and `options` it is Celery's
   * `clone(args, **opts)` (its `partial`): `args` are prepended to the signature's own (an
   * immutable signature keeps its own), `options` are merged over its own.
   */
  override clone(): this;
  override clone<const P extends readonly unknown[]>(args: P, options?: SetOptions): Signature<AfterPrefix<In, P>, Out>;
  override clone(args: readonly unknown[] = [], options: SetOptions = {}): Signature<readonly unknown[], Out> {
    const extra = this.immutable ? [] : args.map((a, i) => toJson(a, `clone args[${i}]`));
    return new Signature(this.host, this.task, extra.length > 0 ? [...extra, ...this.args] : this.args, {
      ...(this.kwargs ? { kwargs: this.kwargs } : {}),
      immutable: this.immutable,
      options: { ...this.options, ...options },
    });
  }

  /** A copy that ignores parent results and call args (Celery's `set(immutable=True)`). */
  asImmutable(): Signature<[ignored?: unknown], Out> {
    return new Signature(this.host, this.task, this.args, {
      ...(this.kwargs ? { kwargs: this.kwargs } : {}),
      immutable: true,
      options: { ...this.options },
    });
  }

  /** Celery's dict form, for logs and the CLI. */
  toJSON(): JsonObject {
    return {
      task: this.task,
      args: [...this.args],
      kwargs: this.kwargs ?? {},
      immutable: this.immutable,
      subtask_type: null,
    };
  }
}

/** A chain: each step's result is prepended to the next step's args. */
export class Chain<In extends readonly unknown[], Out, H> extends Canvas<In, Out, H> {
  readonly kind = 'chain' as const;
  readonly steps: readonly AnySignature[];
  constructor(host: CanvasHost, steps: readonly AnySignature[], options: CanvasOptions = {}) {
    super(host, options);
    this.steps = steps;
  }
  override clone(): this {
    return new Chain<In, Out, H>(this.host, this.steps, { ...this.options }) as this;
  }
}

/** A group: members run in parallel; results come back in member order. */
export class Group<In extends readonly unknown[], Out extends readonly unknown[]> extends Canvas<In, Out, GroupResult<Out>> {
  readonly kind = 'group' as const;
  readonly members: readonly AnySignature[];
  constructor(host: CanvasHost, members: readonly AnySignature[], options: CanvasOptions = {}) {
    super(host, options);
    this.members = members;
  }
  override clone(): this {
    return new Group<In, Out>(this.host, this.members, { ...this.options }) as this;
  }
}

/** A chord: the body runs once, after every header member finished, with their results in order. */
export class Chord<In extends readonly unknown[], Out, H> extends Canvas<In, Out, H> {
  readonly kind = 'chord' as const;
  readonly header: Group<readonly unknown[], readonly unknown[]>;
  readonly body: AnySignature;
  constructor(host: CanvasHost, header: Group<readonly unknown[], readonly unknown[]>, body: AnySignature, options: CanvasOptions = {}) {
    super(host, options);
    this.header = header;
    this.body = body;
  }
  override clone(): this {
    return new Chord<In, Out, H>(this.host, this.header, this.body, { ...this.options }) as this;
  }
}

export function isSignature(x: unknown): x is AnySignature {
  return x instanceof Canvas;
}

export function assertSignature(x: unknown, where: string): asserts x is AnySignature {
  if (!isSignature(x)) {
    throw new CeleriacError(
      ErrorCodes.INVALID_CANVAS,
      `${where} expects a signature (task.s(), task.si(), chain, group or chord), got ${describe(x)}`,
    );
  }
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  if (typeof x === 'function') return `a function${x.name ? ` (${x.name})` : ''}; did you mean ${x.name || 'task'}.s()?`;
  if (typeof x === 'object') return `an object (${Object.keys(x).slice(0, 3).join(', ') || 'no keys'})`;
  return `${typeof x} ${String(x)}`;
}

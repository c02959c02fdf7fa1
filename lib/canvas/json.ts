/**
 * A canvas written as plain JSON, for callers that hold no signatures: the CLI (`celeriac apply`)
 * and the dev server's `POST /api/call`. One form per primitive:
 *
 * ```json
 * {"task": "add", "args": [2, 3]}                                   a signature (`immutable`, `kwargs`)
 * {"chain": [{"task": "add", "args": [2, 3]}, {"task": "add", "args": [4]}]}
 * {"group": [{"task": "add", "args": [1, 1]}, {"task": "add", "args": [2, 2]}]}
 * {"chord": {"header": [{"task": "add", "args": [1, 1]}], "body": {"task": "sum"}}}
 * ```
 *
 * Each form also takes `options` (the call options that travel as JSON: countdown, eta, expires,
 * queue, timeLimit, softTimeLimit, ignoreResult, headers, chordDeadline), `link` and `linkError`
 * (lists of canvases). Unknown keys are refused, naming where they are.
 */
import * as v from 'valibot';
import { CeleriacError, ErrorCodes } from '../errors';
import type { Json, JsonObject } from '../protocol/json';
import type { CallOptions } from './signature';
import { type AnySignature, type CanvasHost, type CanvasOptions, Chain, Chord, Group, Signature } from './signature';

/** The JSON form of a canvas (see the module comment). */
export type CanvasJson =
  | ({ readonly task: string; readonly args?: readonly Json[]; readonly kwargs?: JsonObject; readonly immutable?: boolean } & Common)
  | ({ readonly chain: readonly CanvasJson[] } & Common)
  | ({ readonly group: readonly CanvasJson[] } & Common)
  | ({ readonly chord: { readonly header: readonly CanvasJson[]; readonly body: CanvasJson } } & Common);

interface Common {
  readonly options?: JsonCallOptions;
  readonly link?: readonly CanvasJson[];
  readonly linkError?: readonly CanvasJson[];
}

/** The call options a JSON canvas may carry. */
export type JsonCallOptions = Pick<
  CallOptions,
  'countdown' | 'queue' | 'timeLimit' | 'softTimeLimit' | 'ignoreResult' | 'headers' | 'chordDeadline'
> & { readonly eta?: string; readonly expires?: number | string };

/** What a call from outside the code (`celeriac call` / `apply`, the dev server's `POST /api/call`) may set. */
export interface RequestOptions {
  /** Seconds. */
  readonly countdown?: number;
  /** Call once: a later request with the same key gets the first one's handle (README, "Call once"). */
  readonly idempotencyKey?: string;
}

/** The call options of a {@link RequestOptions}, without the fields it leaves unset. */
export function requestCallOptions(o: RequestOptions): Pick<CallOptions, 'countdown' | 'idempotencyKey'> {
  return {
    ...(o.countdown === undefined ? {} : { countdown: o.countdown }),
    ...(o.idempotencyKey === undefined ? {} : { idempotencyKey: o.idempotencyKey }),
  };
}

const seconds = v.pipe(v.number(), v.finite(), v.minValue(0));
const Options = v.strictObject({
  countdown: v.optional(seconds),
  eta: v.optional(v.pipe(v.string(), v.isoTimestamp())),
  expires: v.optional(v.union([seconds, v.pipe(v.string(), v.isoTimestamp())])),
  queue: v.optional(v.pipe(v.string(), v.minLength(1))),
  timeLimit: v.optional(seconds),
  softTimeLimit: v.optional(seconds),
  ignoreResult: v.optional(v.boolean()),
  headers: v.optional(v.record(v.string(), v.unknown())),
  chordDeadline: v.optional(seconds),
});

const FORMS = ['task', 'chain', 'group', 'chord'] as const;
const COMMON = ['options', 'link', 'linkError'];
const KEYS: Record<(typeof FORMS)[number], readonly string[]> = {
  task: ['task', 'args', 'kwargs', 'immutable', ...COMMON],
  chain: ['chain', ...COMMON],
  group: ['group', ...COMMON],
  chord: ['chord', ...COMMON],
};
const TaskFields = v.object({
  task: v.pipe(v.string(), v.minLength(1)),
  args: v.optional(v.array(v.unknown())),
  kwargs: v.optional(v.record(v.string(), v.unknown())),
  immutable: v.optional(v.boolean()),
});

/**
 * Reads a JSON canvas into signatures of `host` (`app.signature` for each task). The structure is
 * walked by hand so that an error names the form it is in (`chain[1]`), not "matched no union
 * member"; leaves (task fields, options) are checked by schemas.
 *
 * @throws CeleriacError INVALID_CANVAS naming the first offending place (`chain[1].task`).
 */
export function canvasFromJson(host: CanvasHost, value: unknown): AnySignature {
  return build(host, read(value, 'canvas'));
}

function read(value: unknown, at: string): CanvasJson {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    invalid(at, `must be an object with one of ${FORMS.map((f) => `"${f}"`).join(', ')}`);
  }
  const o = value as Record<string, unknown>;
  const forms = FORMS.filter((f) => f in o);
  if (forms.length !== 1) {
    invalid(
      at,
      `must have exactly one of ${FORMS.map((f) => `"${f}"`).join(', ')} (it has ${
        Object.keys(o)
          .map((k) => `"${k}"`)
          .join(', ') || 'no keys'
      })`,
    );
  }
  const form = forms[0] as (typeof FORMS)[number];
  const extra = Object.keys(o).find((k) => !KEYS[form].includes(k));
  if (extra !== undefined) invalid(at, `a "${form}" canvas has no key "${extra}" (its keys: ${KEYS[form].join(', ')})`);
  const common: { -readonly [K in keyof Common]: Common[K] } = {};
  if (o.options !== undefined) common.options = leaf(Options, o.options, `${at}.options`) as JsonCallOptions;
  if (o.link !== undefined) common.link = list(o.link, `${at}.link`);
  if (o.linkError !== undefined) common.linkError = list(o.linkError, `${at}.linkError`);
  switch (form) {
    case 'task':
      return { ...(leaf(TaskFields, o, at) as { task: string; args?: Json[]; kwargs?: JsonObject; immutable?: boolean }), ...common };
    case 'chain': {
      const steps = list(o.chain, `${at}.chain`);
      if (steps.length === 0) invalid(`${at}.chain`, 'needs at least one step');
      return { chain: steps, ...common };
    }
    case 'group':
      return { group: list(o.group, `${at}.group`), ...common };
    case 'chord': {
      const c = o.chord as Record<string, unknown> | null;
      if (c === null || typeof c !== 'object' || Array.isArray(c) || !('header' in c) || !('body' in c)) {
        invalid(`${at}.chord`, 'must be an object { "header": [...], "body": {...} }');
      }
      const stray = Object.keys(c).find((k) => k !== 'header' && k !== 'body');
      if (stray !== undefined) invalid(`${at}.chord`, `has no key "${stray}" (its keys: header, body)`);
      return { chord: { header: list(c.header, `${at}.chord.header`), body: read(c.body, `${at}.chord.body`) }, ...common };
    }
  }
}

function list(value: unknown, at: string): CanvasJson[] {
  if (!Array.isArray(value)) invalid(at, 'must be an array of canvases');
  return value.map((x, i) => read(x, `${at}[${i}]`));
}

function leaf(schema: v.GenericSchema, value: unknown, at: string): unknown {
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const path = v.getDotPath(issue);
  throw new CeleriacError(ErrorCodes.INVALID_CANVAS, `canvas JSON is invalid: ${path ? `${at}.${path}` : at}: ${issue.message}`);
}

function invalid(at: string, what: string): never {
  throw new CeleriacError(ErrorCodes.INVALID_CANVAS, `canvas JSON is invalid: ${at} ${what}`);
}

/** Every task name a JSON canvas calls, links included (to check them against an app). */
export function taskNamesOf(c: CanvasJson, out: Set<string> = new Set()): Set<string> {
  if ('task' in c) out.add(c.task);
  else if ('chain' in c) for (const s of c.chain) taskNamesOf(s, out);
  else if ('group' in c) for (const m of c.group) taskNamesOf(m, out);
  else {
    for (const m of c.chord.header) taskNamesOf(m, out);
    taskNamesOf(c.chord.body, out);
  }
  for (const l of [...(c.link ?? []), ...(c.linkError ?? [])]) taskNamesOf(l, out);
  return out;
}

function build(host: CanvasHost, c: CanvasJson): AnySignature {
  const options: CanvasOptions = {
    ...(c.options ?? {}),
    ...(c.link ? { link: c.link.map((l) => build(host, l)) } : {}),
    ...(c.linkError ? { linkError: c.linkError.map((l) => build(host, l)) } : {}),
  };
  if ('task' in c) {
    return new Signature(host, c.task, [...(c.args ?? [])], {
      ...(c.kwargs ? { kwargs: c.kwargs } : {}),
      ...(c.immutable ? { immutable: true } : {}),
      options,
    }) as AnySignature;
  }
  if ('chain' in c)
    return new Chain(
      host,
      c.chain.map((s) => build(host, s)),
      options,
    ) as AnySignature;
  if ('group' in c)
    return new Group(
      host,
      c.group.map((m) => build(host, m)),
      options,
    ) as AnySignature;
  const header = new Group(
    host,
    c.chord.header.map((m) => build(host, m)),
  );
  return new Chord(host, header, build(host, c.chord.body), options) as AnySignature;
}

/** What {@link applyCanvasJson} needs: the app (its canvas host and, to check names, its tasks). */
export interface JsonCanvasHost extends CanvasHost {
  /** When given, every task the canvas names must be one of these (a producer without the app's code sends by name). */
  taskNames?(): readonly string[];
}

/** What an applied JSON canvas gives back: the handle's id, and a group's member ids. */
export interface AppliedCanvas {
  /** The last task's id (a task, a chain, a chord's body) or the group id. */
  readonly id: string;
  readonly kind: AnySignature['kind'];
  /** A group's member result ids, in order: what to wait for (a group itself stores nothing). */
  readonly members?: readonly string[];
}

/**
 * Reads and applies a JSON canvas after checking that the app has every task it names — the one
 * path of the CLI's `apply` and the dev server's `POST /api/call` with `{ canvas }`.
 *
 * @throws CeleriacError INVALID_CANVAS; TASK_NOT_REGISTERED naming the unknown task and the known ones.
 */
export async function applyCanvasJson(
  host: JsonCanvasHost,
  value: unknown,
  options: JsonCallOptions & Pick<CallOptions, 'idempotencyKey'> = {},
): Promise<AppliedCanvas> {
  const json = read(value, 'canvas');
  const known = new Set(host.taskNames?.() ?? []);
  for (const name of host.taskNames ? taskNamesOf(json) : []) {
    if (!known.has(name)) {
      throw new CeleriacError(
        ErrorCodes.TASK_NOT_REGISTERED,
        `app "${host.name}" has no task "${name}"; its tasks are: ${[...known].join(', ')}`,
      );
    }
  }
  const sig = build(host, json);
  const handle = (await sig.applyAsync([], options as CallOptions)) as { id: string; results?: readonly { id: string }[] };
  return { id: handle.id, kind: sig.kind, ...(handle.results ? { members: handle.results.map((r) => r.id) } : {}) };
}

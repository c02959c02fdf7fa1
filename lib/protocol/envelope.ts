import * as v from 'valibot';
import { CeleriacError, ErrorCodes } from '../errors';
import { checkPlan, validateFlow } from './flow';
import { ID_RULE, isId, safeId } from './ids';
import { assertSafeJson, type Json, type JsonObject } from './json';
import { type Frame, isJoinFrame, type JoinFrame, type Plan, type WorkflowRef } from './plan';

/** The one envelope version this codec writes. Readers reject others with UNSUPPORTED_VERSION. */
export const ENVELOPE_VERSION = 1 as const;

/** SQS's message size limit (bytes). Checked before sending, with the limit in the error. */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;

/** Headers every task message carries (Celery protocol 2 headers, camelCased). */
export interface EnvelopeHeaders {
  readonly rootId: string;
  readonly parentId: string | null;
  readonly groupId?: string;
  readonly groupIndex?: number;
  /** Attempts already made (0 on the first). */
  readonly retries: number;
  /** Earliest run time, ISO-8601. */
  readonly eta?: string;
  /** After this ISO-8601 time the message is discarded as REVOKED (expired). */
  readonly expires?: string;
  /** [hard, soft] seconds. */
  readonly timeLimit?: readonly [number | null, number | null];
  readonly ignoreResult?: boolean;
  /** The logical queue the message was sent to; retries go back there. */
  readonly queue?: string;
  /** User headers (`applyAsync({ headers })`), preserved across retries. */
  readonly custom?: JsonObject;
  /**
   * Replacement nesting of a call that took over a replaced task's id (Celery's
   * `replaced_task_nesting`); absent = 0. Tells the replaced call's own redelivery (which reads
   * the replace guard of nesting + 1) from the replacement's call under the same id.
   */
  readonly replaced?: number;
  /**
   * Call once (README, "Call once: idempotency keys"): the worker claims this key for the message's
   * id before running it; a message whose key another id holds is stored REVOKED as its duplicate.
   */
  readonly idempotencyKey?: string;
}

/**
 * Envelope v1: one task call on the wire.
 *
 * @example
 * ```json
 * {"v":1,"id":"6f1c…","task":"add","args":[2,3],"headers":{"rootId":"6f1c…","parentId":null,"retries":0}}
 * ```
 */
export interface Envelope {
  readonly v: typeof ENVELOPE_VERSION;
  readonly id: string;
  readonly task: string;
  readonly args: readonly Json[];
  readonly kwargs?: JsonObject;
  readonly headers: EnvelopeHeaders;
  /**
   * The workflow this call belongs to (absent for a plain call without links). On the wire it may
   * be left out when it is `{ref: <headers.rootId>}` and a continuation stack is present; the
   * decoder restores it (see compactTopFrame).
   */
  readonly wf?: WorkflowRef;
  /** This call's node in the plan, when it has links or errbacks (absent: it has none). */
  readonly at?: number;
  /**
   * Continuation stack, innermost first. On the wire the top join frame may leave out `j` and `x`
   * when they equal `headers.groupId` and `headers.groupIndex`; the decoder restores them.
   */
  readonly k?: readonly Frame[];
}

const json = v.custom<Json>(() => true);
/** A plain JSON object (kwargs, headers): an array is refused, not turned into {"0": …}. */
const jsonObject = v.custom<JsonObject>((x) => typeof x === 'object' && x !== null && !Array.isArray(x), 'expected a JSON object');

export { TASK_ID_PATTERN } from './ids';

const id = v.pipe(
  v.string(),
  v.check((s: string) => isId(s), ID_RULE),
);
/** Header and frame numbers: safe non-negative integers (a `retries` of 1e300 is a lie, not a count). */
const nat = v.pipe(v.number(), v.safeInteger(), v.minValue(0));
const iso = v.pipe(v.string(), v.isoTimestamp());
/**
 * Longest time limit accepted, in seconds: a timer longer than setTimeout's 2^31-1 ms fires at
 * once (Node clamps it to 1 ms), so a larger limit is refused rather than run as a zero limit.
 */
export const MAX_TIMER_SECONDS = 2_147_483;
const seconds = v.pipe(v.number(), v.minValue(0), v.maxValue(MAX_TIMER_SECONDS));
const limit = v.nullable(seconds);
/** A date the engine turns into an ISO time later (`new Date(s)` must not be Invalid Date). */
const dateString = v.pipe(
  v.string(),
  v.check((s: string) => !Number.isNaN(Date.parse(s)), 'expected a date'),
);
/** An idempotency key: 1-256 characters (lib/runtime/idempotency.ts scopes and stores it). */
const idempotencyKey = v.pipe(v.string(), v.minLength(1), v.maxLength(256));
/** Logical queue names travel in headers and plans; the app maps them to SQS queues. */
const queueName = v.pipe(v.string(), v.minLength(1), v.maxLength(256));

const nodeOptions = v.object({
  queue: v.optional(queueName),
  // Countdowns, expiries and chord deadlines are due times, not timers: days or months are fine.
  countdown: v.optional(v.number()),
  eta: v.optional(dateString),
  expires: v.optional(v.union([v.number(), dateString])),
  timeLimit: v.optional(seconds),
  softTimeLimit: v.optional(seconds),
  ignoreResult: v.optional(v.boolean()),
  headers: v.optional(jsonObject),
});
const planNodeSchema = v.variant('t', [
  v.object({
    t: v.literal('task'),
    id,
    name: v.string(),
    args: v.array(json),
    kwargs: v.optional(jsonObject),
    imm: v.optional(v.literal(true)),
    opts: v.optional(nodeOptions),
    link: v.optional(v.array(nat)),
    err: v.optional(v.array(nat)),
    rep: v.optional(nat),
  }),
  v.object({ t: v.literal('chain'), steps: v.array(nat) }),
  v.object({ t: v.literal('group'), id, members: v.array(nat) }),
  v.object({ t: v.literal('chord'), header: nat, body: nat, deadline: v.optional(v.number()) }),
]);
/** Schema of a stored or inline plan. */
export const planSchema = v.object({ v: v.literal(1), id, root: nat, nodes: v.array(planNodeSchema) });
const isNat = (x: unknown): boolean => Number.isSafeInteger(x) && (x as number) >= 0;
/** A chord deadline (epoch ms) in a frame: a finite non-negative number (JSON checks made it finite). */
const isTime = (x: unknown): boolean => typeof x === 'number' && x >= 0 && x <= Number.MAX_SAFE_INTEGER;
/** A continuation frame: `{c, i}` or `{j, g, x, n, b?, d?}` (checked by hand: it is on every hop of a workflow). */
const isFrame = (f: unknown): boolean => {
  if (typeof f !== 'object' || f === null) return false;
  const o = f as Record<string, unknown>;
  if ('c' in o) return isNat(o.c) && isNat(o.i) && Object.keys(o).length === 2;
  if (!(isId(o.j) && isNat(o.g) && isNat(o.x) && isNat(o.n))) return false;
  let keys = 4;
  if (o.b !== undefined) {
    if (!isNat(o.b)) return false;
    keys++;
  }
  if (o.d !== undefined) {
    if (!isTime(o.d)) return false;
    keys++;
  }
  // Exactly the keys above, nothing else (counted: this runs for every frame of every hop).
  return Object.keys(o).length === keys;
};
const frameSchema = v.custom<Frame>(isFrame, 'a continuation frame must be {c, i} or {j, g, x, n, b?, d?}');

/** `{ref}`, checked by hand (it is on every message of a stored workflow); exactly that one key. */
const isRef = (x: unknown): boolean => {
  if (typeof x !== 'object' || x === null) return false;
  const ref = (x as { ref?: unknown }).ref;
  return isId(ref) && Object.keys(x).length === 1;
};
const refSchema = v.custom<{ ref: string }>(isRef, 'a workflow reference must be {ref: <id>}');

/** Schema of an envelope v1 (the fast path defers to it for anything unusual). */
export const envelopeSchema = v.object({
  v: v.literal(1),
  id,
  task: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  args: v.array(json),
  kwargs: v.optional(jsonObject),
  headers: v.object({
    rootId: id,
    parentId: v.nullable(id),
    groupId: v.optional(id),
    groupIndex: v.optional(nat),
    retries: nat,
    eta: v.optional(iso),
    expires: v.optional(iso),
    timeLimit: v.optional(v.tuple([limit, limit])),
    ignoreResult: v.optional(v.boolean()),
    queue: v.optional(queueName),
    custom: v.optional(jsonObject),
    replaced: v.optional(nat),
    idempotencyKey: v.optional(idempotencyKey),
  }),
  // `{ref}` first: it is what workflows with groups or chords carry, and a failed union branch is costly.
  wf: v.optional(v.union([refSchema, v.object({ plan: planSchema })])),
  at: v.optional(nat),
  k: v.optional(v.pipe(v.array(frameSchema), v.maxLength(64))),
});

/** A foreign minimal call: `{"task":"add","args":[2,3]}` (+ optional `id`, `parentId`, `rootId`, `kwargs`, `headers`, `idempotencyKey`). */
const minimalCallSchema = v.object({
  task: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  args: v.optional(v.array(json)),
  kwargs: v.optional(jsonObject),
  id: v.optional(id),
  parentId: v.optional(v.nullable(id)),
  rootId: v.optional(id),
  headers: v.optional(jsonObject),
  idempotencyKey: v.optional(idempotencyKey),
});

// ── fast paths ──────────────────────────────────────────────────────────────────────────────
// Every message is decoded once per delivery, and a worker loads every stored plan once: the
// common shapes are checked by hand first. A fast check answers "valid, and valibot would return
// exactly this value" or "ask valibot", never "invalid": anything unusual (an unknown key, a rare
// header, an inline plan with options) goes to the schemas above, which also word every error.
// test/unit/protocol/envelope-fast-path.test.ts holds the two to that promise.

const isPlainObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNatArray = (x: unknown): boolean => Array.isArray(x) && x.every(isNat);

const FAST_ENVELOPE_KEYS: ReadonlySet<string> = new Set(['v', 'id', 'task', 'args', 'kwargs', 'headers', 'wf', 'at', 'k']);
const FAST_HEADER_KEYS: ReadonlySet<string> = new Set(['rootId', 'parentId', 'groupId', 'groupIndex', 'retries', 'queue', 'ignoreResult']);

function onlyKeys(o: Record<string, unknown>, allowed: ReadonlySet<string>): boolean {
  for (const key of Object.keys(o)) if (!allowed.has(key)) return false;
  return true;
}

/**
 * True when `raw` is an envelope v1 of the common shape that {@link envelopeSchema} accepts and
 * returns unchanged; false means "not sure" (the schema decides).
 */
export function isCommonEnvelope(raw: unknown): raw is Envelope {
  if (!isPlainObject(raw) || raw.v !== 1 || !onlyKeys(raw, FAST_ENVELOPE_KEYS)) return false;
  const { id: envId, task, args, kwargs, headers: h, wf, at, k } = raw;
  if (!isId(envId) || typeof task !== 'string' || task.length < 1 || task.length > 256 || !Array.isArray(args)) return false;
  if (kwargs !== undefined && !isPlainObject(kwargs)) return false;
  if (!isPlainObject(h) || !onlyKeys(h, FAST_HEADER_KEYS)) return false;
  if (!isId(h.rootId) || !(h.parentId === null || isId(h.parentId)) || !isNat(h.retries)) return false;
  if (h.groupId !== undefined && !isId(h.groupId)) return false;
  if (h.groupIndex !== undefined && !isNat(h.groupIndex)) return false;
  if (h.queue !== undefined && !(typeof h.queue === 'string' && h.queue.length > 0 && h.queue.length <= 256)) return false;
  if (h.ignoreResult !== undefined && typeof h.ignoreResult !== 'boolean') return false;
  if (wf !== undefined && !isRef(wf) && !(isPlainObject(wf) && Object.keys(wf).length === 1 && isCommonPlan(wf.plan))) return false;
  if (at !== undefined && !isNat(at)) return false;
  if (k !== undefined && !(Array.isArray(k) && k.length <= 64 && k.every(isFrame))) return false;
  return true;
}

const FAST_PLAN_KEYS: ReadonlySet<string> = new Set(['v', 'id', 'root', 'nodes']);
const FAST_TASK_NODE_KEYS: ReadonlySet<string> = new Set(['t', 'id', 'name', 'args', 'kwargs', 'imm', 'link', 'err']);

function isCommonNode(n: unknown): boolean {
  if (!isPlainObject(n)) return false;
  switch (n.t) {
    case 'task':
      return (
        onlyKeys(n, FAST_TASK_NODE_KEYS) &&
        isId(n.id) &&
        typeof n.name === 'string' &&
        Array.isArray(n.args) &&
        (n.kwargs === undefined || isPlainObject(n.kwargs)) &&
        (n.imm === undefined || n.imm === true) &&
        (n.link === undefined || isNatArray(n.link)) &&
        (n.err === undefined || isNatArray(n.err))
      );
    case 'chain':
      return Object.keys(n).length === 2 && isNatArray(n.steps);
    case 'group':
      return Object.keys(n).length === 3 && isId(n.id) && isNatArray(n.members);
    case 'chord':
      return (
        Object.keys(n).length === (n.deadline === undefined ? 3 : 4) &&
        isNat(n.header) &&
        isNat(n.body) &&
        (n.deadline === undefined || typeof n.deadline === 'number')
      );
    default:
      return false;
  }
}

/**
 * True when `raw` is a plan of the common shape (task nodes without options) that
 * {@link planSchema} accepts and returns unchanged; false means "not sure" (the schema decides).
 */
export function isCommonPlan(raw: unknown): raw is Plan {
  if (!isPlainObject(raw) || raw.v !== 1 || !onlyKeys(raw, FAST_PLAN_KEYS)) return false;
  return isId(raw.id) && isNat(raw.root) && Array.isArray(raw.nodes) && raw.nodes.every(isCommonNode);
}

/**
 * What the worker learned from one message body. A refused body is stored under `id`, the
 * transport's message id made safe ({@link safeId}), NEVER under the id the body claims: a sender
 * could otherwise fail a task that already succeeded, or take a neighbour's outcome. What it
 * claimed (`claimedId`, `task`) is kept for the error message and the logs only.
 */
export type Decoded =
  | { readonly ok: true; readonly envelope: Envelope; readonly foreign: false | 'minimal' | 'payload' }
  | {
      readonly ok: false;
      readonly error: CeleriacError;
      readonly id: string;
      readonly task?: string;
      readonly claimedId?: string;
    };

/** Where a message came from, for foreign messages that carry no id or task name. */
export interface DecodeContext {
  /** The transport's message id: a foreign message's task id (stable across redeliveries). */
  readonly messageId: string;
  /** The task that owns this queue, if exactly one does: receives non-envelope bodies. */
  readonly queueOwner?: string;
  readonly queue?: string;
  readonly maxDepth?: number;
}

/**
 * Decodes one message body. Never throws: a bad body comes back as `{ ok: false }` with a specific
 * error code and the best id to store the failure under.
 *
 * Accepted, in order: an envelope v1; a minimal call `{task, args?, kwargs?, id?}`; on a queue owned
 * by one task, any other JSON value, passed to that task as its single argument.
 */
export function decodeEnvelope(body: string, ctx: DecodeContext): Decoded {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (e) {
    return fail(ErrorCodes.MALFORMED_JSON, `message body is not JSON: ${(e as Error).message}`, ctx);
  }
  try {
    assertSafeJson(raw, ctx.maxDepth);
  } catch (e) {
    return refused(e as CeleriacError, ctx, raw);
  }
  const obj = raw as Record<string, unknown>;
  const isObject = typeof raw === 'object' && raw !== null && !Array.isArray(raw);
  if (isObject && 'v' in obj) {
    if (obj.v !== ENVELOPE_VERSION) {
      return fail(
        ErrorCodes.UNSUPPORTED_VERSION,
        `envelope version ${JSON.stringify(obj.v)} is not supported (this worker reads v${ENVELOPE_VERSION})`,
        ctx,
        raw,
      );
    }
    expandTopFrame(obj);
    let envelope: Envelope;
    if (isCommonEnvelope(raw)) envelope = raw;
    else {
      const r = v.safeParse(envelopeSchema, raw);
      if (!r.success) return fail(ErrorCodes.BAD_ENVELOPE, `envelope v1 is malformed: ${describeIssues(r.issues)}`, ctx, raw);
      envelope = r.output as Envelope;
    }
    // An inline plan is checked with the message; a stored one once loaded (see lib/runtime/admit.ts).
    if (envelope.wf !== undefined && 'plan' in envelope.wf) {
      try {
        validateFlow(envelope.wf.plan, envelope);
      } catch (e) {
        return refused(e as CeleriacError, ctx, raw);
      }
    }
    return { ok: true, envelope, foreign: false };
  }
  if (isObject && typeof obj.task === 'string' && !('detail-type' in obj) && !('Records' in obj)) {
    const r = v.safeParse(minimalCallSchema, raw);
    if (!r.success) {
      return fail(ErrorCodes.BAD_ENVELOPE, `call message is malformed: ${describeIssues(r.issues)}`, ctx, raw);
    }
    const m = r.output;
    const taskId = m.id ?? safeId(ctx.messageId);
    return {
      ok: true,
      foreign: 'minimal',
      envelope: {
        v: 1,
        id: taskId,
        task: m.task,
        args: m.args ?? [],
        ...(m.kwargs ? { kwargs: m.kwargs } : {}),
        headers: {
          rootId: m.rootId ?? taskId,
          parentId: m.parentId ?? null,
          retries: 0,
          ...(ctx.queue ? { queue: ctx.queue } : {}),
          ...(m.headers ? { custom: m.headers } : {}),
          ...(m.idempotencyKey !== undefined ? { idempotencyKey: m.idempotencyKey } : {}),
        },
      },
    };
  }
  if (ctx.queueOwner === undefined) {
    return fail(
      ErrorCodes.FOREIGN_MESSAGE_UNROUTABLE,
      `message is neither a celeriac envelope nor a {"task": …} call, and queue ${ctx.queue ?? '?'} is shared by several tasks, so it cannot be routed`,
      ctx,
    );
  }
  return {
    ok: true,
    foreign: 'payload',
    envelope: {
      v: 1,
      id: safeId(ctx.messageId),
      task: ctx.queueOwner,
      args: [raw as Json],
      headers: { rootId: safeId(ctx.messageId), parentId: null, retries: 0, ...(ctx.queue ? { queue: ctx.queue } : {}) },
    },
  };
}

/**
 * Two defaults keep workflow messages short (a chord of 10,000 sends 10,000 of them), applied
 * here and undone by {@link expandTopFrame} before anything is validated:
 * - a message with a continuation stack and no `wf` belongs to the stored plan named by its
 *   `rootId` (the plan of a workflow started at the top is stored under its root id), so
 *   `wf: {ref: <rootId>}` is left out;
 * - a group member's join id and index are its `groupId` and `groupIndex` headers, so the top
 *   join frame leaves them out (`{g, n, b?}`).
 * Together about 100 bytes less per chord member.
 */
function compactTopFrame(env: Envelope): Envelope {
  const k = env.k;
  if (k === undefined || k.length === 0) return env;
  const h = env.headers;
  const dropRef = env.wf !== undefined && 'ref' in env.wf && env.wf.ref === h.rootId;
  const top = k[0] as Frame;
  const shortTop = isJoinFrame(top) && top.j === h.groupId && top.x === h.groupIndex;
  if (!dropRef && !shortTop) return env;
  // Built field by field in the usual order (a spread then `delete` leaves a slow dictionary-mode
  // object that JSON.stringify then walks slowly).
  const out: { -readonly [K in keyof Envelope]: Envelope[K] } = { v: env.v, id: env.id, task: env.task, args: env.args, headers: h };
  if (env.kwargs !== undefined) out.kwargs = env.kwargs;
  if (!dropRef && env.wf !== undefined) out.wf = env.wf;
  if (env.at !== undefined) out.at = env.at;
  out.k = shortTop ? shortenTop(k, top as JoinFrame) : k;
  return out;
}

function shortenTop(k: readonly Frame[], top: JoinFrame): Frame[] {
  // Built by hand: rest destructuring is several times slower, and this runs for every member.
  const short: Record<string, number> = { g: top.g, n: top.n };
  if (top.b !== undefined) short.b = top.b;
  if (top.d !== undefined) short.d = top.d;
  const out = k.slice();
  out[0] = short as unknown as Frame;
  return out;
}

/** The other half of {@link compactTopFrame}, on the parsed body before it is validated. */
export function expandTopFrame(raw: Record<string, unknown>): void {
  const k = raw.k;
  if (!Array.isArray(k) || k.length === 0) return;
  if (raw.wf === undefined) {
    const rootId = (raw.headers as { rootId?: unknown } | undefined)?.rootId;
    // Without a rootId the envelope fails validation anyway (rootId is required).
    if (typeof rootId === 'string') raw.wf = { ref: rootId };
  }
  const top: unknown = k[0];
  if (typeof top !== 'object' || top === null || Array.isArray(top) || 'c' in top || 'j' in top || 'x' in top) return;
  const h = raw.headers as { groupId?: unknown; groupIndex?: unknown } | undefined;
  // Without the headers the frame stays short and fails validation as a malformed frame.
  if (typeof h !== 'object' || h === null || h.groupId === undefined || h.groupIndex === undefined) return;
  k[0] = { j: h.groupId, x: h.groupIndex, ...top };
}

/** Encodes an envelope, refusing one over the SQS limit with MESSAGE_TOO_LARGE. */
export function encodeEnvelope(env: Envelope, maxBytes: number = SQS_MAX_MESSAGE_BYTES): string {
  const body = JSON.stringify(compactTopFrame(env));
  // Fast path: a UTF-16 length under a third of the limit cannot exceed it in UTF-8.
  if (body.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > maxBytes) {
      throw new CeleriacError(
        ErrorCodes.MESSAGE_TOO_LARGE,
        `message for task ${env.task} (${env.id}) is ${bytes} bytes; the queue limit is ${maxBytes} bytes. Pass a reference (an S3 key, a table key) instead of the data.`,
        { details: { bytes, limit: maxBytes, task: env.task } },
      );
    }
  }
  return body;
}

/**
 * Validates a plan read from the store: its shape (BAD_ENVELOPE) and its structure (BAD_WORKFLOW:
 * a tree of in-range nodes, see lib/protocol/flow.ts).
 */
export function decodePlan(raw: unknown): Plan {
  let plan: Plan;
  if (isCommonPlan(raw)) plan = raw;
  else {
    const r = v.safeParse(planSchema, raw);
    if (!r.success) throw new CeleriacError(ErrorCodes.BAD_ENVELOPE, `stored workflow plan is malformed: ${describeIssues(r.issues)}`);
    plan = r.output as Plan;
  }
  checkPlan(plan);
  return plan;
}

function fail(code: string, message: string, ctx: DecodeContext, raw?: unknown): Decoded {
  return refused(new CeleriacError(code, message), ctx, raw);
}

/** A refusal: stored under the transport id; what the body claimed is only remembered. */
function refused(error: CeleriacError, ctx: DecodeContext, raw: unknown): Decoded {
  const claimed = raw as { id?: unknown; task?: unknown } | null | undefined;
  const c = typeof claimed === 'object' && claimed !== null ? claimed : undefined;
  return {
    ok: false,
    error,
    id: safeId(ctx.messageId),
    ...(typeof c?.task === 'string' ? { task: c.task } : {}),
    ...(typeof c?.id === 'string' ? { claimedId: c.id } : {}),
  };
}

function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 3)
    .map((i) => `${i.path?.map((p) => String(p.key)).join('.') || '$'}: ${i.message}`)
    .join('; ');
}

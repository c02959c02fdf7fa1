/**
 * The wire shapes, each described once: readable domain names on the left, the compact JSON keys
 * on the right. This file is the only place that knows the compact keys (`t`, `k`, `j`, …); the
 * domain types (lib/protocol/plan.ts, lib/protocol/envelope.ts) are inferred from these tables,
 * so a new field — a header, a frame entry — is one row here and nothing else.
 *
 * The wire format is frozen (messages on queues and plans in tables must still decode, other
 * languages write it per design.md): rename a domain name freely, never a wire key.
 */
import * as v from 'valibot';
import {
  array,
  bool,
  type Domain,
  encodedOnce,
  fromSchema,
  id,
  type Kind,
  leaf,
  literal,
  name,
  nat,
  nullable,
  num,
  oneOf,
  opt,
  record,
  req,
  str,
} from './codec';
import { FAIRNESS_KEY_RULE, isFairnessKey } from './fairness';
import type { Json, JsonObject } from './json';

/**
 * Longest time limit accepted, in seconds: a timer longer than setTimeout's 2^31-1 ms fires at
 * once (Node clamps it to 1 ms), so a larger limit is refused rather than run as a zero limit.
 */
export const MAX_TIMER_SECONDS = 2_147_483;
/** Most continuation frames a message may carry (the nesting depth of a canvas, not its size). */
export const MAX_FRAMES = 64;

// JSON values were checked by assertSafeJson before decoding; only their container is checked here.
const jsonArray = leaf<readonly Json[]>(Array.isArray, 'an array');
/** A plain JSON object (kwargs, headers): an array is refused, not turned into {"0": …}. */
const jsonObject = leaf<JsonObject>((x) => typeof x === 'object' && x !== null && !Array.isArray(x), 'a JSON object');
const taskName = name(1, 256);
/** Logical queue names travel in headers and plans; the app maps them to SQS queues. */
const queueName = name(1, 256);
/** An idempotency key: 1-256 characters (lib/runtime/idempotency.ts scopes and stores it). */
const idempotencyKey = name(1, 256);
/**
 * Longest an idempotency key may hold, seconds: 10 years. Far past any retry that makes a
 * duplicate, and an expiry every store can write (a TTL of 1e200 s overflows DynamoDB's numbers).
 */
export const IDEMPOTENCY_TTL_MAX_SECONDS = 315_360_000;
/** Whether `x` is how long a key may hold: a positive number of seconds, at most {@link IDEMPOTENCY_TTL_MAX_SECONDS}. */
export function isIdempotencyTtl(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x > 0 && x <= IDEMPOTENCY_TTL_MAX_SECONDS;
}
/** How long a key holds (lib/runtime/idempotency.ts defaults it). */
const idempotencyTtl = leaf<number>(isIdempotencyTtl, `a positive number of seconds, at most ${IDEMPOTENCY_TTL_MAX_SECONDS} (10 years)`);
/** Trace context travels as written: a malformed one is ignored by the propagator (W3C), never a reason to refuse a call. */
const traceContext = name(1, 512);
/** A tenant's key: the message's SQS MessageGroupId (lib/protocol/fairness.ts). */
const fairnessKey = leaf<string>(isFairnessKey, FAIRNESS_KEY_RULE);
/**
 * A field a static link's input transformer fills from the event that fired it: when the event
 * has no such value, the template slot holds `""` (or null), which means absent.
 */
const filled = (kind: Kind<string>): Kind<string | null> => {
  const test = kind.test as (x: unknown) => boolean;
  return leaf<string | null>((x) => x === null || x === '' || test(x), `${kind.expected}, or "" or null for none`);
};
const seconds = leaf<number>(
  (x) => typeof x === 'number' && x >= 0 && x <= MAX_TIMER_SECONDS,
  `a number of seconds from 0 to ${MAX_TIMER_SECONDS}`,
);
const limit = v.nullable(v.pipe(v.number(), v.minValue(0), v.maxValue(MAX_TIMER_SECONDS)));
/** `[hard, soft]` seconds (a rare header: valibot's tuple, which also drops extra items). */
const timeLimit = fromSchema(v.tuple([limit, limit]));
const isoTime = fromSchema(v.pipe(v.string(), v.isoTimestamp()), { identity: true });
/** A date the engine turns into an ISO time later (`new Date(s)` must not be Invalid Date). */
const dateString = leaf<string>((x) => typeof x === 'string' && !Number.isNaN(Date.parse(x)), 'a date');
const numberOrDate = leaf<number | string>(
  (x) => typeof x === 'number' || (typeof x === 'string' && !Number.isNaN(Date.parse(x))),
  'seconds or a date',
);
/** A chord deadline (epoch ms) in a frame: a finite non-negative number (JSON checks made it finite). */
const epochMs = leaf<number>((x) => typeof x === 'number' && x >= 0 && x <= Number.MAX_SAFE_INTEGER, 'a time in epoch ms');
const nodeIndexes = array(nat);

// ── the plan ────────────────────────────────────────────────────────────────────────────────

/** Per-call options that travel with a task node. Times are seconds, as in Celery. */
export const NODE_OPTIONS = record({
  queue: opt('queue', queueName),
  // Countdowns, expiries and chord deadlines are due times, not timers: days or months are fine.
  countdown: opt('countdown', num),
  /** ISO-8601. */
  eta: opt('eta', dateString),
  /** Seconds from dispatch, or ISO-8601 absolute. */
  expires: opt('expires', numberOrDate),
  timeLimit: opt('timeLimit', seconds),
  softTimeLimit: opt('softTimeLimit', seconds),
  ignoreResult: opt('ignoreResult', bool),
  headers: opt('headers', jsonObject),
  /** This step's own fairness key (`sig.set({ fairnessKey })`), over the one it would inherit. */
  fairnessKey: opt('fairnessKey', fairnessKey),
});

/** A task call. */
export const TASK_NODE = record({
  kind: req('t', literal('task')),
  id: req('id', id),
  name: req('name', str),
  args: req('args', jsonArray),
  kwargs: opt('kwargs', jsonObject),
  /** Immutable (`si`): parent results are not prepended. */
  immutable: opt('imm', literal(true)),
  /** The id is the caller's own (`taskId`): a callback or errback runs under it, not a derived one. */
  named: opt('named', literal(true)),
  opts: opt('opts', NODE_OPTIONS),
  /** Callbacks (`link`), node indexes. */
  link: opt('link', nodeIndexes),
  /** Errbacks (`linkError`), node indexes. */
  linkError: opt('err', nodeIndexes),
  /**
   * Set on the task that took over a replaced task's id (`ctx.replace`): how many replacements
   * deep it is (Celery's `replaced_task_nesting`). Its message carries it as `headers.replaced`.
   */
  replaced: opt('rep', nat),
});
export const CHAIN_NODE = record({ kind: req('t', literal('chain')), steps: req('steps', nodeIndexes) });
export const GROUP_NODE = record({ kind: req('t', literal('group')), id: req('id', id), members: req('members', nodeIndexes) });
/** `header` is a group node; the chord's own id is the header group's id. */
export const CHORD_NODE = record({
  kind: req('t', literal('chord')),
  header: req('header', nat),
  body: req('body', nat),
  /** Seconds after the header starts before the chord fails with CHORD_TIMEOUT. */
  deadline: opt('deadline', num),
});

type PlanNodeOf = Domain<typeof TASK_NODE> | Domain<typeof CHAIN_NODE> | Domain<typeof GROUP_NODE> | Domain<typeof CHORD_NODE>;
const NODE_BY_TAG: Readonly<Record<string, Kind<PlanNodeOf>>> = {
  task: TASK_NODE as Kind<PlanNodeOf>,
  chain: CHAIN_NODE as Kind<PlanNodeOf>,
  group: GROUP_NODE as Kind<PlanNodeOf>,
  chord: CHORD_NODE as Kind<PlanNodeOf>,
};
export const PLAN_NODE: Kind<PlanNodeOf> = oneOf<PlanNodeOf>(
  (x) => (typeof x.t === 'string' && Object.hasOwn(NODE_BY_TAG, x.t) ? NODE_BY_TAG[x.t] : undefined),
  (d) => NODE_BY_TAG[d.kind] as Kind<PlanNodeOf>,
  'a plan node with t: "task" | "chain" | "group" | "chord"',
);

/** A stored or inline plan (encoded once per plan object: an inline plan rides on many messages). */
export const PLAN = encodedOnce(
  record({
    v: req('v', literal(1)),
    /** Id of the stored plan document (the root task id of the workflow). */
    id: req('id', id),
    root: req('root', nat),
    nodes: req('nodes', array(PLAN_NODE)),
  }),
);

// ── continuation frames ─────────────────────────────────────────────────────────────────────

/** Continue chain node `chain` at step `step`. Wire: `{c, i}`. */
export const CHAIN_FRAME = record({ chain: req('c', nat), step: req('i', nat) }, { exact: true });

/**
 * Member `member` of `size` of the fan-in `joinId` (a group followed by something). When the last
 * member is counted, `body` (a chord body node) is started with the ordered results; without
 * `body` the list is handed to the next frame. `group` is the group node (to list member result
 * ids at the join). `deadline` is the chord's deadline (epoch ms), on the deadline check's frame
 * only. Wire: `{j, g, x, n, b?, d?}`.
 */
export const JOIN_FRAME = record(
  {
    joinId: req('j', id),
    group: req('g', nat),
    member: req('x', nat),
    size: req('n', nat),
    body: opt('b', nat),
    deadline: opt('d', epochMs),
  },
  { exact: true },
);

type FrameOf = Domain<typeof CHAIN_FRAME> | Domain<typeof JOIN_FRAME>;
export const FRAME: Kind<FrameOf> = oneOf<FrameOf>(
  (x) => (Object.hasOwn(x, 'c') ? CHAIN_FRAME : JOIN_FRAME) as Kind<FrameOf>,
  (d) => ('chain' in d ? CHAIN_FRAME : JOIN_FRAME) as Kind<FrameOf>,
  'a continuation frame {c, i} or {j, g, x, n, b?, d?}',
);

// ── the envelope ────────────────────────────────────────────────────────────────────────────

/** Headers every task message carries (Celery protocol 2 headers, camelCased). */
export const HEADERS = record({
  rootId: req('rootId', id),
  parentId: req('parentId', nullable(id)),
  groupId: opt('groupId', id),
  groupIndex: opt('groupIndex', nat),
  /** Attempts already made (0 on the first). */
  retries: req('retries', nat),
  /** Earliest run time, ISO-8601. */
  eta: opt('eta', isoTime),
  /** After this ISO-8601 time the message is discarded as REVOKED (expired). */
  expires: opt('expires', isoTime),
  /** [hard, soft] seconds. */
  timeLimit: opt('timeLimit', timeLimit),
  ignoreResult: opt('ignoreResult', bool),
  /** The logical queue the message was sent to; retries go back there. */
  queue: opt('queue', queueName),
  /** User headers (`applyAsync({ headers })`), preserved across retries. */
  custom: opt('custom', jsonObject),
  /**
   * Replacement nesting of a call that took over a replaced task's id (Celery's
   * `replaced_task_nesting`); absent = 0. Tells the replaced call's own redelivery (which reads
   * the replace guard of nesting + 1) from the replacement's call under the same id.
   */
  replaced: opt('replaced', nat),
  /**
   * Call once (README, "Call once: idempotency keys"): the worker claims this key for the message's
   * id before running it; a message whose key another id holds is stored REVOKED as its duplicate.
   */
  idempotencyKey: opt('idempotencyKey', idempotencyKey),
  /** Seconds {@link idempotencyKey} holds (absent: the default 24 hours). */
  idempotencyTtl: opt('idempotencyTtl', idempotencyTtl),
  /** W3C Trace Context of the span that sent the message (lib/telemetry/tracing.ts): one workflow, one trace. */
  traceparent: opt('traceparent', traceContext),
  /** W3C `tracestate`, beside `traceparent`. */
  tracestate: opt('tracestate', traceContext),
  /**
   * The tenant this call belongs to (README, "Fairness"): sent as the SQS MessageGroupId, kept on
   * retries and waits, and inherited by the messages this call causes.
   */
  fairnessKey: opt('fairnessKey', fairnessKey),
});

const REF = record({ ref: req('ref', id) }, { exact: true });
const INLINE = record({ plan: req('plan', PLAN) });
type WorkflowRefOf = Domain<typeof REF> | Domain<typeof INLINE>;
/** Where a message finds its workflow: inline when small, else a stored plan id. */
export const WORKFLOW_REF: Kind<WorkflowRefOf> = oneOf<WorkflowRefOf>(
  // `{ref, plan}` is read as the plan (its `ref` dropped), as it always was.
  (x) => (Object.hasOwn(x, 'plan') ? INLINE : REF) as Kind<WorkflowRefOf>,
  (d) => ('ref' in d ? REF : INLINE) as Kind<WorkflowRefOf>,
  'a workflow reference {ref} or {plan}',
);

/** A continuation stack, innermost first (in a message, and in a replaced task's guard record). */
export const CONTINUATION = array(FRAME, MAX_FRAMES);

/** Envelope v1: one task call on the wire. */
export const ENVELOPE = record({
  v: req('v', literal(1)),
  id: req('id', id),
  task: req('task', taskName),
  args: req('args', jsonArray),
  kwargs: opt('kwargs', jsonObject),
  headers: req('headers', HEADERS),
  /**
   * The workflow this call belongs to (absent for a plain call without links). On the wire it may
   * be left out when it is `{ref: <headers.rootId>}` and a continuation is present; the decoder
   * restores it.
   */
  workflow: opt('wf', WORKFLOW_REF),
  /** This call's node in the plan, when it has links or errbacks (absent: it has none). */
  node: opt('at', nat),
  /**
   * Continuation stack, innermost first. On the wire the top join frame may leave out its join id
   * and member index when they equal `headers.groupId` and `headers.groupIndex`; the decoder
   * restores them.
   */
  continuation: opt('k', CONTINUATION),
});

/**
 * A foreign minimal call: `{"task":"add","args":[2,3]}` (+ optional `id`, `parentId`, `rootId`,
 * `kwargs`, `headers`, `idempotencyKey`, `idempotencyTtl`, `fairnessKey`, `traceparent`, `tracestate`), as other-language
 * producers send it; the decoder makes it an envelope.
 */
export const MINIMAL_CALL = record({
  task: req('task', taskName),
  args: opt('args', jsonArray),
  kwargs: opt('kwargs', jsonObject),
  id: opt('id', id),
  parentId: opt('parentId', nullable(id)),
  rootId: opt('rootId', id),
  headers: opt('headers', jsonObject),
  /** Call once: as `headers.idempotencyKey` of an envelope. */
  idempotencyKey: opt('idempotencyKey', idempotencyKey),
  /** As `headers.idempotencyTtl`. */
  idempotencyTtl: opt('idempotencyTtl', idempotencyTtl),
  /** As `headers.fairnessKey` of an envelope; `""` or null (an empty transformer slot) is none. */
  fairnessKey: opt('fairnessKey', filled(fairnessKey)),
  /** As `headers.traceparent` of an envelope (a static link carries its source's); `""` or null is none. */
  traceparent: opt('traceparent', filled(traceContext)),
  /** As `headers.tracestate`; `""` or null is none. */
  tracestate: opt('tracestate', filled(traceContext)),
});

// ── wire-level compaction (the two defaults that keep workflow messages short) ─────────────────

/** Wire keys the compaction of {@link encodeCompact} and {@link expandTopFrame} reads. */
const K = 'k';
const WF = 'wf';
const JOIN_ID = 'j';
const MEMBER = 'x';
const CHAIN = 'c';

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
export function encodeCompact(env: Domain<typeof ENVELOPE>): Record<string, unknown> {
  const wire = ENVELOPE.encode(env) as Record<string, unknown>;
  const k = env.continuation;
  if (k === undefined || k.length === 0) return wire;
  const h = env.headers;
  // The wire objects are fresh (the encoder built them): a key set to undefined is left out by
  // JSON.stringify, which is cheaper than a copy without it (or a `delete`).
  if (env.workflow !== undefined && 'ref' in env.workflow && env.workflow.ref === h.rootId) wire[WF] = undefined;
  const top = k[0] as FrameOf;
  if ('joinId' in top && top.joinId === h.groupId && top.member === h.groupIndex) {
    const short = (wire[K] as Record<string, unknown>[])[0] as Record<string, unknown>;
    short[JOIN_ID] = undefined;
    short[MEMBER] = undefined;
  }
  return wire;
}

/** The other half of {@link encodeCompact}, on the parsed body before it is decoded. */
export function expandTopFrame(raw: Record<string, unknown>): void {
  const k = raw[K];
  if (!Array.isArray(k) || k.length === 0) return;
  if (raw[WF] === undefined) {
    const rootId = (raw.headers as { rootId?: unknown } | undefined)?.rootId;
    // Without a rootId the envelope fails validation anyway (rootId is required).
    if (typeof rootId === 'string') raw[WF] = { ref: rootId };
  }
  const top: unknown = k[0];
  if (typeof top !== 'object' || top === null || Array.isArray(top) || CHAIN in top || JOIN_ID in top || MEMBER in top) return;
  const h = raw.headers as { groupId?: unknown; groupIndex?: unknown } | undefined;
  // Without the headers the frame stays short and fails validation as a malformed frame.
  if (typeof h !== 'object' || h === null || h.groupId === undefined || h.groupIndex === undefined) return;
  k[0] = { [JOIN_ID]: h.groupId, [MEMBER]: h.groupIndex, ...top };
}

/**
 * A value kept in the payload store, where the value itself would be (an argument, the kwargs, a
 * result, an error's details, an event's result): `{ "$payload": { key, bytes, sha256 } }`. The
 * keys stay readable (subscribers reading raw events meet them); `exact`: an extra key is a lie.
 */
export const PAYLOAD_REF = record({ key: req('key', str), bytes: req('bytes', nat), sha256: req('sha256', str) }, { exact: true });
/** The one key of a reference's wrapper object (reserved: a value shaped so is read as a reference). */
export const PAYLOAD_MARK = '$payload';

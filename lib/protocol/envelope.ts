import { CeleriacError, ErrorCodes } from '../errors';
import { type Domain, decodeWith } from './codec';
import { checkPlan, validateFlow } from './flow';
import { safeId } from './ids';
import { assertSafeJson, type Json } from './json';
import { bytesOver, messageTooLarge, SQS_MAX_MESSAGE_BYTES } from './limits';
import type { Frame, Plan, PlanRecord } from './plan';
import { CONTINUATION, ENVELOPE, encodeCompact, expandTopFrame, type HEADERS, MINIMAL_CALL, PLAN } from './wire';

/** The one envelope version this codec writes. Readers reject others with UNSUPPORTED_VERSION. */
export const ENVELOPE_VERSION = 1 as const;

/** Headers every task message carries (Celery protocol 2 headers, camelCased; see HEADERS in lib/protocol/wire.ts). */
export type EnvelopeHeaders = Domain<typeof HEADERS>;

/**
 * Envelope v1: one task call. On the wire (see ENVELOPE in lib/protocol/wire.ts) the workflow,
 * node and continuation travel as `wf`, `at` and `k`, and a workflow message leaves out what its
 * headers already say (see encodeCompact).
 *
 * @example
 * ```json
 * {"v":1,"id":"6f1c…","task":"add","args":[2,3],"headers":{"rootId":"6f1c…","parentId":null,"retries":0}}
 * ```
 */
export type Envelope = Domain<typeof ENVELOPE>;

export { TASK_ID_PATTERN } from './ids';
export { MAX_TIMER_SECONDS } from './wire';

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
    const r = decodeWith(ENVELOPE, raw);
    if (!r.ok) return fail(ErrorCodes.BAD_ENVELOPE, `envelope v1 is malformed: ${r.issues}`, ctx, raw);
    const envelope = r.value;
    // An inline plan is checked with the message; a stored one once loaded (see lib/runtime/admit.ts).
    if (envelope.workflow !== undefined && 'plan' in envelope.workflow) {
      try {
        validateFlow(envelope.workflow.plan, envelope);
      } catch (e) {
        return refused(e as CeleriacError, ctx, raw);
      }
    }
    return { ok: true, envelope, foreign: false };
  }
  if (isObject && typeof obj.task === 'string' && !('detail-type' in obj) && !('Records' in obj)) {
    const r = decodeWith(MINIMAL_CALL, raw);
    if (!r.ok) return fail(ErrorCodes.BAD_ENVELOPE, `call message is malformed: ${r.issues}`, ctx, raw);
    const m = r.value;
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
          ...(m.idempotencyTtl !== undefined ? { idempotencyTtl: m.idempotencyTtl } : {}),
          ...(m.fairnessKey ? { fairnessKey: m.fairnessKey } : {}),
          ...(m.traceparent ? { traceparent: m.traceparent } : {}),
          ...(m.tracestate ? { tracestate: m.tracestate } : {}),
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

/** Encodes an envelope, refusing one over the SQS limit with MESSAGE_TOO_LARGE. */
export function encodeEnvelope(env: Envelope, maxBytes: number = SQS_MAX_MESSAGE_BYTES): string {
  const body = JSON.stringify(encodeCompact(env));
  const bytes = bytesOver(body, maxBytes);
  if (bytes !== undefined) throw messageTooLarge(`message for task ${env.task} (${env.id})`, bytes, { task: env.task }, maxBytes);
  return body;
}

/**
 * Validates a plan read from the store: its shape (BAD_ENVELOPE) and its structure (BAD_WORKFLOW:
 * a tree of in-range nodes, see lib/protocol/flow.ts).
 */
export function decodePlan(raw: unknown): Plan {
  const r = decodeWith(PLAN, raw);
  if (!r.ok) throw new CeleriacError(ErrorCodes.BAD_ENVELOPE, `stored workflow plan is malformed: ${r.issues}`);
  checkPlan(r.value);
  return r.value;
}

/**
 * The stored form of a plan (compact keys), as the result store keeps it; {@link decodePlan}
 * reads it back. Encoded once per plan object.
 */
export function encodePlan(plan: Plan): PlanRecord {
  return PLAN.encode(plan) as PlanRecord;
}

/** A continuation stack in its stored form (compact keys), for a record that keeps one. */
export function encodeContinuation(frames: readonly Frame[]): Json {
  return CONTINUATION.encode(frames) as Json;
}

/** Reads back a continuation stack stored by {@link encodeContinuation}; BAD_ENVELOPE when it is not one. */
export function decodeContinuation(raw: unknown): readonly Frame[] {
  const r = decodeWith(CONTINUATION, raw);
  if (!r.ok) throw new CeleriacError(ErrorCodes.BAD_ENVELOPE, `stored continuation is malformed: ${r.issues}`);
  return r.value;
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

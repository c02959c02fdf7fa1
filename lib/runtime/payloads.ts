/**
 * Large payloads on the runtime's side (README, "Large payloads"): where calls and outcomes are
 * offloaded before they travel, and where a delivered call's references are resolved before its
 * body runs. The rules (the threshold decision, the reference shape, the checks) are
 * lib/protocol/payload.ts and lib/protocol/limits.ts; this file only says which values of a call,
 * a plan and an outcome go through them, and under which keys.
 *
 * Key layout, under the app's prefix (the payload store's): `<app>/<task id>/<part>` (the id as
 * {@link idSegment} writes it), part being `args-<attempt>-<i>-<tag>`, `kwargs-<attempt>-<tag>`
 * (the tag is the content's, {@link contentTag}), `result-<token>` or `error-<token>`. One prefix per app, so one lifecycle rule (expire after the
 * results' TTL) and one IAM grant (`<app>/*`) cover it; one folder per task, so `forget()` deletes
 * everything a task stored, and nothing another task did, with one listing.
 */
import { CeleriacError, ErrorCodes } from '../errors';
import type { Backend, PayloadStore } from '../ports';
import { isPlainObject } from '../protocol/codec';
import { type Envelope, encodeEnvelope } from '../protocol/envelope';
import type { SerializedError } from '../protocol/failure';
import type { Json, JsonObject } from '../protocol/json';
import { bytesOver } from '../protocol/limits';
import {
  contentTag,
  holdsPointer,
  idSegment,
  offloadText,
  offloadValue,
  type ReadBudget,
  resolveValue,
  storeText,
} from '../protocol/payload';
import type { Plan, PlanNode } from '../protocol/plan';
import type { AppSettings } from './app-port';

/** Values put by an offload, so that a send that fails can delete them. */
export class PutKeys {
  readonly keys: string[] = [];
  add(key: string | undefined): void {
    if (key !== undefined) this.keys.push(key);
  }
  /** Deletes what was put (a failed publish leaves nothing behind); a failure to delete is the caller's to log. */
  async discard(store: PayloadStore | undefined): Promise<void> {
    if (store !== undefined && this.keys.length > 0) await store.delete(this.keys.splice(0));
  }
}

/**
 * The args and kwargs of a call of task `id` (attempt `attempt`) as they travel: each over the
 * threshold replaced by a reference. The same arrays when nothing is offloaded.
 */
async function offloadArgs(
  store: PayloadStore,
  threshold: number,
  id: string,
  attempt: number,
  args: readonly Json[],
  kwargs: JsonObject | undefined,
  puts: PutKeys,
): Promise<{ args: readonly Json[]; kwargs: JsonObject | undefined } | undefined> {
  const seg = idSegment(id);
  let outArgs: Json[] | undefined;
  // Decided without awaiting: a call with nothing large costs no promise at all.
  for (let i = 0; i < args.length; i++) {
    const text = offloadText(args[i] as Json, threshold);
    if (text === undefined) continue;
    const o = await storeText(store, `${seg}/args-${attempt}-${i}-${contentTag(text)}`, text);
    puts.add(o.put);
    outArgs ??= [...args];
    outArgs[i] = o.value;
  }
  let outKwargs: JsonObject | undefined;
  const text = kwargs === undefined ? undefined : offloadText(kwargs, threshold);
  if (text !== undefined) {
    const o = await storeText(store, `${seg}/kwargs-${attempt}-${contentTag(text)}`, text);
    puts.add(o.put);
    outKwargs = o.value as JsonObject;
  }
  if (outArgs === undefined && outKwargs === undefined) return undefined;
  return { args: outArgs ?? args, kwargs: outKwargs ?? kwargs };
}

/**
 * The message body of `env`, its large arguments by reference. A message no larger than the
 * threshold holds no argument over it (each argument's text is part of the body's), so the common
 * call is encoded once and no argument is sized on its own.
 */
export async function encodeOffloaded(backend: Backend, settings: AppSettings, env: Envelope, puts: PutKeys): Promise<string> {
  if (backend.payloads === undefined) return encodeEnvelope(env);
  const whole = encodeEnvelope(env, Number.POSITIVE_INFINITY);
  if (bytesOver(whole, settings.payloadThreshold) === undefined) return whole;
  return encodeEnvelope(await offloadEnvelope(backend, settings, env, puts));
}

/** `env` as it travels (its large arguments by reference); `env` itself when nothing is large or no store is configured. */
async function offloadEnvelope(backend: Backend, settings: AppSettings, env: Envelope, puts: PutKeys): Promise<Envelope> {
  const store = backend.payloads;
  if (store === undefined) return env;
  const o = await offloadArgs(store, settings.payloadThreshold, env.id, env.headers.retries, env.args, env.kwargs, puts);
  if (o === undefined) return env;
  return { ...env, args: o.args, ...(o.kwargs !== undefined ? { kwargs: o.kwargs } : {}) };
}

/**
 * `plan` with the large arguments of its task nodes by reference, before it is stored or sent
 * inline: a canvas's bound arguments live in its plan, and the plan must fit an item and a message.
 */
export async function offloadPlan(backend: Backend, settings: AppSettings, plan: Plan, puts: PutKeys): Promise<Plan> {
  const store = backend.payloads;
  if (store === undefined) return plan;
  let nodes: PlanNode[] | undefined;
  for (let i = 0; i < plan.nodes.length; i++) {
    const n = plan.nodes[i] as PlanNode;
    if (n.kind !== 'task') continue;
    const o = await offloadArgs(store, settings.payloadThreshold, n.id, 0, n.args, n.kwargs, puts);
    if (o === undefined) continue;
    nodes ??= [...plan.nodes];
    nodes[i] = { ...n, args: o.args, ...(o.kwargs !== undefined ? { kwargs: o.kwargs } : {}) };
  }
  return nodes === undefined ? plan : { ...plan, nodes };
}

/**
 * A delivered call's arguments (or a failed call's, for its inline errback's request) with every
 * reference resolved (the same arrays when it holds none), all of them within one `budget`.
 */
export async function resolveCall(
  store: PayloadStore | undefined,
  env: Pick<Envelope, 'args' | 'kwargs'>,
  budget?: ReadBudget,
): Promise<{ readonly args: readonly Json[]; readonly kwargs: JsonObject | undefined }> {
  const kwargs = env.kwargs;
  const args = await resolveArgs(store, env.args, budget);
  if (kwargs === undefined || !holdsPointer(kwargs)) return { args, kwargs };
  const resolved = await resolveValue(store, kwargs, budget);
  // A reference standing for the kwargs must name an object, as the wire requires of kwargs inline.
  if (!isPlainObject(resolved)) {
    throw new CeleriacError(ErrorCodes.PAYLOAD_CORRUPT, 'the kwargs reference does not name a JSON object (kwargs are an object)');
  }
  return { args, kwargs: resolved as JsonObject };
}

/** Positional arguments with their references resolved (the same array when none is one). */
async function resolveArgs(store: PayloadStore | undefined, args: readonly Json[], budget?: ReadBudget): Promise<readonly Json[]> {
  if (!args.some(holdsPointer)) return args;
  const out: Json[] = [];
  // One argument at a time: each may be large, and each resolves its own members boundedly.
  for (const a of args) out.push(await resolveValue(store, a, budget));
  return out;
}

/** `value` (a result) as it is stored and travels: by reference when over the threshold. */
export async function offloadResult(
  backend: Backend,
  settings: AppSettings,
  id: string,
  token: string,
  value: Json,
  puts: PutKeys,
): Promise<Json> {
  const o = await offloadValue(backend.payloads, `${idSegment(id)}/result-${token}`, value, settings.payloadThreshold);
  puts.add(o.put);
  return o.value;
}

/** `error` with its details by reference when they are over the threshold. */
export async function offloadError(
  backend: Backend,
  settings: AppSettings,
  id: string,
  token: string,
  error: SerializedError,
  puts: PutKeys,
): Promise<SerializedError> {
  if (error.details === undefined) return error;
  const o = await offloadValue(backend.payloads, `${idSegment(id)}/error-${token}`, error.details as Json, settings.payloadThreshold);
  if (o.put === undefined) return error;
  puts.add(o.put);
  return { ...error, details: o.value as SerializedError['details'] };
}

import { CeleriacError, ErrorCodes } from '../errors';
import type { Backend, OutgoingMessage } from '../ports';
import { utf8Bytes } from '../protocol/limits';
import type { PublishPayload } from '../signals';
import { inSendSpan, type TraceHeaders } from '../telemetry/tracing';
import type { RuntimeApp } from './app-port';
import { type Dispatch, MAX_DELAY_SECONDS } from './engine';
import { encodeOffloaded, PutKeys } from './payloads';

/**
 * Publishes dispatches, with `beforeTaskPublish` / `afterTaskPublish` around each (sender = task
 * name). A message due later than the broker can delay goes to the backend's scheduler when it
 * has one (one schedule, not a hop every 15 minutes); else it is sent with the longest delay and
 * the worker sends it on (see worker.ts). Arguments over the app's payload threshold are stored
 * first and travel by reference; a send that fails deletes what it stored for the messages that
 * did not go out, so a failed publish leaves nothing behind.
 */
export async function publish(app: RuntimeApp, backend: Backend, dispatches: readonly Dispatch[]): Promise<void> {
  if (dispatches.length === 0) return;
  const first = dispatches[0] as Dispatch;
  // One producer span per publish; every message carries its context (the trace's next hop).
  await inSendSpan({ queue: first.queue, count: dispatches.length, task: first.envelope.task }, (trace) =>
    send(app, backend, trace.traceparent === undefined ? dispatches : dispatches.map((d) => traced(d, trace))),
  );
}

/** `d` carrying the trace context of the span that sends it. */
function traced(d: Dispatch, trace: TraceHeaders): Dispatch {
  const { traceparent, tracestate, ...headers } = d.envelope.headers;
  return { ...d, envelope: { ...d.envelope, headers: { ...headers, ...trace } } };
}

async function send(app: RuntimeApp, backend: Backend, dispatches: readonly Dispatch[]): Promise<void> {
  const { beforeTaskPublish, afterTaskPublish } = app.signals;
  const messages: OutgoingMessage[] = [];
  const scheduled: { message: OutgoingMessage; at: number }[] = [];
  const now = backend.clock.now();
  // What each message's offload put, by message id (a failed send deletes those of the unsent).
  const puts = new Map<string, PutKeys>();
  try {
    for (let i = 0; i < dispatches.length; i++) {
      const d = dispatches[i] as Dispatch;
      if (beforeTaskPublish.hasReceivers) {
        await beforeTaskPublish.send(publishPayload(d));
      }
      const mine = new PutKeys();
      puts.set(d.envelope.id, mine);
      const message = messageOf(d, await encodeOffloaded(backend, app.settings, d.envelope, mine));
      const at = longDelay(d, now);
      if (at !== undefined && backend.delayed && utf8Bytes(message.body) <= backend.delayed.maxBodyBytes) {
        const { delaySeconds: _delay, ...due } = message;
        scheduled.push({ message: due, at });
      } else {
        messages.push(message);
      }
    }
    if (messages.length > 0) await backend.broker.send(messages);
    for (const m of messages) puts.delete(m.id);
    for (const s of scheduled) {
      await backend.delayed?.sendAt(s.message, s.at);
      puts.delete(s.message.id);
    }
  } catch (e) {
    await discardUnsent(app, backend, puts, e);
    throw e;
  }
  if (afterTaskPublish.hasReceivers) {
    for (const d of dispatches) {
      await afterTaskPublish.send(publishPayload(d));
    }
  }
}

/** What the publish signals get: Celery's `body`, `routing_key` and `headers`, and the delay. */
function publishPayload(d: Dispatch): PublishPayload {
  return {
    sender: d.envelope.task,
    body: d.envelope,
    queue: d.queue,
    routingKey: d.queue,
    headers: d.envelope.headers,
    delaySeconds: d.delaySeconds,
  };
}

function messageOf(d: Dispatch, body: string): OutgoingMessage {
  return {
    queue: d.queue,
    body,
    id: d.envelope.id,
    ...(d.delaySeconds > 0 ? { delaySeconds: d.delaySeconds } : {}),
    ...(d.envelope.headers.fairnessKey !== undefined ? { groupId: d.envelope.headers.fairnessKey } : {}),
  };
}

/**
 * After a failed send: deletes the payloads of the messages that did not go out — those the
 * broker names (`PUBLISH_FAILED` lists them), or all (any other error: refused before sending).
 * A delete that fails is logged, not thrown: the send's error is the one the caller must see.
 */
async function discardUnsent(app: RuntimeApp, backend: Backend, puts: ReadonlyMap<string, PutKeys>, e: unknown): Promise<void> {
  if (backend.payloads === undefined) return;
  const failed = e instanceof CeleriacError && e.code === ErrorCodes.PUBLISH_FAILED ? e.details?.failed : undefined;
  const unsent = Array.isArray(failed)
    ? failed.map((f) => (typeof f === 'object' && f !== null && !Array.isArray(f) ? String(f.id) : '')).filter((id) => puts.has(id))
    : [...puts.keys()];
  const keys = new PutKeys();
  for (const id of unsent) for (const k of puts.get(id)?.keys ?? []) keys.add(k);
  try {
    await keys.discard(backend.payloads);
  } catch (err) {
    app.logger.warn('could not delete the payloads of an unsent message; they expire with the bucket lifecycle rule', {
      keys: keys.keys.length,
      error: String(err),
    });
  }
}

/** The due time of a dispatch the broker cannot delay long enough (SQS: 900 s), else undefined. */
function longDelay(d: Dispatch, now: number): number | undefined {
  if (d.delaySeconds < MAX_DELAY_SECONDS) return undefined;
  const eta = d.envelope.headers.eta === undefined ? Number.NaN : Date.parse(d.envelope.headers.eta);
  return Number.isFinite(eta) && eta - now > MAX_DELAY_SECONDS * 1000 ? eta : undefined;
}

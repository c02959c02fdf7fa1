import type { Backend, OutgoingMessage } from '../ports';
import { encodeEnvelope } from '../protocol/envelope';
import { inSendSpan, type TraceHeaders } from '../telemetry/tracing';
import type { RuntimeApp } from './app-port';
import { type Dispatch, MAX_DELAY_SECONDS } from './engine';

/**
 * Publishes dispatches, with `beforeTaskPublish` / `afterTaskPublish` around each (sender = task
 * name). A message due later than the broker can delay goes to the backend's scheduler when it
 * has one (one schedule, not a hop every 15 minutes); else it is sent with the longest delay and
 * the worker sends it on (see worker.ts).
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
  for (let i = 0; i < dispatches.length; i++) {
    const d = dispatches[i] as Dispatch;
    if (beforeTaskPublish.hasReceivers) {
      await beforeTaskPublish.send({ sender: d.envelope.task, body: d.envelope, queue: d.queue, delaySeconds: d.delaySeconds });
    }
    const message: OutgoingMessage = {
      queue: d.queue,
      body: encodeEnvelope(d.envelope),
      id: d.envelope.id,
      ...(d.delaySeconds > 0 ? { delaySeconds: d.delaySeconds } : {}),
      ...(d.envelope.headers.fairnessKey !== undefined ? { groupId: d.envelope.headers.fairnessKey } : {}),
    };
    const at = longDelay(d, now);
    if (at !== undefined && backend.delayed && Buffer.byteLength(message.body) <= backend.delayed.maxBodyBytes) {
      const { delaySeconds: _delay, ...due } = message;
      scheduled.push({ message: due, at });
    } else {
      messages.push(message);
    }
  }
  if (messages.length > 0) await backend.broker.send(messages);
  for (const s of scheduled) await backend.delayed?.sendAt(s.message, s.at);
  if (afterTaskPublish.hasReceivers) {
    for (const d of dispatches) {
      await afterTaskPublish.send({ sender: d.envelope.task, body: d.envelope, queue: d.queue, delaySeconds: d.delaySeconds });
    }
  }
}

/** The due time of a dispatch the broker cannot delay long enough (SQS: 900 s), else undefined. */
function longDelay(d: Dispatch, now: number): number | undefined {
  if (d.delaySeconds < MAX_DELAY_SECONDS) return undefined;
  const eta = d.envelope.headers.eta === undefined ? Number.NaN : Date.parse(d.envelope.headers.eta);
  return Number.isFinite(eta) && eta - now > MAX_DELAY_SECONDS * 1000 ? eta : undefined;
}

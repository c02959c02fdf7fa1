/**
 * Tracing through OpenTelemetry's API (`@opentelemetry/api`): a no-op until the user registers
 * an SDK (the ADOT / OTel Lambda layer, NodeSDK, or a test provider): without one no span is
 * even started, so it costs nothing by default. W3C trace context travels in every message celeriac publishes (`headers.traceparent`,
 * `headers.tracestate`), injected in one place (lib/runtime/publish.ts): next chain steps, group
 * members, chord bodies, callbacks, errbacks, retries, long delays. So one workflow is one trace:
 *
 *   send (producer) ──▶ process A (consumer) ──▶ send ──▶ process B ──▶ send ──▶ process C
 *
 * A message that arrives without trace context but with SQS's `AWSTraceHeader` attribute
 * (X-Ray active tracing on the sender) continues that trace.
 */
import {
  type Context,
  context,
  type Link,
  ProxyTracerProvider,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { SerializedError } from '../protocol/failure';

/** The trace context carried by a message (W3C Trace Context names). */
export interface TraceHeaders {
  readonly traceparent?: string;
  readonly tracestate?: string;
}

/** What a process span says about the message it processes. */
export interface ProcessedMessage {
  readonly id: string;
  readonly task: string;
  readonly rootId: string;
  readonly retries: number;
  readonly queue: string | undefined;
  readonly messageId: string;
  readonly trace: TraceHeaders;
  /** SQS's `AWSTraceHeader` system attribute (X-Ray), used when the message carries no traceparent. */
  readonly awsTraceHeader?: string;
}

const tracer = () => trace.getTracer('celeriac');

/**
 * Whether an SDK is registered. Without one every span would be a no-op anyway; skipping them
 * keeps their cost off the worker path.
 */
function tracing(): boolean {
  const provider = trace.getTracerProvider();
  return !(provider instanceof ProxyTracerProvider) || provider.getDelegateTracer('celeriac') !== undefined;
}

const NO_TRACE: TraceHeaders = {};

/**
 * Runs `publish` inside a producer span and returns the trace headers every message of the batch
 * carries (the span's context, or the active context when no SDK records spans).
 */
export async function inSendSpan<T>(
  destination: { readonly queue: string; readonly count: number; readonly task: string },
  publish: (headers: TraceHeaders) => Promise<T>,
): Promise<T> {
  if (!tracing()) return publish(NO_TRACE);
  return tracer().startActiveSpan(
    `send ${destination.queue}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'aws_sqs',
        'messaging.operation.type': 'send',
        'messaging.operation.name': 'send',
        'messaging.destination.name': destination.queue,
        'messaging.batch.message_count': destination.count,
        'celeriac.task.name': destination.task,
      },
    },
    async (span) => {
      try {
        return await publish(injected(context.active()));
      } catch (e) {
        failSpan(span, e instanceof Error ? e.message : String(e), e);
        throw e;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * Runs `fn` inside the consumer span of one message: parented by, and linked to, the context it
 * carries. `describe` is called only when spans are recorded.
 */
export async function inProcessSpan<T>(describe: () => ProcessedMessage, fn: () => Promise<T>): Promise<T> {
  if (!tracing()) return fn();
  const m = describe();
  const parent = parentOf(m);
  const sender = trace.getSpanContext(parent);
  const links: Link[] = sender !== undefined && trace.isSpanContextValid(sender) ? [{ context: sender }] : [];
  return tracer().startActiveSpan(
    `process ${m.task}`,
    {
      kind: SpanKind.CONSUMER,
      links,
      attributes: {
        'messaging.system': 'aws_sqs',
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        ...(m.queue !== undefined ? { 'messaging.destination.name': m.queue } : {}),
        'messaging.message.id': m.messageId,
        'celeriac.task.name': m.task,
        'celeriac.task.id': m.id,
        'celeriac.root_id': m.rootId,
        'celeriac.attempt': m.retries + 1,
      },
    },
    parent,
    async (span) => {
      try {
        return await fn();
      } catch (e) {
        failSpan(span, e instanceof Error ? e.message : String(e), e);
        throw e;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * The trace context of the active span (the process span of the message being handled), for what
 * carries it on outside a message celeriac publishes itself: a lifecycle event, whose static link
 * rules build the linked task's message from it. Empty when nothing is recorded.
 */
export function activeTraceHeaders(): TraceHeaders {
  return tracing() ? injected(context.active()) : NO_TRACE;
}

/** Records the outcome settled for the message being processed on its span. */
export function recordOutcome(state: string, error?: SerializedError): void {
  if (!tracing()) return;
  const span = trace.getActiveSpan();
  if (span === undefined) return;
  span.setAttribute('celeriac.task.state', state);
  if (error !== undefined) failSpan(span, `${error.type}: ${error.message}`, undefined, error);
}

function failSpan(span: Span, message: string, e: unknown, serialized?: SerializedError): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  if (e instanceof Error) span.recordException(e);
  else if (serialized !== undefined)
    span.addEvent('exception', { 'exception.type': serialized.type, 'exception.message': serialized.message });
}

function injected(ctx: Context): TraceHeaders {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return {
    ...(carrier.traceparent !== undefined ? { traceparent: carrier.traceparent } : {}),
    ...(carrier.tracestate !== undefined ? { tracestate: carrier.tracestate } : {}),
  };
}

/** The context a message's processing continues: its traceparent, else its AWSTraceHeader, else a new trace. */
function parentOf(m: ProcessedMessage): Context {
  const traceparent = m.trace.traceparent ?? (m.awsTraceHeader !== undefined ? traceparentFromXRay(m.awsTraceHeader) : undefined);
  if (traceparent === undefined) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, {
    traceparent,
    ...(m.trace.tracestate !== undefined ? { tracestate: m.trace.tracestate } : {}),
  });
}

/**
 * The W3C traceparent of an X-Ray trace header (`Root=1-5759e988-bd862e3fe1be46a994272793;
 * Parent=53995c3f42cd8ad8;Sampled=1`), or undefined when it names no root and parent.
 */
export function traceparentFromXRay(header: string): string | undefined {
  const parts = new Map(header.split(';').map((p) => p.trim().split('=') as [string, string]));
  const root = /^1-([0-9a-f]{8})-([0-9a-f]{24})$/.exec(parts.get('Root') ?? '');
  const parent = /^[0-9a-f]{16}$/.exec(parts.get('Parent') ?? '');
  if (!root || !parent) return undefined;
  return `00-${root[1]}${root[2]}-${parent[0]}-${parts.get('Sampled') === '1' ? '01' : '00'}`;
}

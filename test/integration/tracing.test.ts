/**
 * Tracing through the OpenTelemetry API, with a test SDK registered (in-memory exporter, W3C
 * propagator, AsyncLocalStorage context), on every target: one workflow is one trace; each
 * message's process span is parented by the send span that published it (through a static link's
 * EventBridge rule, by the source task's process span); outcomes and errors
 * are on the spans; a message that brings only an X-Ray AWSTraceHeader continues that trace.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { memoryBackend } from '../../lib/adapters/memory';
import { chain, chord, createApp } from '../../lib/index';
import { type LocalRuntime, linkCallId, startLocal } from '../../lib/local';
import { traceparentFromXRay } from '../../lib/telemetry/tracing';
import { createWorker } from '../../lib/worker';
import { recordingLogger, sqsEvent } from '../helpers/harness';
import { targets } from './targets';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});
afterAll(() => {
  trace.disable();
  propagation.disable();
  context.disable();
});
beforeEach(() => exporter.reset());

const spans = () => exporter.getFinishedSpans();
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const byId = () => new Map(spans().map((s) => [s.spanContext().spanId, s]));
const processOf = (task: string) => spans().filter((s) => s.name === `process ${task}`);

describe.each(targets())('tracing on $name', (target) => {
  const app = createApp({ name: `trace-${target.name}`, logger: recordingLogger() });
  const add = app.task('add', (x: number, y: number) => x + y);
  const sum = app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
  const boom = app.task('boom', () => {
    throw new TypeError('no such thing');
  });
  const first = app.task('first', (x: number) => x + 1);
  const second = app.task('second', (x: number) => x * 2);
  app.link(first, second);
  let local: LocalRuntime;
  beforeAll(async () => {
    local = await startLocal(app, target.options);
  }, 60_000);
  afterAll(async () => {
    await local?.stop();
  });

  it('a chain of 3 started inside a request span is one trace: 3 process spans, each parented by the send of the step before', async () => {
    const tracer = trace.getTracer('test');
    const r = await tracer.startActiveSpan('POST /orders', async (span) => {
      try {
        return await chain(add.s(1, 2), add.s(3), add.s(4)).applyAsync();
      } finally {
        span.end();
      }
    });
    expect(await r.get({ timeoutMs: 20_000 })).toBe(10);
    // A result is readable a moment before its worker ends the span: wait for the handlers.
    await local.drain();
    const request = spans().find((s) => s.name === 'POST /orders') as ReadableSpan;
    const all = byId();
    const steps = processOf('add').sort((a, b) =>
      a.attributes['celeriac.task.id'] === r.id ? 1 : b.attributes['celeriac.task.id'] === r.id ? -1 : 0,
    );
    expect(steps).toHaveLength(3);
    expect(new Set(spans().map((s) => s.spanContext().traceId))).toEqual(new Set([request.spanContext().traceId]));
    // Walk up from each process span: process ← send ← (the previous process span, or the request).
    const up = (s: ReadableSpan) => all.get(parentOf(all.get(parentOf(s) as string) as ReadableSpan) as string);
    const roots = steps.map((s) => up(s)?.name);
    expect(roots.sort()).toEqual(['POST /orders', 'process add', 'process add']);
    for (const s of steps) {
      const send = all.get(parentOf(s) as string) as ReadableSpan;
      expect(send.name).toMatch(/^send /);
      expect(send.attributes['messaging.system']).toBe('aws_sqs');
      expect(s.links.map((l) => l.context.spanId)).toEqual([send.spanContext().spanId]);
      expect(s.attributes).toMatchObject({
        'messaging.system': 'aws_sqs',
        'messaging.operation.type': 'process',
        'celeriac.task.name': 'add',
        'celeriac.root_id': r.parent?.parent?.id,
        'celeriac.attempt': 1,
        'celeriac.task.state': 'SUCCESS',
      });
    }
  }, 30_000);

  it('a chord: the header members and the body are in the trace of the call', async () => {
    const r = await chord([add.s(1, 1), add.s(2, 2)], sum.s()).applyAsync();
    expect(await r.get({ timeoutMs: 20_000 })).toBe(6);
    await local.drain();
    const body = processOf('sum')[0] as ReadableSpan;
    const members = processOf('add');
    expect(members).toHaveLength(2);
    expect(new Set([...members, body].map((s) => s.spanContext().traceId)).size).toBe(1);
  }, 30_000);

  it('a static link (an EventBridge rule to the linked task’s queue) keeps the trace: the linked call’s process span is a child of the source’s', async () => {
    const r = await first.delay(1);
    expect(await r.get({ timeoutMs: 20_000 })).toBe(2);
    expect(await app.asyncResult(linkCallId(r.id, 'second')).get({ timeoutMs: 20_000 })).toBe(4);
    await local.drain();
    const a = processOf('first')[0] as ReadableSpan;
    const b = processOf('second')[0] as ReadableSpan;
    expect(b.spanContext().traceId).toBe(a.spanContext().traceId);
    expect(parentOf(b)).toBe(a.spanContext().spanId);
    expect(b.links.map((l) => l.context.spanId)).toEqual([a.spanContext().spanId]);
  }, 30_000);

  it('a failure is on its span: status ERROR, state FAILURE, the error type and message', async () => {
    const r = await boom.delay();
    await expect(r.get({ timeoutMs: 20_000 })).rejects.toThrow('no such thing');
    await local.drain();
    const s = processOf('boom')[0] as ReadableSpan;
    expect(s.status).toMatchObject({ code: 2, message: 'TypeError: no such thing' });
    expect(s.attributes['celeriac.task.state']).toBe('FAILURE');
    expect(s.events.find((e) => e.name === 'exception')?.attributes).toMatchObject({ 'exception.type': 'TypeError' });
  }, 30_000);
});

describe('X-Ray: a message with only an AWSTraceHeader continues that trace', () => {
  it('converts the X-Ray header to W3C trace context', () => {
    expect(traceparentFromXRay('Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1')).toBe(
      '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01',
    );
    expect(traceparentFromXRay('Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0')).toBeUndefined();
    expect(traceparentFromXRay('garbage')).toBeUndefined();
  });

  it('the worker parents the process span by it', async () => {
    const backend = memoryBackend({ pollIntervalMs: 1 });
    const app = createApp({ name: 'xray', backend, logger: recordingLogger() });
    app.task('add', (x: number, y: number) => x + y);
    const [m] = await (async () => {
      await backend.broker.send([{ queue: 'default', id: 'm1', body: JSON.stringify({ task: 'add', args: [1, 2] }) }]);
      return backend.broker.receive('default', { max: 1, visibilityTimeoutSeconds: 30, waitMs: 0 });
    })();
    const event = sqsEvent('default', m ? [m] : []);
    for (const r of event.Records)
      r.attributes.AWSTraceHeader = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    await createWorker(app)(event);
    const s = processOf('add')[0] as ReadableSpan;
    expect(s.spanContext().traceId).toBe('5759e988bd862e3fe1be46a994272793');
    expect(parentOf(s)).toBe('53995c3f42cd8ad8');
  });
});

/**
 * Logs and metrics of a running worker.
 *
 * - Every log line written inside a task carries the task's id, name, root id and attempt, and the
 *   Lambda request id and cold start of the invocation — whichever logger the app has, and without
 *   one record's fields reaching a concurrent record's lines.
 * - `createWorker` writes one CloudWatch EMF line per outcome (Powertools Metrics) when a
 *   namespace is set: a count per outcome, the body's runtime and the queue wait, dimensioned by
 *   service and task.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type MemoryBackend, memoryBackend } from '../../lib/adapters/memory';
import { type App, createApp } from '../../lib/app';
import type { Clock } from '../../lib/ports';
import { taskMetrics } from '../../lib/telemetry/metrics';
import { createWorker, type WorkerOptions } from '../../lib/worker';
import { recordingLogger, sqsEvent } from '../helpers/harness';

afterEach(() => {
  vi.restoreAllMocks();
  delete process.env.CELERIAC_METRICS_NAMESPACE;
});

/** Runs every queued message through `handler` (one batch per queue per round), with a Lambda context per batch. */
async function drain(backend: MemoryBackend, handler: ReturnType<typeof createWorker>): Promise<void> {
  let request = 0;
  for (let round = 0; round < 50; round++) {
    let moved = 0;
    for (const q of backend.broker.queueNames()) {
      const msgs = await backend.broker.receive(q, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
      if (msgs.length === 0) continue;
      moved += msgs.length;
      const res = await handler(sqsEvent(q, msgs), { awsRequestId: `req-${++request}`, getRemainingTimeInMillis: () => 60_000 });
      const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
      await backend.broker.delete(
        q,
        msgs.filter((m) => !failed.has(m.messageId)).map((m) => m.receiptHandle),
      );
    }
    if (moved === 0) return;
  }
}

function setup(opts: { worker?: WorkerOptions; clock?: Clock } = {}) {
  const backend = memoryBackend({ pollIntervalMs: 1, ...(opts.clock ? { clock: opts.clock } : {}) });
  const log = recordingLogger();
  const app: App = createApp({ name: 'tele', backend, logger: log });
  return { backend, log, app, handler: () => createWorker(app, opts.worker) };
}

describe('log lines inside a task', () => {
  it('carry the task id, name, root id and attempt, and the invocation’s request id and cold start', async () => {
    const { backend, log, app, handler } = setup();
    const step = app.task('step', (x: number) => {
      app.logger.info('working', { x });
      return x + 1;
    });
    const flaky = app.task(
      'flaky',
      () => {
        app.logger.warn('trying');
        throw new Error('nope');
      },
      { retry: { on: [Error], max: 1, delay: 0 } },
    );
    const h = await step.delay(1);
    const f = await flaky.delay();
    await drain(backend, handler());

    const working = log.lines.find((l) => l.msg === 'working');
    expect(working?.extra).toEqual({ taskId: h.id, task: 'step', rootId: h.id, attempt: 1, requestId: 'req-1', coldStart: true, x: 1 });
    const trying = log.lines.filter((l) => l.msg === 'trying').map((l) => l.extra);
    expect(trying).toEqual([
      { taskId: f.id, task: 'flaky', rootId: f.id, attempt: 1, requestId: 'req-1', coldStart: true },
      { taskId: f.id, task: 'flaky', rootId: f.id, attempt: 2, requestId: 'req-2', coldStart: false },
    ]);
  });

  it('name their own task when records of one batch run concurrently', async () => {
    const { backend, log, app, handler } = setup();
    const slow = app.task('slow', async (n: number) => {
      app.logger.info('before', { n });
      await new Promise((r) => setTimeout(r, 5 * (5 - n)));
      app.logger.info('after', { n });
      return n;
    });
    const ids = new Map<number, string>();
    for (let n = 0; n < 5; n++) ids.set(n, (await slow.delay(n)).id);
    await drain(backend, handler());
    const lines = log.lines.filter((l) => l.msg === 'before' || l.msg === 'after');
    expect(lines).toHaveLength(10);
    for (const l of lines) {
      const e = l.extra as { n: number; taskId: string };
      expect(e.taskId).toBe(ids.get(e.n));
    }
  });

  it('outside a task are left as written, and a field the caller passes wins', async () => {
    const { backend, log, app, handler } = setup();
    app.logger.info('at startup', { a: 1 });
    const t = app.task('t', () => app.logger.info('mine', { task: 'chosen by me' }));
    await t.delay();
    await drain(backend, handler());
    expect(log.lines.find((l) => l.msg === 'at startup')?.extra).toEqual({ a: 1 });
    expect(log.lines.find((l) => l.msg === 'mine')?.extra).toMatchObject({ task: 'chosen by me', attempt: 1 });
  });

  it('go through Powertools Logger by default: JSON with level, message, service and the task fields', async () => {
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const backend = memoryBackend({ pollIntervalMs: 1 });
    const app = createApp({ name: 'pt', backend });
    const t = app.task('t', () => app.logger.info('hello', { n: 7 }));
    const h = await t.delay();
    await drain(backend, createWorker(app, { metrics: false }));
    vi.restoreAllMocks();
    const line = written
      .flatMap((c) => c.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.message === 'hello');
    expect(line).toMatchObject({ level: 'INFO', message: 'hello', service: 'pt', n: 7, taskId: h.id, task: 't', attempt: 1 });
    expect(typeof line?.timestamp).toBe('string');
  });
});

/** The EMF lines written to stdout while `fn` runs. */
async function emfLines(fn: () => Promise<void>): Promise<Record<string, unknown>[]> {
  const written: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    await fn();
  } finally {
    vi.restoreAllMocks();
  }
  return written
    .flatMap((c) => c.split('\n'))
    .filter((l) => l.includes('"_aws"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

interface Emf {
  readonly _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string; Unit: string }[] }[] };
  readonly [k: string]: unknown;
}

describe('task metrics (EMF)', () => {
  it('one line per outcome: its count, the runtime and the queue wait, by service and task', async () => {
    let now = 1_000_000;
    const clock: Clock = { now: () => now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
    const { backend, app, handler } = setup({ clock, worker: { metrics: { namespace: 'celeriac/tele' } } });
    const ok = app.task('ok', () => {
      now += 40; // the body takes 40 ms on the app clock
      return 1;
    });
    const bad = app.task('bad', () => {
      throw new Error('boom');
    });
    const late = app.task('late', () => 1);
    const h = handler();
    await ok.delay();
    await bad.delay();
    await late.applyAsync([], { expires: 1 });
    now += 2_500; // 2.5 s on the queue; `late` expired meanwhile
    const lines = (await emfLines(() => drain(backend, h))) as unknown as Emf[];

    const byTask = new Map(lines.map((l) => [l.task as string, l]));
    for (const l of lines) {
      const meta = l._aws.CloudWatchMetrics[0];
      expect(meta?.Namespace).toBe('celeriac/tele');
      expect(meta?.Dimensions).toEqual([['service', 'task']]);
      expect(l.service).toBe('tele');
      // The README's cost line assumes ~300 bytes of log per outcome.
      expect(JSON.stringify(l).length).toBeLessThan(400);
    }
    expect(byTask.get('ok')).toMatchObject({ TaskSucceeded: 1, TaskRuntime: 40, QueueWait: 2_500 });
    expect(byTask.get('bad')).toMatchObject({ TaskFailed: 1, QueueWait: 2_500 });
    expect(byTask.get('late')).toMatchObject({ TaskRevoked: 1 });
    expect(byTask.get('late')).not.toHaveProperty('TaskRuntime');
    expect(lines).toHaveLength(3);
  });

  it('counts a retry as TaskRetried and the later attempt by its own outcome', async () => {
    const { backend, app, handler } = setup({ worker: { metrics: { namespace: 'n' } } });
    let calls = 0;
    const flaky = app.task(
      'flaky',
      () => {
        if (++calls === 1) throw new Error('first time');
        return 'ok';
      },
      { retry: { on: [Error], max: 2, delay: 0 } },
    );
    await flaky.delay();
    const lines = await emfLines(() => drain(backend, handler()));
    expect(lines.map((l) => Object.keys(l).find((k) => k.startsWith('Task') && k !== 'TaskRuntime'))).toEqual([
      'TaskRetried',
      'TaskSucceeded',
    ]);
  });

  it('are on when the stack sets CELERIAC_METRICS_NAMESPACE, and off without it', async () => {
    const run = async () => {
      const { backend, app, handler } = setup();
      const t = app.task('t', () => 1);
      await t.delay();
      return emfLines(() => drain(backend, handler()));
    };
    expect(await run()).toEqual([]);
    process.env.CELERIAC_METRICS_NAMESPACE = 'celeriac/from-env';
    const lines = (await run()) as unknown as Emf[];
    expect(lines.map((l) => l._aws.CloudWatchMetrics[0]?.Namespace)).toEqual(['celeriac/from-env']);
  });

  it('stop when the function taskMetrics returned is called', async () => {
    const { backend, app, handler } = setup();
    const off = taskMetrics(app, { namespace: 'n' });
    const t = app.task('t', () => 1);
    await t.delay();
    const h = handler();
    expect(await emfLines(() => drain(backend, h))).toHaveLength(1);
    off();
    await t.delay();
    expect(await emfLines(() => drain(backend, h))).toEqual([]);
  });
});

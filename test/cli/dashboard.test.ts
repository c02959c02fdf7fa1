/**
 * The dashboard's pure parts: the bounded task feed and the workflow graph builder. (The server
 * and page are covered end to end by test/cli/cli.test.ts and test/e2e/dashboard.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../../lib/adapters/memory';
import { createApp } from '../../lib/app';
import { compile } from '../../lib/canvas/compile';
import type { AnySignature } from '../../lib/canvas/signature';
import { chain, chord, group } from '../../lib/index';
import { TaskFeed } from '../../lib/local/dashboard/feed';
import { workflowGraph } from '../../lib/local/dashboard/graph';
import type { Envelope } from '../../lib/protocol/envelope';
import type { Plan } from '../../lib/protocol/plan';
import { createWorker } from '../../lib/worker';
import { sqsEvent } from '../helpers/harness';

const env = (id: string, task: string, extra: Partial<Envelope['headers']> = {}, wf?: Envelope['workflow']): Envelope => ({
  v: 1,
  id,
  task,
  args: [],
  headers: { rootId: id, parentId: null, retries: 0, ...extra },
  ...(wf === undefined ? {} : { workflow: wf }),
});

describe('TaskFeed', () => {
  it('keeps only the newest `capacity` tasks, most recently changed last', () => {
    const feed = new TaskFeed({ capacity: 3 });
    for (const id of ['a', 'b', 'c', 'd']) feed.published(env(id, 'add'), 'default');
    expect(feed.tasks().map((t) => t.id)).toEqual(['d', 'c', 'b']);
    feed.ingestEvents([
      {
        source: 'celeriac.x',
        detailType: 'task-succeeded',
        time: 1,
        detail: { id: 'b', task: 'add', state: 'SUCCESS', durationMs: 4, result: 7 },
      },
    ]);
    expect(feed.tasks()[0]).toMatchObject({ id: 'b', state: 'SUCCESS', durationMs: 4, result: 7 });
    expect(feed.events()).toHaveLength(1);
  });

  it('never lets a late non-final state undo an outcome', () => {
    const feed = new TaskFeed();
    feed.ingestEvents([
      {
        source: 's',
        detailType: 'task-failed',
        time: 1,
        detail: { id: 'x', task: 't', state: 'FAILURE', error: { type: 'E', message: 'm', code: 'C', retryable: false } },
      },
    ]);
    feed.published(env('x', 't'), 'q');
    expect(feed.get('x')).toMatchObject({ state: 'PENDING' });
    feed.ingestEvents([{ source: 's', detailType: 'task-failed', time: 2, detail: { id: 'x', task: 't', state: 'FAILURE' } }]);
    feed.applyRecord({ id: 'x', task: 't', state: 'STARTED' });
    expect(feed.get('x')?.state).toBe('FAILURE');
  });

  it('follows a real run through the app signals: PENDING → STARTED → SUCCESS, plans kept per root', async () => {
    const backend = memoryBackend({ pollIntervalMs: 1 });
    const app = createApp({ name: 'feedtest', backend, logger: { debug() {}, info() {}, warn() {}, error() {} } });
    const add = app.task('add', (x: number, y: number) => x + y);
    const feed = new TaskFeed({ store: backend.store });
    const detach = feed.attach(app);
    const seen: string[] = [];
    feed.onChange((c) => {
      if (c.kind === 'task') seen.push(`${c.row.id}:${c.row.state}`);
    });
    const r = await chain(add.s(1, 2), add.s(3)).applyAsync();
    const worker = createWorker(app);
    for (let i = 0; i < 5; i++) {
      const msgs = await backend.broker.receive('default', { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
      if (msgs.length === 0) break;
      await worker(sqsEvent('default', msgs));
      await backend.broker.delete(
        'default',
        msgs.map((m) => m.receiptHandle),
      );
    }
    expect(await r.get({ timeoutMs: 2_000 })).toBe(6);
    detach();
    const rows = feed.tasks();
    const first = rows[1]?.id as string;
    // The store read after postrun may repeat SUCCESS; the order is what matters.
    expect([...new Set(seen.filter((s) => s.startsWith(first)))]).toEqual([`${first}:PENDING`, `${first}:STARTED`, `${first}:SUCCESS`]);
    expect(rows.map((t) => t.state)).toEqual(['SUCCESS', 'SUCCESS']);
    expect(rows[0]?.parentId).toBe(rows[1]?.id);
    expect(feed.plansFor(rows[1]?.rootId as string)).toHaveLength(1);
  });
});

describe('workflowGraph', () => {
  const app = createApp({ name: 'graphs' });
  const add = app.task('add', (x: number, y: number) => x + y);
  const sum = app.task('sum', (xs: number[]) => xs.length);
  const report = app.task('report', (n: number) => String(n));
  /** Freezes a canvas into a plan with readable ids (t0, t1, …), as the producer would. */
  const planOf = async (canvas: AnySignature): Promise<Plan> => {
    let n = 0;
    return compile(canvas, [], {}, { uuid: () => `t${n++}`, maxGroupSize: 100, maxNodes: 1_000 }).plan;
  };

  it('a chain is a line of flow edges', async () => {
    const plan = await planOf(chain(add.s(1, 2), add.s(3), report.s()));
    const g = workflowGraph(plan.id, [plan], []);
    expect(g.nodes.map((n) => [n.task, n.layer, n.state])).toEqual([
      ['add', 0, 'PENDING'],
      ['add', 1, 'PENDING'],
      ['report', 2, 'PENDING'],
    ]);
    expect(g.edges.every((e) => e.kind === 'flow')).toBe(true);
    expect(g.edges).toHaveLength(2);
  });

  it('a chord joins every header member into the body; links are their own edges', async () => {
    const plan = await planOf(chord(group(add.s(1, 1), add.s(2, 2), add.s(3, 3)), sum.s().link(report.s())));
    const g = workflowGraph(plan.id, [plan], []);
    const sumNode = g.nodes.find((n) => n.task === 'sum');
    expect(g.nodes.filter((n) => n.task === 'add').map((n) => [n.layer, n.row])).toEqual([
      [0, 0],
      [0, 1],
      [0, 2],
    ]);
    expect(sumNode?.layer).toBe(1);
    expect(g.edges.filter((e) => e.to === sumNode?.id && e.kind === 'flow')).toHaveLength(3);
    expect(g.edges.filter((e) => e.kind === 'link')).toEqual([
      { from: sumNode?.id, to: g.nodes.find((n) => n.task === 'report')?.id, kind: 'link' },
    ]);
  });

  it('hangs a canvas started inside a task under that task, and cuts huge graphs', async () => {
    const plan = await planOf(group(add.s(1, 1), add.s(2, 2)));
    const rows = [
      { id: 'root', task: 'start', state: 'SUCCESS', rootId: 'root', parentId: null, retries: 0, updatedAt: 1 },
      ...plan.nodes.flatMap((n) =>
        n.kind === 'task' ? [{ id: n.id, task: n.name, state: 'STARTED', rootId: 'root', parentId: 'root', retries: 0, updatedAt: 2 }] : [],
      ),
    ];
    const g = workflowGraph('root', [plan], rows);
    expect(g.edges.filter((e) => e.kind === 'parent' && e.from === 'root')).toHaveLength(2);
    expect(g.nodes.find((n) => n.id === 'root')?.layer).toBe(0);
    expect(g.nodes.filter((n) => n.state === 'STARTED').every((n) => n.layer === 1)).toBe(true);
    const cut = workflowGraph('root', [plan], rows, new Map(), 2);
    expect(cut.truncated).toBe(true);
    expect(cut.nodes).toHaveLength(2);
  });
});

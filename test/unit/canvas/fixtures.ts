/**
 * Shared fixtures for the canvas conformance specs: an app on the memory harness with a small set
 * of tasks (Celery's integration-test tasks, in TypeScript) that record every invocation, so a
 * spec can count how often a body or callback ran and with which arguments.
 */
import type { AppOptions } from '../../../lib/app';
import { maybeCurrentTask } from '../../../lib/task/context';
import { type Harness, harness } from '../../helpers/harness';

export interface Call {
  readonly task: string;
  readonly args: readonly unknown[];
  readonly id: string | undefined;
  readonly parentId: string | null | undefined;
  readonly rootId: string | undefined;
  readonly groupIndex: number | undefined;
}

/** The two delivery modes every canvas spec runs under: once, and every batch delivered twice. */
export const MODES = [
  { mode: 'delivered once', duplicate: false },
  { mode: 'every batch delivered twice', duplicate: true },
] as const;

export type CanvasFixture = ReturnType<typeof canvasFixture>;

export function canvasFixture(opts: { duplicate?: boolean; app?: Partial<AppOptions> } = {}) {
  const h: Harness = harness(opts.app ? { app: { name: 'test', ...opts.app } } : {});
  const log: Call[] = [];
  const record = (task: string, args: readonly unknown[]): void => {
    const ctx = maybeCurrentTask();
    log.push({ task, args: [...args], id: ctx?.id, parentId: ctx?.parentId, rootId: ctx?.rootId, groupIndex: ctx?.groupIndex });
  };
  const { app } = h;
  const add = app.task('add', (x: number, y: number) => {
    record('add', [x, y]);
    return x + y;
  });
  const mul = app.task('mul', (x: number, y: number) => {
    record('mul', [x, y]);
    return x * y;
  });
  const double = app.task('double', (x: number) => {
    record('double', [x]);
    return x * 2;
  });
  /** Celery's `tsum`: the usual chord body. */
  const sum = app.task('sum', (xs: number[]) => {
    record('sum', [xs]);
    return xs.reduce((a, b) => a + b, 0);
  });
  /** Celery's `identity`. */
  const identity = app.task('identity', (x: unknown) => {
    record('identity', [x]);
    return x;
  });
  /** Returns exactly the arguments it was called with. */
  const collect = app.task('collect', (...args: unknown[]) => {
    record('collect', args);
    return args;
  });
  /** Celery's `add_to_all`. */
  const addToAll = app.task('addToAll', (xs: number[], n: number) => {
    record('addToAll', [xs, n]);
    return xs.map((x) => x + n);
  });
  /** Celery's `raise_error`. */
  const fail = app.task('fail', (message: string): number => {
    record('fail', [message]);
    throw new Error(message);
  });
  /** A chord body that fails. */
  const failList = app.task('failList', (xs: number[]): number => {
    record('failList', [xs]);
    throw new Error(`body failed on ${JSON.stringify(xs)}`);
  });
  /** Old-style errback (one positional parameter): published as a task with the failed task id. */
  const onError = app.task('onError', (failedId: string) => {
    record('onError', [failedId]);
    return `handled ${failedId}`;
  });
  /** New-style errback (more than one parameter): called inline as (request, error, traceback). */
  const onErrorInline = app.task('onErrorInline', (request: { id: string; task: string }, error: Error, traceback: string | undefined) => {
    record('onErrorInline', [request.id, request.task, error.name, error.message, traceback ?? null]);
  });

  const drain = () => h.drain({ duplicate: opts.duplicate ?? false });
  /** Delivers only the given queues until they are empty (to make members finish out of order). */
  const drainOnly = async (...queues: string[]) => {
    for (let round = 0; round < 1000; round++) {
      let moved = 0;
      for (const q of queues) moved += (await h.deliver(q, { duplicate: opts.duplicate ?? false })).delivered;
      if (moved === 0) return;
    }
    throw new Error('drainOnly did not finish');
  };
  const calls = (task: string) => log.filter((c) => c.task === task);
  const count = (task: string) => calls(task).length;

  return {
    h,
    app,
    log,
    add,
    mul,
    double,
    sum,
    identity,
    collect,
    addToAll,
    fail,
    failList,
    onError,
    onErrorInline,
    drain,
    drainOnly,
    calls,
    count,
  };
}

/** Awaits a promise expected to reject and returns the error. */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection, but the promise resolved');
}

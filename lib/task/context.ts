import { AsyncLocalStorage } from 'node:async_hooks';
import { CeleriacError, ErrorCodes } from '../errors';
import type { TaskContext } from './types';

const storage = new AsyncLocalStorage<TaskContext>();

/** Runs `fn` with `ctx` as the current task context. */
export function runWithContext<T>(ctx: TaskContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/**
 * The context of the task running now: id, retries, rootId, parentId, deadline, `signal`,
 * `retry()`. Throws NOT_CONFIGURED outside a task body.
 *
 * @example
 * ```ts
 * const fetchPage = app.task('fetchPage', async (url: string) => {
 *   const { signal, retry } = currentTask();
 *   const res = await fetch(url, { signal });
 *   if (res.status === 503) throw retry({ countdown: 5 });
 *   return res.text();
 * });
 * ```
 */
export function currentTask(): TaskContext {
  const ctx = storage.getStore();
  if (!ctx) throw new CeleriacError(ErrorCodes.NOT_CONFIGURED, 'currentTask() was called outside a task body');
  return ctx;
}

/** The current context, or undefined outside a task. */
export function maybeCurrentTask(): TaskContext | undefined {
  return storage.getStore();
}

/**
 * Ids of what a running task called (Celery's `add_to_parent`: `request.children`, stored in the
 * caller's record). Kept beside the context rather than on it, so a context stays a plain view.
 */
const called = new WeakMap<TaskContext, string[]>();

/** Records that the task of `ctx` called `id` (the producer does, unless `addToParent: false`). */
export function addCalledChild(ctx: TaskContext, id: string): void {
  const ids = called.get(ctx);
  if (ids === undefined) called.set(ctx, [id]);
  else ids.push(id);
}

/** What the task of `ctx` called so far, in call order. */
export function calledChildren(ctx: TaskContext): readonly string[] {
  return called.get(ctx) ?? [];
}

import type { AnySignature } from '../canvas/signature';

/**
 * Built-in chord body that returns the header's list (Celery's `celery.accumulate`): a group that
 * replaces a task becomes the header of a chord with this body, so the replaced id stores one
 * value, the list (registered by every app).
 */
export const ACCUMULATE_TASK = 'celeriac.accumulate';

/**
 * Thrown by `ctx.replace(sig)` (Celery's `Task.replace`): the running task ends here and `sig`
 * takes its place. The worker turns it into a `replaced` outcome (lib/runtime/worker.ts): the
 * replacement is frozen with the replaced task's id and inherits its place in the workflow.
 * Like `Retry`, it is control flow: recognised by class, never caught by `retry.on` policies.
 */
export class Replace extends Error {
  /** What replaces the task: a signature, a chain, a group or a chord. */
  readonly canvas: AnySignature;
  constructor(canvas: AnySignature) {
    super('Replaced by new task');
    this.name = 'Replace';
    this.canvas = canvas;
  }
}

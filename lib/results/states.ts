/**
 * Task states, as Celery's `celery.states`. PENDING is never stored: it is the absence of a record.
 */
export const States = {
  PENDING: 'PENDING',
  RECEIVED: 'RECEIVED',
  STARTED: 'STARTED',
  RETRY: 'RETRY',
  SUCCESS: 'SUCCESS',
  FAILURE: 'FAILURE',
  REVOKED: 'REVOKED',
  /**
   * celeriac only: the task replaced itself (`ctx.replace`) and its replacement, which took its
   * id, has not stored an outcome yet. Not ready (Celery leaves PENDING or STARTED here).
   */
  REPLACED: 'REPLACED',
} as const;

/** A built-in state, or a custom one written by `ctx.updateState()` (e.g. `PROGRESS`). */
export type TaskState = (typeof States)[keyof typeof States] | (string & {});

/** States after which a task does not change any more. */
export const READY_STATES: ReadonlySet<string> = new Set([States.SUCCESS, States.FAILURE, States.REVOKED]);
/** States whose `get()` raises. */
export const PROPAGATE_STATES: ReadonlySet<string> = new Set([States.FAILURE, States.REVOKED]);
/** States whose stored result is an error. */
export const EXCEPTION_STATES: ReadonlySet<string> = new Set([States.RETRY, States.FAILURE, States.REVOKED]);

export const isReady = (s: string): boolean => READY_STATES.has(s);

/** Celery's merge precedence, highest first. Unknown (custom) states rank between FAILURE and REVOKED. */
const PRECEDENCE = ['SUCCESS', 'FAILURE', '*custom*', 'REVOKED', 'STARTED', 'RECEIVED', 'REJECTED', 'RETRY', 'PENDING'];

/** Lower is stronger. */
export function precedence(state: string): number {
  const i = PRECEDENCE.indexOf(state);
  return i === -1 ? PRECEDENCE.indexOf('*custom*') : i;
}

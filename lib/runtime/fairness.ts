/**
 * The fairness key of a call (README, "Fairness"), decided in one order everywhere a message is
 * built (lib/runtime/engine.ts, `taskDispatch`): the step's own key (`sig.set({ fairnessKey })`),
 * else the key the call inherits (given on `applyAsync`, or carried by the message that caused
 * it — the previous chain step, the calling task), else the task's `fairnessKey` default.
 */
import { checkFairnessKey } from '../protocol/fairness';
import type { RuntimeApp } from './app-port';

/**
 * The task's default key for a call with `args` (kwargs last, as the body gets them), or
 * undefined when the task has no `fairnessKey` function (or is not registered here).
 * @throws CeleriacError INVALID_OPTIONS when the function returns something SQS would refuse.
 */
export function taskFairnessKey(app: RuntimeApp, task: string, args: readonly unknown[]): string | undefined {
  const f = app.getTask(task)?.options.fairnessKey;
  if (f === undefined) return undefined;
  const key: unknown = f(...args);
  checkFairnessKey(key, `task ${task}: its fairnessKey function returned a value that is not a fairness key`);
  return key;
}

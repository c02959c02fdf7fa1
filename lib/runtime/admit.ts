/**
 * Admission of a message's workflow, before anything runs: its plan is resolved (inline, or the
 * stored one it names) and validated against the message's frames and headers. A message whose
 * workflow is a lie is refused once, with a specific code, instead of running its task body on
 * every delivery and failing afterwards in its continuation.
 */
import { CeleriacError, ErrorCodes } from '../errors';
import type { Envelope } from '../protocol/envelope';
import { validateFlow } from '../protocol/flow';
import type { Flow } from './engine';

/** Codes that say the workflow itself is wrong: no redelivery can fix them. */
const REFUSED: ReadonlySet<string> = new Set([ErrorCodes.WORKFLOW_NOT_FOUND, ErrorCodes.BAD_WORKFLOW, ErrorCodes.BAD_ENVELOPE]);

/**
 * Resolves and validates the workflow of `env`. Returns the error to refuse the message with, or
 * undefined when it may run; synchronously when nothing has to be read (no workflow, an inline
 * plan, a cached one), so a plain call pays no extra await. A store that fails (not one that
 * answers "no such plan") throws, so the message is redelivered without having run.
 */
export function admitFlow(
  env: Envelope,
  resolve: (env: Envelope) => Flow | undefined | Promise<Flow | undefined>,
): CeleriacError | undefined | Promise<CeleriacError | undefined> {
  if (env.workflow === undefined) return undefined;
  let pending: Flow | undefined | Promise<Flow | undefined>;
  try {
    pending = resolve(env);
  } catch (e) {
    return refusalOf(e);
  }
  if (pending instanceof Promise) return pending.then((flow) => check(flow, env), refusalOf);
  return check(pending, env);
}

function check(flow: Flow | undefined, env: Envelope): CeleriacError | undefined {
  if (flow === undefined) return undefined;
  try {
    validateFlow(flow.plan, env);
  } catch (e) {
    if (e instanceof CeleriacError) return e;
    throw e;
  }
  return undefined;
}

/** A failed plan read: a refusal when the plan itself is missing or malformed, else rethrown (redelivery). */
function refusalOf(e: unknown): CeleriacError {
  if (e instanceof CeleriacError && REFUSED.has(e.code)) {
    // A stored plan is written before any message names it, and read strongly consistently:
    // "not found" means expired, deleted or never written (forged), never "not yet".
    return new CeleriacError(e.code, e.message, { cause: e });
  }
  throw e;
}

import type { EventBridgeEvent } from 'aws-lambda';
import { CeleriacError, ErrorCodes } from './errors';
import type { Backend, PayloadStore } from './ports';
import { holdsPointer, isPayloadPointer, resolveValues } from './protocol/payload';
import { type DetailType, DetailTypes, type TaskEventDetail } from './signals/events';

/** A lifecycle event as a subscriber receives it. */
export interface TaskEvent extends TaskEventDetail {
  readonly detailType: DetailType;
  readonly source: string;
  /** EventBridge event id. */
  readonly eventId: string;
}

const KNOWN = new Set<string>(Object.values(DetailTypes));

/** Where {@link onTaskEvents} reads payloads stored by reference: the app's backend. */
export interface TaskEventsOptions {
  /** The app whose events these are: its backend's payload store resolves references (local mode included). */
  readonly app?: { backend(): Promise<Backend> };
}

/**
 * A task event's detail with its values by reference (a result or an error's details over the
 * app's payload threshold: `{ "$payload": { key, bytes, sha256 } }`) replaced by the values —
 * for code that consumes raw events (an EventBridge target other than {@link onTaskEvents}).
 * The detail itself when it holds no reference (no read).
 *
 * @throws CeleriacError PAYLOAD_NOT_FOUND (expired or forgotten), PAYLOAD_FOREIGN (not this app's),
 *   PAYLOAD_CORRUPT.
 *
 * @example
 * ```ts
 * const backend = await app.backend();
 * const detail = await resolveEventPayloads(event.detail, backend.payloads);
 * ```
 */
export function resolveEventPayloads<D extends TaskEventDetail>(detail: D, payloads: PayloadStore | undefined): Promise<D> {
  return resolveValues(payloads, detail);
}

/**
 * Wraps a handler into an EventBridge-triggered Lambda handler that receives typed task events.
 * A subscriber is deployed as a rule on the app's bus (see `app.subscribe`). A result or error
 * details stored by reference (README, "Large payloads") reach the handler as values: pass
 * `{ app }` so the references are read from the app's payload store (on AWS, the bucket named by
 * `CELERIAC_PAYLOAD_BUCKET`).
 *
 * @example
 * ```ts
 * export const handler = onTaskEvents(async (e) => {
 *   if (e.state === 'FAILURE') await page(`task ${e.task} failed: ${e.error?.message}`);
 * }, { app });
 * ```
 */
export function onTaskEvents(
  handler: (event: TaskEvent) => void | Promise<void>,
  options: TaskEventsOptions = {},
): (event: EventBridgeEvent<string, TaskEventDetail>) => Promise<void> {
  return async (event) => {
    if (!KNOWN.has(event['detail-type']) || typeof event.detail !== 'object' || event.detail === null || event.detail.v !== 1) {
      throw new CeleriacError(
        ErrorCodes.BAD_ENVELOPE,
        `not a celeriac task event: detail-type "${event['detail-type']}" from "${event.source}" (expected one of ${[...KNOWN].join(', ')} with detail.v = 1)`,
      );
    }
    // Read only when the detail holds a reference: a plain event costs nothing more.
    const detail = holdsReference(event.detail) ? await resolveEventPayloads(event.detail, await payloadsOf(options)) : event.detail;
    await handler({ ...detail, detailType: event['detail-type'] as DetailType, source: event.source, eventId: event.id });
  };
}

function holdsReference(d: TaskEventDetail): boolean {
  return (d.result !== undefined && holdsPointer(d.result)) || (d.error?.details !== undefined && isPayloadPointer(d.error.details));
}

let fromEnv: Promise<PayloadStore | undefined> | undefined;

/** The app's payload store, or (no app given) the one the function's environment configures, built once. */
async function payloadsOf(options: TaskEventsOptions): Promise<PayloadStore | undefined> {
  if (options.app !== undefined) return (await options.app.backend()).payloads;
  fromEnv ??= import('./adapters/aws/index').then((aws) => aws.awsBackendFromEnv(process.env).payloads);
  return fromEnv;
}

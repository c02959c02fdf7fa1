import type { EventBridgeEvent } from 'aws-lambda';
import { CeleriacError, ErrorCodes } from './errors';
import { type DetailType, DetailTypes, type TaskEventDetail } from './signals/events';

/** A lifecycle event as a subscriber receives it. */
export interface TaskEvent extends TaskEventDetail {
  readonly detailType: DetailType;
  readonly source: string;
  /** EventBridge event id. */
  readonly eventId: string;
}

const KNOWN = new Set<string>(Object.values(DetailTypes));

/**
 * Wraps a handler into an EventBridge-triggered Lambda handler that receives typed task events.
 * A subscriber is deployed as a rule on the app's bus (see `app.subscribe`).
 *
 * @example
 * ```ts
 * export const handler = onTaskEvents(async (e) => {
 *   if (e.state === 'FAILURE') await page(`task ${e.task} failed: ${e.error?.message}`);
 * });
 * ```
 */
export function onTaskEvents(
  handler: (event: TaskEvent) => void | Promise<void>,
): (event: EventBridgeEvent<string, TaskEventDetail>) => Promise<void> {
  return async (event) => {
    if (!KNOWN.has(event['detail-type']) || typeof event.detail !== 'object' || event.detail === null || event.detail.v !== 1) {
      throw new CeleriacError(
        ErrorCodes.BAD_ENVELOPE,
        `not a celeriac task event: detail-type "${event['detail-type']}" from "${event.source}" (expected one of ${[...KNOWN].join(', ')} with detail.v = 1)`,
      );
    }
    await handler({ ...event.detail, detailType: event['detail-type'] as DetailType, source: event.source, eventId: event.id });
  };
}

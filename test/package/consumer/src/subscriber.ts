import { onTaskEvents, type TaskEvent } from 'celeriac';

/** What the subscriber saw (the run script reads it). */
export const seen: TaskEvent[] = [];

export const handler = onTaskEvents(async (e) => {
  seen.push(e);
});

/** A subscriber Lambda: receives every lifecycle event of the app (the "postrun" subscriber). */
import { onTaskEvents } from 'celeriac';

export const handler = onTaskEvents(async (e) => {
  console.log(JSON.stringify({ metric: 'task', task: e.task, state: e.state, durationMs: e.durationMs, id: e.id }));
});

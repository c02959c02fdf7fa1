/** `celeriac inspect`, `celeriac purge`, `celeriac redrive`. */
import { ExitCodes } from '../errors';
import { formatDuration, preview, shortId, table } from '../format';
import { out, outJson } from '../io';
import type { Target } from '../target';

export interface InspectOptions {
  readonly json?: boolean;
  /** Recent tasks to show. */
  readonly limit?: number;
}

/** Prints queues (depth, DLQ) and recent tasks (state, duration). */
export async function inspectCommand(target: Target, o: InspectOptions): Promise<number> {
  const limit = o.limit ?? 20;
  const [queues, tasks] = await Promise.all([target.queues(), target.recentTasks(limit)]);
  if (o.json) {
    outJson({ target: target.kind, label: target.label, queues, tasks: tasks ?? null });
    return ExitCodes.OK;
  }
  out(`target  ${target.label}`);
  out('');
  out(
    table(
      ['QUEUE', 'VISIBLE', 'IN FLIGHT', 'DELAYED', 'DLQ', 'DLQ DEPTH'],
      queues.map((q) => [
        q.name,
        String(q.visible),
        String(q.inFlight),
        String(q.delayed),
        q.dlq?.name ?? '-',
        q.dlq === undefined ? '-' : String(q.dlq.visible + q.dlq.inFlight + q.dlq.delayed),
      ]),
      new Set([1, 2, 3, 5]),
    ),
  );
  out('');
  if (tasks === undefined) {
    out('recent tasks: only a running `celeriac dev` keeps a task feed; on AWS, watch them with `celeriac events --follow`');
    return ExitCodes.OK;
  }
  if (tasks.length === 0) {
    out('recent tasks: none yet');
    return ExitCodes.OK;
  }
  out(`RECENT TASKS (newest first, up to ${limit})`);
  out(
    table(
      ['STATE', 'TASK', 'ID', 'DURATION', 'ROOT', 'ERROR / RESULT'],
      tasks.map((t) => [
        t.state,
        t.task,
        shortId(t.id),
        formatDuration(t.durationMs),
        t.rootId === t.id ? '' : shortId(t.rootId),
        t.error ? `${t.error.type}: ${preview(t.error.message, 70)}` : preview(t.result),
      ]),
      new Set([3]),
    ),
  );
  return ExitCodes.OK;
}

/** Purges a queue, or its DLQ. */
export async function purgeCommand(target: Target, queue: string, o: { dlq?: boolean; json?: boolean }): Promise<number> {
  const purged = await target.purge(queue, o.dlq === true);
  if (o.json) outJson({ purged });
  else out(`purged ${purged}`);
  return ExitCodes.OK;
}

/** Moves a queue's dead-letter messages back to it. */
export async function redriveCommand(target: Target, queue: string, o: { json?: boolean }): Promise<number> {
  const r = await target.redrive(queue);
  if (o.json) outJson(r);
  else out(`moved ${r.moved} message${r.moved === 1 ? '' : 's'} from ${r.dlq} to ${r.queue}`);
  return ExitCodes.OK;
}

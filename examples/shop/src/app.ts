/**
 * The shop: the example app deployed by infra/app.ts and run by `npm run demo`.
 * Tasks are plain functions; what happens after them is wired with links, hooks, signals and
 * subscribers — the "call a function when a task is done" story.
 */
import { createApp, currentTask } from 'celeriac';

export const app = createApp({ name: 'shop' });

/** Lines written by the report task's onSuccess hook (an audit log; a table in real life). */
export const auditLog: string[] = [];

export class TransientError extends Error {
  override name = 'TransientError';
}

export const add = app.task('add', (x: number, y: number) => x + y);

export const sum = app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));

export const report = app.task('report', async (total: number) => `total=${total}`, {
  retry: { max: 3, backoff: true, jitter: true, on: [TransientError] },
  onSuccess(result, ctx) {
    auditLog.push(`${new Date().toISOString()} report ${ctx.id} → ${result}`);
  },
});

/** Charges an order; orders over the limit are refused (to show linkError). */
export const charge = app.task('charge', (order: { id: string; amount: number }) => {
  if (order.amount > 1_000) throw new RangeError(`order ${order.id}: amount ${order.amount} is over the limit`);
  return { orderId: order.id, charged: order.amount, attempt: currentTask().retries };
});

/** Static link target: called (by an EventBridge rule on AWS) whenever `report` succeeds. */
export const notify = app.task('notify', (line: string) => `notified: ${line}`);

/** Static error link target: called with the failed task's id whenever `charge` fails. */
export const refund = app.task('refund', (failedTaskId: string) => `refund opened for ${failedTaskId}`);

/** Lines written by the alert errback (a pager or a chat channel in real life). */
export const alertLog: string[] = [];

/** A new-style errback: runs inline in the failing worker with the request and the error. */
export const alert = app.errback('alert', (request, error, _traceback, channel: string) => {
  const line = `${channel}: ${request.task}[${request.id}] failed: ${error.message}`;
  alertLog.push(line);
  return line;
});

app.link(report, notify);
app.linkError(charge, refund);
app.subscribe('metrics', { entry: 'src/subscriber.ts' });
app.periodic('nightly-total', add, 'rate(1 day)', [0, 0]);

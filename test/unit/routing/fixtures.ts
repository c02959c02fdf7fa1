import type { AppTopologyInput } from '../../../lib/routing';

/** A small app: two queues, a link, an error link, a filtered and a postrun subscriber, a periodic task. */
export const shop: AppTopologyInput = {
  app: 'shop',
  tasks: [
    { name: 'add', queue: 'default', events: true },
    { name: 'report', queue: 'default', events: true },
    { name: 'notify', queue: 'mail', events: false },
    { name: 'charge', queue: 'default', events: true },
    { name: 'refund', queue: 'default', events: true },
  ],
  links: [
    { from: 'report', to: 'notify', kind: 'success' },
    { from: 'charge', to: 'refund', kind: 'error' },
  ],
  subscribers: [
    { name: 'metrics', entry: 'src/subscriber.ts' },
    { name: 'failures', entry: 'src/failures.ts', tasks: ['charge', 'add'], outcomes: ['revoked', 'failure'] },
  ],
  periodic: [{ name: 'nightly-total', task: 'add', schedule: 'rate(1 day)', args: [0, 0] }],
  queues: [{ name: 'default', batchSize: 5, maxConcurrency: 10 }],
};

/** `shop` with one part replaced. */
export function shopWith(patch: Partial<AppTopologyInput>): AppTopologyInput {
  return { ...shop, ...patch };
}

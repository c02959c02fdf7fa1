/**
 * Subscriber handlers locally: a subscriber target of the bus calls the `handler` export of the
 * subscriber's `entry` (relative to `root`), unless `startLocal` was given a handler for it.
 */
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CeleriacError, ErrorCodes } from '../errors';
import type { SubscriberInfo } from '../routing';
import type { Logger } from '../runtime/app-port';
import type { SubscriberHandler } from './bus';
import type { StartLocalOptions } from './types';

/** Finds a subscriber's handler; undefined (warned about once) for one with neither a given handler nor an entry. */
export type SubscriberLoader = (s: SubscriberInfo) => Promise<SubscriberHandler | undefined>;

/** The loader the local bus uses: a handler from `options.subscribers` first, else the entry's export. */
export function subscriberLoader(options: Pick<StartLocalOptions, 'root' | 'subscribers'>, logger: Logger): SubscriberLoader {
  const root = options.root ?? process.cwd();
  const warned = new Set<string>();
  return async (s) => {
    const given = options.subscribers?.[s.name];
    if (given !== undefined) return given;
    if (s.entry === undefined) {
      if (!warned.has(s.name)) {
        warned.add(s.name);
        logger.warn(`subscriber ${s.name} has no entry; pass startLocal(app, { subscribers: { ${s.name}: handler } }) to run it locally`);
      }
      return undefined;
    }
    const mod = (await import(pathToFileURL(resolvePath(root, s.entry)).href)) as { handler?: unknown };
    if (typeof mod.handler !== 'function') {
      throw new CeleriacError(ErrorCodes.NOT_CONFIGURED, `subscriber ${s.name}: ${s.entry} has no exported function "handler"`);
    }
    return mod.handler as SubscriberHandler;
  };
}

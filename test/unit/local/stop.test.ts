import { describe, expect, it } from 'vitest';
import type { App } from '../../../lib/app';
import type { LocalBroker } from '../../../lib/local/broker';
import type { LocalBus } from '../../../lib/local/bus';
import type { QueuePoller } from '../../../lib/local/poller';
import { type RuntimeParts, runStopSequence, runtimeStopSequence, stopStep } from '../../../lib/local/stop';
import type { LocalTime } from '../../../lib/local/time';

/** Parts that record, in one shared log, which of their stop calls ran. */
function recordingParts(log: string[]): Required<RuntimeParts> {
  const call = (name: string) => async (): Promise<void> => {
    // A tick between steps: a step that were not awaited would let the next one log first.
    await new Promise((r) => setTimeout(r, 1));
    log.push(name);
  };
  return {
    time: { stop: call('time.stop') } as unknown as LocalTime,
    broker: { clear: call('broker.clear') } as unknown as LocalBroker,
    pollers: [
      { stop: call('poller a.stop'), closed: call('poller a.closed') },
      { stop: call('poller b.stop'), closed: call('poller b.closed') },
    ] as unknown as QueuePoller[],
    bus: { stop: call('bus.stop') } as unknown as LocalBus,
    app: { name: 'shop', use: () => log.push('app.use') } as unknown as App,
    backend: { stop: call('backend.stop') },
  };
}

describe('runStopSequence', () => {
  it('runs the steps in the order given, each finished before the next starts', async () => {
    const log: string[] = [];
    const step = (name: string) =>
      stopStep(name, name, async () => {
        log.push(`${name} begins`);
        await new Promise((r) => setTimeout(r, 2));
        log.push(`${name} ends`);
      });
    await runStopSequence([step('first'), step('second')], () => {});
    expect(log).toEqual(['first begins', 'first ends', 'second begins', 'second ends']);
  });

  it('skips a step whose part never started', async () => {
    const ran: string[] = [];
    await runStopSequence(
      [stopStep('started', 1, () => ran.push('started')), stopStep('never started', undefined, () => ran.push('never started'))],
      () => {},
    );
    expect(ran).toEqual(['started']);
  });

  it('reports a failing step by name, with what it threw, and still runs the rest', async () => {
    const ran: string[] = [];
    const failures: [string, unknown][] = [];
    const boom = new Error('port still bound');
    await runStopSequence(
      [
        stopStep('sync throw', 1, () => {
          throw boom;
        }),
        stopStep('rejects', 1, () => Promise.reject(boom)),
        stopStep('after', 1, () => ran.push('after')),
      ],
      (step, error) => failures.push([step, error]),
    );
    expect(failures).toEqual([
      ['sync throw', boom],
      ['rejects', boom],
    ]);
    expect(ran).toEqual(['after']);
  });
});

describe('runtimeStopSequence', () => {
  it('stops timers, held delays, pollers, the bus, the app, the backend, then waits for the poll loops', async () => {
    const log: string[] = [];
    await runStopSequence(runtimeStopSequence(recordingParts(log)), (step, e) => log.push(`failed: ${step}: ${String(e)}`));
    expect(log).toEqual([
      'time.stop',
      'broker.clear',
      'poller a.stop',
      'poller b.stop',
      'bus.stop',
      'app.use',
      'backend.stop',
      'poller a.closed',
      'poller b.closed',
    ]);
  });

  it('names every step, so a failure says which component did not stop', () => {
    expect(runtimeStopSequence({}).map((s) => s.name)).toEqual([
      'local timers',
      'held delays',
      'pollers',
      'event bus',
      'app backend',
      'backend',
      'poll loops',
    ]);
  });

  it('after a start that failed half-way, stops only what had started, in the same order', async () => {
    const log: string[] = [];
    const { time, broker, app, backend } = recordingParts(log);
    await runStopSequence(runtimeStopSequence({ time, broker, app, backend }), () => {});
    expect(log).toEqual(['time.stop', 'broker.clear', 'app.use', 'backend.stop']);
  });

  it('leaves the app with a backend that refuses every dispatch, saying the runtime was stopped', async () => {
    let factory: (() => unknown) | undefined;
    const app = { name: 'shop', use: (f: () => unknown) => (factory = f) } as unknown as App;
    await runStopSequence(runtimeStopSequence({ app }), () => {});
    expect(factory).toBeTypeOf('function');
    expect(() => factory?.()).toThrowError(
      expect.objectContaining({ code: 'NOT_CONFIGURED', message: expect.stringContaining('local runtime was stopped') }),
    );
  });
});

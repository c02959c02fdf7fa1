/**
 * A failed start of emulated local mode stops what it had started: an emulator left listening
 * would hold the process open (on a Node without node:sqlite, fauxqs fails while dynalite runs).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../../lib/index';
import type * as Emulators from '../../../lib/local/emulators';

const state = vi.hoisted(() => ({ fail: new Set<string>(), log: [] as string[] }));

vi.mock('../../../lib/local/emulators', async (importOriginal) => {
  const real = await importOriginal<typeof Emulators>();
  /** Starts the real service unless told to fail, and records when it is stopped. */
  const tracked =
    <A extends unknown[], E extends Emulators.Emulator>(name: string, start: (...a: A) => Promise<E>) =>
    async (...a: A): Promise<E> => {
      if (state.fail.has(name)) throw new Error(`${name} could not start`);
      const e = await start(...a);
      const stop = e.stop.bind(e);
      e.stop = async () => {
        state.log.push(`${name} stopped`);
        await stop();
      };
      return e;
    };
  return {
    ...real,
    startDynalite: tracked('dynalite', real.startDynalite),
    startFauxqs: tracked('fauxqs', real.startFauxqs),
    startEventBridgeEndpoint: tracked('eventbridge', real.startEventBridgeEndpoint),
  };
});

const { startLocal } = await import('../../../lib/local');

function quietApp(name: string) {
  const app = createApp({ name, logger: { debug() {}, info() {}, warn() {}, error() {} } });
  app.task('add', (x: number, y: number) => x + y);
  return app;
}

afterEach(() => {
  state.fail.clear();
  state.log.length = 0;
});

describe('a failed start of emulated local mode', () => {
  it('when fauxqs fails, stops dynalite and the PutEvents endpoint, and rejects with fauxqs’s error', async () => {
    state.fail.add('fauxqs');
    await expect(startLocal(quietApp('start-fauxqs-fails'), { mode: 'emulated' })).rejects.toThrow('fauxqs could not start');
    expect(state.log).toEqual(['dynalite stopped', 'eventbridge stopped']);
  });

  it('when dynalite fails, stops fauxqs and the PutEvents endpoint, and rejects with dynalite’s error', async () => {
    state.fail.add('dynalite');
    await expect(startLocal(quietApp('start-dynalite-fails'), { mode: 'emulated' })).rejects.toThrow('dynalite could not start');
    expect(state.log).toEqual(['fauxqs stopped', 'eventbridge stopped']);
  });

  it('when both start, stop() stops fauxqs, then dynalite, then the PutEvents endpoint', async () => {
    const local = await startLocal(quietApp('start-both'), { mode: 'emulated', pollWaitMs: 50 });
    expect(state.log).toEqual([]);
    await local.stop();
    expect(state.log).toEqual(['fauxqs stopped', 'dynalite stopped', 'eventbridge stopped']);
  });
});

/**
 * Starting and stopping emulated local mode: a failed start stops what it had started (an
 * endpoint left listening would hold the process open), and stop() stops the emulator thread
 * before the PutEvents endpoint the app's clients were last talking to.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createApp } from '../../../lib/index';
import type * as Emulators from '../../../lib/local/emulators';

const state = vi.hoisted(() => ({ fail: new Set<string>(), log: [] as string[] }));

vi.mock('../../../lib/local/emulators', async (importOriginal) => {
  const real = await importOriginal<typeof Emulators>();
  /** Starts the real thing unless told to fail, and records when it is stopped. */
  const tracked =
    <A extends unknown[], E extends { stop(): Promise<void> }>(name: string, start: (...a: A) => Promise<E>) =>
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
    startEmulatorThread: tracked('emulator thread', real.startEmulatorThread),
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

describe('starting emulated local mode', () => {
  it('when the emulator thread fails to start, stops the PutEvents endpoint and rejects with the thread’s error', async () => {
    state.fail.add('emulator thread');
    await expect(startLocal(quietApp('start-thread-fails'), { mode: 'emulated' })).rejects.toThrow('emulator thread could not start');
    expect(state.log).toEqual(['eventbridge stopped']);
  });

  it('stop() stops the emulator thread, then the PutEvents endpoint', async () => {
    const local = await startLocal(quietApp('start-both'), { mode: 'emulated', pollWaitMs: 50 });
    expect(state.log).toEqual([]);
    await local.stop();
    expect(state.log).toEqual(['emulator thread stopped', 'eventbridge stopped']);
  });
});

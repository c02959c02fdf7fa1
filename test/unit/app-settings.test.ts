/**
 * What an app takes from its process's environment (createApp reads it; the app never does):
 * CELERIAC_LOG_LEVEL sets the default logger's level, CELERIAC_INLINE_PLAN_BYTES how big a plan
 * may travel inside its first message.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { memoryBackend } from '../../lib/adapters/memory';
import { chain, consoleLogger, createApp, ErrorCodes } from '../../lib/index';

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
  vi.restoreAllMocks();
});

function captureConsole(): string[] {
  const lines: string[] = [];
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    vi.spyOn(console, level).mockImplementation((line: unknown) => void lines.push(String(line)));
  }
  return lines;
}

/** JSON lines written straight to stdout / stderr (Powertools Logger has its own console). */
function captureStdio(): string[] {
  const lines: string[] = [];
  for (const stream of [process.stdout, process.stderr]) {
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      for (const l of String(chunk).split('\n')) if (l.startsWith('{')) lines.push(l);
      return true;
    });
  }
  return lines;
}

describe('consoleLogger', () => {
  it('writes one JSON line per entry from its level up', () => {
    const lines = captureConsole();
    const log = consoleLogger('warn');
    log.debug('d');
    log.info('i');
    log.warn('w', { id: 'x' });
    log.error('e');
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { level: 'warn', msg: 'w', id: 'x' },
      { level: 'error', msg: 'e' },
    ]);
  });
});

describe('the default logger (Powertools Logger)', () => {
  it('createApp takes its level from CELERIAC_LOG_LEVEL (default info: debug is silent)', () => {
    const lines = captureStdio();
    createApp({ name: 'quiet' }).logger.debug('not shown');
    process.env.CELERIAC_LOG_LEVEL = 'debug';
    createApp({ name: 'chatty' }).logger.debug('shown', { n: 1 });
    vi.restoreAllMocks();
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      expect.objectContaining({ level: 'DEBUG', message: 'shown', service: 'chatty', n: 1 }),
    ]);
  });

  it('refuses a level it does not know, naming the key and the value', () => {
    process.env.CELERIAC_LOG_LEVEL = 'loud';
    expect(() => createApp({ name: 'bad' })).toThrow(expect.objectContaining({ code: ErrorCodes.CONFIG_INVALID }));
    expect(() => createApp({ name: 'bad' })).toThrow('CELERIAC_LOG_LEVEL must be debug, info, warn or error, got "loud"');
  });
});

describe('CELERIAC_INLINE_PLAN_BYTES', () => {
  async function storedPlans(env: Record<string, string>): Promise<number> {
    Object.assign(process.env, env);
    const backend = memoryBackend();
    const app = createApp({ name: 'plans', backend });
    const add = app.task('add', (x: number, y: number) => x + y);
    const putPlan = vi.spyOn(backend.store, 'putPlan');
    await chain(add.s(1, 2), add.s(3)).applyAsync();
    return putPlan.mock.calls.length;
  }

  it('a small chain travels inline by default; with 0 its plan is stored and the message carries a reference', async () => {
    expect(await storedPlans({})).toBe(0);
    expect(await storedPlans({ CELERIAC_INLINE_PLAN_BYTES: '0' })).toBe(1);
  });
});

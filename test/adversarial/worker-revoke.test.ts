/**
 * Revoking a task while it runs: `revoke()` stores REVOKED first, so the running delivery's own
 * outcome loses the guard write — and must still finish the revoked record: count it into its
 * chord (which then fails with ChordError as soon as its last member is done, not at its
 * one-day deadline), publish `task-revoked`, and leave no continuations pending.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chord, createApp, currentTask, ErrorCodes, group } from '../../lib/index';
import { type LocalRuntime, startLocal } from '../../lib/local';
import { recordingLogger } from '../integration/targets';
import { workerTargets } from './worker-targets';

/** A body that runs until released, telling the test its id when it starts. */
function gate() {
  let release: () => void = () => {};
  let onStart: (id: string) => void = () => {};
  const started = new Promise<string>((r) => {
    onStart = r;
  });
  const released = new Promise<void>((r) => {
    release = r;
  });
  return {
    started,
    release: () => release(),
    body: async () => {
      onStart(currentTask().id);
      await released;
      return 'finished';
    },
  };
}

describe.each(workerTargets())('revoking running work settles it ($name)', (target) => {
  let local: LocalRuntime | undefined;
  afterEach(async () => {
    await local?.stop();
    local = undefined;
  });

  it('a running plain task, revoked: REVOKED stays, one task-revoked, no task-succeeded, continuations done', async () => {
    const app = createApp({ name: 'revokeplain', logger: recordingLogger() });
    const g = gate();
    const t = app.task('long', g.body);
    local = await startLocal(app, target.options);
    const events: string[] = [];
    const off = local.subscribe((e) => void events.push(`${e['detail-type']} ${String(e.detail.id)}`));
    const r = await t.delay();
    await g.started;
    await r.revoke();
    g.release();
    await local.drain();
    off();
    expect(await r.state()).toBe('REVOKED');
    expect(events).toEqual([`task-revoked ${r.id}`]);
    const rec = await (await app.backend()).store.get(r.id);
    expect(rec?.cont).toBe('done');
  });

  it('a running chord member, revoked: the chord body fails with ChordError once the last member is done', async () => {
    const app = createApp({ name: 'revokemember', logger: recordingLogger() });
    const g = gate();
    const long = app.task('long', g.body);
    const add = app.task('add', (x: number, y: number) => x + y);
    const sum = app.task('sum', (xs: unknown[]) => xs.length);
    local = await startLocal(app, target.options);
    const r = await chord(group(long.s(), add.s(1, 1), add.s(2, 2)), sum.s()).applyAsync();
    const memberId = await g.started;
    await app.asyncResult(memberId).revoke();
    g.release();
    // Well before any chord deadline (a day by default): as soon as the revoked member is counted.
    await expect(r.get({ timeoutMs: 15_000, followParents: false })).rejects.toMatchObject({ code: ErrorCodes.CHORD_ERROR });
    expect(await app.asyncResult(memberId).state()).toBe('REVOKED');
  });
});

/**
 * The commands over a stand-in Target (no dev process): the rules that do not need a real one.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { eventsCommand } from '../../lib/cli/commands/events';
import { resolveId } from '../../lib/cli/commands/tasks';
import { CliError, ExitCodes } from '../../lib/cli/errors';
import type { Target, TaskRow } from '../../lib/cli/target';

function fakeTarget(o: { rows?: TaskRow[] | undefined; stored?: string[] } = {}): Target {
  const unused = () => Promise.reject(new Error('not used by this spec'));
  return {
    kind: 'local',
    label: 'dev test (memory) at http://127.0.0.1:1',
    pollMs: 10,
    call: unused,
    apply: unused,
    result: async (id) => ((o.stored ?? []).includes(id) ? { id, state: 'SUCCESS', ready: true, rootId: id, parentId: null } : undefined),
    queues: unused,
    recentTasks: async () => ('rows' in o ? o.rows : []),
    purge: unused,
    redrive: unused,
    recentEvents: async () => [],
    follow: unused,
    close: async () => {},
  } as Target;
}

const row = (id: string): TaskRow => ({ id, task: 'add', state: 'SUCCESS', rootId: id, parentId: null }) as TaskRow;
const A = '3f2a9c1e-0000-4000-8000-000000000001';
const B = '3f2a0000-0000-4000-8000-000000000002';

async function refusal(p: Promise<unknown>): Promise<CliError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(CliError);
  return e as CliError;
}

afterEach(() => vi.restoreAllMocks());

describe('events without --follow', () => {
  it('--timeout and --max belong to --follow: a usage error, not silently ignored', async () => {
    for (const o of [{ timeout: 1 }, { max: 3 }]) {
      const e = await refusal(eventsCommand(fakeTarget(), o));
      expect(e.exitCode).toBe(ExitCodes.USAGE);
      expect(e.message).toMatch(/goes with --follow/);
    }
  });

  it('an empty list says so on stderr and keeps stdout empty', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(await eventsCommand(fakeTarget(), {})).toBe(ExitCodes.OK);
    expect(stderr.mock.calls.map((c) => String(c[0]))).toEqual([expect.stringMatching(/^celeriac: no lifecycle events yet on dev test/)]);
    expect(stdout).not.toHaveBeenCalled();
  });
});

describe('resolveId: the short ids inspect and events print', () => {
  it('a full id, and a stored exact short id, are used as given', async () => {
    expect(await resolveId(fakeTarget({ rows: [] }), A)).toBe(A);
    expect(await resolveId(fakeTarget({ rows: [], stored: ['3f2a9c1e'] }), '3f2a9c1e')).toBe('3f2a9c1e');
  });

  it('a prefix, with or without the ellipsis, names the one recent task; a derived id keeps its suffix', async () => {
    const t = fakeTarget({ rows: [row(A), row(B), row(`${A}.link.notify`)] });
    expect(await resolveId(t, '3f2a9c1e')).toBe(A);
    expect(await resolveId(t, '3f2a9c1e…')).toBe(A);
    expect(await resolveId(t, '3f2a9c1e….link.notify')).toBe(`${A}.link.notify`);
  });

  it('an ambiguous prefix is a usage error listing the candidates; an unknown one is not found', async () => {
    const t = fakeTarget({ rows: [row(A), row(B)] });
    const many = await refusal(resolveId(t, '3f2a'));
    expect(many.exitCode).toBe(ExitCodes.USAGE);
    expect(many.message).toContain(A);
    const none = await refusal(resolveId(t, 'abcdef12'));
    expect(none.exitCode).toBe(ExitCodes.NOT_FOUND);
  });

  it('a target without a task list (a deployed stack) says to pass the full id', async () => {
    const e = await refusal(resolveId(fakeTarget({ rows: undefined }), '3f2a9c1e'));
    expect(e.exitCode).toBe(ExitCodes.USAGE);
    expect(e.message).toMatch(/keeps no task list.*full id/);
  });
});

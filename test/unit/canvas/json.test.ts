/**
 * The JSON form of a canvas (lib/canvas/json.ts): what the CLI's `apply` and the dev server's
 * `POST /api/call { canvas }` accept.
 */
import { describe, expect, it } from 'vitest';
import { applyCanvasJson, canvasFromJson } from '../../../lib/canvas/json';
import { Chain, Chord, ErrorCodes, Group, Signature } from '../../../lib/index';
import { canvasFixture } from './fixtures';

describe('canvasFromJson', () => {
  it('builds each primitive with its args, options and links', () => {
    const f = canvasFixture({ duplicate: false });
    const c = canvasFromJson(f.app, {
      chain: [
        { task: 'add', args: [1, 2], options: { queue: 'late' } },
        { chord: { header: [{ task: 'add', args: [3] }], body: { task: 'sum' } } },
      ],
      link: [{ task: 'identity', immutable: true, args: ['done'] }],
    });
    expect(c).toBeInstanceOf(Chain);
    const [first, second] = (c as Chain<unknown[], unknown, unknown>).steps;
    expect(first).toBeInstanceOf(Signature);
    expect(first?.options.queue).toBe('late');
    expect(second).toBeInstanceOf(Chord);
    expect((second as Chord<unknown[], unknown, unknown>).header).toBeInstanceOf(Group);
    const link = c.options.link?.[0] as Signature<unknown[], unknown>;
    expect([link.task, link.immutable, link.args]).toEqual(['identity', true, ['done']]);
  });

  it.each([
    [{}, /canvas must have exactly one of "task", "chain", "group", "chord" \(it has no keys\)/],
    [[1], /canvas must be an object/],
    [{ task: 'add', chain: [] }, /exactly one of/],
    [{ task: 'add', args: 3 }, /canvas\.args: Invalid type/],
    [{ group: [{ task: 'a', extra: 1 }] }, /canvas\.group\[0\] a "task" canvas has no key "extra"/],
    [{ chain: [] }, /canvas\.chain needs at least one step/],
    [{ chord: { header: [] } }, /canvas\.chord must be an object \{ "header"/],
    [{ chord: { header: [], body: { task: 'b', options: { countdown: -1 } } } }, /canvas\.chord\.body\.options\.countdown: /],
    [{ task: 'a', options: { link: [] } }, /canvas\.options\.link: /],
  ])('refuses %j naming where', (value, message) => {
    const f = canvasFixture({ duplicate: false });
    expect(() => canvasFromJson(f.app, value)).toThrow(message);
  });
});

describe('applyCanvasJson', () => {
  it('applies a chord and a group; a group gives its member ids', async () => {
    const f = canvasFixture({ duplicate: false });
    const chord = await applyCanvasJson(f.app, {
      chord: {
        header: [
          { task: 'add', args: [1, 1] },
          { task: 'add', args: [2, 2] },
        ],
        body: { task: 'sum' },
      },
    });
    const group = await applyCanvasJson(f.app, {
      group: [
        { task: 'add', args: [5, 5] },
        { task: 'mul', args: [2, 3] },
      ],
    });
    await f.drain();
    expect(chord.kind).toBe('chord');
    expect(await f.app.asyncResult(chord.id).get()).toBe(6);
    expect(group.members).toHaveLength(2);
    expect(await Promise.all((group.members ?? []).map((id) => f.app.asyncResult(id).get()))).toEqual([10, 6]);
  });

  it('refuses a task the app does not have, before sending anything', async () => {
    const f = canvasFixture({ duplicate: false });
    await expect(applyCanvasJson(f.app, { chain: [{ task: 'add', args: [1, 1] }, { task: 'nope' }] })).rejects.toMatchObject({
      code: ErrorCodes.TASK_NOT_REGISTERED,
      message: expect.stringMatching(/has no task "nope"; its tasks are: /),
    });
    await f.drain();
    expect(f.log).toHaveLength(0); // the valid first step was not sent either
  });
});

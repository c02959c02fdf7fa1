/**
 * Envelope v1 on the wire: a group member's join frame travels without the join id and index it
 * shares with the groupId / groupIndex headers, and decodes back to the full frame.
 */
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, type Envelope, encodeEnvelope } from '../../../lib/protocol/envelope';

const GROUP = '0b5c1e2a-3f4d-4e5f-8a9b-0c1d2e3f4a5b';
const member: Envelope = {
  v: 1,
  id: '11111111-2222-4333-8444-555555555555',
  task: 'add',
  args: [1, 2],
  headers: { rootId: 'root-1', parentId: null, retries: 0, queue: 'default', groupId: GROUP, groupIndex: 7 },
  wf: { ref: 'root-1' },
  k: [
    { j: GROUP, g: 3, x: 7, n: 10, b: 14 },
    { c: 1, i: 2 },
  ],
};
const decode = (body: string) => decodeEnvelope(body, { messageId: 'm-1' });

describe('envelope v1: the top join frame on the wire', () => {
  it('leaves out the join id and index a group member already carries in its headers, and decodes them back', () => {
    const body = encodeEnvelope(member);

    expect(JSON.parse(body).k).toEqual([
      { g: 3, n: 10, b: 14 },
      { c: 1, i: 2 },
    ]);
    expect(body).not.toContain(`"j":"${GROUP}"`);
    expect(decode(body)).toEqual({ ok: true, foreign: false, envelope: member });
  });

  it('keeps the frame whole when it belongs to another join than the headers name', () => {
    const other: Envelope = { ...member, k: [{ j: 'another-join', g: 3, x: 7, n: 10 }] };
    const body = encodeEnvelope(other);

    expect(JSON.parse(body).k).toEqual([{ j: 'another-join', g: 3, x: 7, n: 10 }]);
    expect(decode(body)).toMatchObject({ ok: true, envelope: other });
  });

  it('keeps the frame whole when the index differs, and never shortens frames below the top', () => {
    const deeper: Envelope = {
      ...member,
      k: [
        { c: 0, i: 1 },
        { j: GROUP, g: 3, x: 7, n: 10 },
      ],
    };
    const moved: Envelope = { ...member, k: [{ j: GROUP, g: 3, x: 8, n: 10 }] };

    expect(JSON.parse(encodeEnvelope(deeper)).k[1]).toEqual({ j: GROUP, g: 3, x: 7, n: 10 });
    expect(JSON.parse(encodeEnvelope(moved)).k[0]).toEqual({ j: GROUP, g: 3, x: 8, n: 10 });
    expect(decode(encodeEnvelope(deeper))).toMatchObject({ ok: true, envelope: deeper });
  });

  it('refuses a short top frame on a message without groupId / groupIndex headers (BAD_ENVELOPE)', () => {
    const body = JSON.stringify({ ...member, headers: { rootId: 'root-1', parentId: null, retries: 0 }, k: [{ g: 3, n: 10 }] });
    const r = decode(body);

    expect(r.ok).toBe(false);
    expect(r.ok ? undefined : r.error.code).toBe('BAD_ENVELOPE');
  });
});

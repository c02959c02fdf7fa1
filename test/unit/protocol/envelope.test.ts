/**
 * Envelope v1 on the wire: a workflow message leaves out what its headers already say — the
 * stored plan named by its rootId, and (for a group member) the join id and index of its top
 * frame — and decodes back to the full envelope.
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
  workflow: { ref: 'root-1' },
  continuation: [
    { joinId: GROUP, group: 3, member: 7, size: 10, body: 14 },
    { chain: 1, step: 2 },
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
    const other: Envelope = { ...member, continuation: [{ joinId: 'another-join', group: 3, member: 7, size: 10 }] };
    const body = encodeEnvelope(other);

    expect(JSON.parse(body).k).toEqual([{ j: 'another-join', g: 3, x: 7, n: 10 }]);
    expect(decode(body)).toMatchObject({ ok: true, envelope: other });
  });

  it('keeps the frame whole when the index differs, and never shortens frames below the top', () => {
    const deeper: Envelope = {
      ...member,
      continuation: [
        { chain: 0, step: 1 },
        { joinId: GROUP, group: 3, member: 7, size: 10 },
      ],
    };
    const moved: Envelope = { ...member, continuation: [{ joinId: GROUP, group: 3, member: 8, size: 10 }] };

    expect(JSON.parse(encodeEnvelope(deeper)).k[1]).toEqual({ j: GROUP, g: 3, x: 7, n: 10 });
    expect(JSON.parse(encodeEnvelope(moved)).k[0]).toEqual({ j: GROUP, g: 3, x: 8, n: 10 });
    expect(decode(encodeEnvelope(deeper))).toMatchObject({ ok: true, envelope: deeper });
  });

  it('leaves out the reference to the plan stored under the root id, and only that one', () => {
    const chainStep: Envelope = {
      ...member,
      headers: { rootId: 'root-1', parentId: 'p', retries: 0 },
      continuation: [{ chain: 0, step: 1 }],
    };
    const elsewhere: Envelope = { ...chainStep, workflow: { ref: 'another-plan' } };
    // chain(a, add): the message is the chain's first step, continuing at step 1.
    const inline: Envelope = {
      ...chainStep,
      workflow: {
        plan: {
          v: 1,
          id: 'root-1',
          root: 0,
          nodes: [
            { kind: 'chain', steps: [1, 2] },
            { kind: 'task', id: member.id, name: 'add', args: [] },
            { kind: 'task', id: 'root-1', name: 'add', args: [] },
          ],
        },
      },
    };

    expect(JSON.parse(encodeEnvelope(chainStep)).wf).toBeUndefined();
    expect(JSON.parse(encodeEnvelope(elsewhere)).wf).toEqual({ ref: 'another-plan' });
    expect(JSON.parse(encodeEnvelope(inline)).wf).toEqual({
      plan: {
        v: 1,
        id: 'root-1',
        root: 0,
        nodes: [
          { t: 'chain', steps: [1, 2] },
          { t: 'task', id: member.id, name: 'add', args: [] },
          { t: 'task', id: 'root-1', name: 'add', args: [] },
        ],
      },
    });
    for (const e of [chainStep, elsewhere, inline]) expect(decode(encodeEnvelope(e))).toEqual({ ok: true, foreign: false, envelope: e });
  });

  it('keeps a plain call plain: no continuation stack, no workflow reference added', () => {
    const plain: Envelope = { v: 1, id: 'id-1', task: 'add', args: [1], headers: { rootId: 'id-1', parentId: null, retries: 0 } };

    expect(decode(encodeEnvelope(plain))).toEqual({ ok: true, foreign: false, envelope: plain });
  });

  it('refuses a short top frame on a message without groupId / groupIndex headers (BAD_ENVELOPE)', () => {
    const body = JSON.stringify({
      ...JSON.parse(encodeEnvelope(member)),
      headers: { rootId: 'root-1', parentId: null, retries: 0 },
      k: [{ g: 3, n: 10 }],
    });
    const r = decode(body);

    expect(r.ok).toBe(false);
    expect(r.ok ? undefined : r.error.code).toBe('BAD_ENVELOPE');
  });
});

describe('envelope v1: the fairness key and trace context a call carries', () => {
  const ctx = { messageId: 'm-1', queue: 'default' };
  const traceparent = '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01';

  it('keeps headers.fairnessKey through encode and decode', () => {
    const env: Envelope = { ...member, headers: { ...member.headers, fairnessKey: 'tenant-42' } };
    const d = decodeEnvelope(encodeEnvelope(env), ctx);
    expect(d.ok && d.envelope.headers.fairnessKey).toBe('tenant-42');
  });

  it('refuses an envelope whose fairness key SQS would refuse as a MessageGroupId (BAD_ENVELOPE, naming the rule)', () => {
    const env = { ...member, headers: { ...member.headers, fairnessKey: 'tenant 42' } };
    const d = decodeEnvelope(JSON.stringify(env), ctx);
    expect(d.ok).toBe(false);
    expect(!d.ok && d.error).toMatchObject({ code: 'BAD_ENVELOPE', message: expect.stringContaining('headers.fairnessKey') });
    expect(!d.ok && d.error.message).toContain('1-128 characters');
  });

  it('reads fairnessKey, traceparent and tracestate of a plain call into the headers; "" or null is none', () => {
    const d = decodeEnvelope(JSON.stringify({ task: 'add', args: [1], fairnessKey: 'acme', traceparent, tracestate: 'k=v' }), ctx);
    expect(d.ok && d.envelope.headers).toMatchObject({ fairnessKey: 'acme', traceparent, tracestate: 'k=v' });
    const blank = decodeEnvelope(JSON.stringify({ task: 'add', args: [1], fairnessKey: '', traceparent: null, tracestate: '' }), ctx);
    expect(blank.ok).toBe(true);
    expect(blank.ok && blank.envelope.headers).not.toHaveProperty('fairnessKey');
    expect(blank.ok && blank.envelope.headers).not.toHaveProperty('traceparent');
    expect(blank.ok && blank.envelope.headers).not.toHaveProperty('tracestate');
    const bad = decodeEnvelope(JSON.stringify({ task: 'add', args: [1], fairnessKey: 'a b' }), ctx);
    expect(!bad.ok && bad.error).toMatchObject({ code: 'BAD_ENVELOPE', message: expect.stringContaining('fairnessKey') });
  });
});

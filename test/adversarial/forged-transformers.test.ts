/**
 * Ids that leave the worker through EventBridge: every input transformer the stack deploys
 * (lib/routing builds them), rendered the way AWS renders them — values spliced into quoted
 * template slots WITHOUT escaping (lib/local/eventbridge, its default) — must send exactly the
 * call the rule means, whatever id a sender chose. The worker only ever publishes ids that pass
 * the id rules (lib/protocol/ids.ts), or safe ids derived from the transport's message id.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ErrorCodes } from '../../lib/errors';
import { renderInputTransformer } from '../../lib/local/eventbridge';
import { decodeEnvelope } from '../../lib/protocol/envelope';
import { isId, safeId } from '../../lib/protocol/ids';
import { buildTopology, errbackCallId, linkCallId, type TopologyRule } from '../../lib/routing/topology';
import { harness, sqsEvent } from '../helpers/harness';

/** Strings a sender might choose as an id, to break out of a template or a key. */
const HOSTILE = [
  'a"b',
  '","args":[666,0],"x":"',
  '\\"',
  'x\\',
  'line\nbreak',
  '\u0000',
  '<id>',
  '<rootId>"}',
  "it's",
  '}]}',
  'join:chord-1',
  'errback:t1:0',
  'café 🚀',
  '#r#p#',
  'x'.repeat(300),
  '',
];

function appWithLinks() {
  const h = harness();
  const charge = h.app.task('charge', (n: number) => {
    if (n < 0) throw new Error('declined');
    return n;
  });
  const refund = h.app.task('refund', (_id: string) => 'refunded');
  const report = h.app.task('report', (n: number) => n);
  const notify = h.app.task('notify', (_r: unknown) => 'sent');
  h.app.linkError(charge, refund).link(report, notify);
  return { h, rules: buildTopology(h.app.topology()).rules.filter((r) => r.inputTransformer !== undefined) };
}

/** What a rule's target must receive for a source event of `id` (the call the rule means). */
function intendedCall(
  rule: TopologyRule,
  detail: { id: string; rootId: string; result?: unknown; traceparent?: string; tracestate?: string; fairnessKey?: string },
): unknown {
  const to = rule.target.kind === 'queue' ? rule.target.task : '?';
  const isError = rule.name.startsWith('errlink');
  // What the call carries on from the event; a slot the event has nothing for is "" (none).
  const carried = { traceparent: detail.traceparent ?? '', tracestate: detail.tracestate ?? '', fairnessKey: detail.fairnessKey ?? '' };
  return isError
    ? { task: to, args: [detail.id], id: errbackCallId(detail.id, to), parentId: detail.id, rootId: detail.rootId, ...carried }
    : { task: to, args: [detail.result], id: linkCallId(detail.id, to), parentId: detail.id, rootId: detail.rootId, ...carried };
}

function eventFor(detail: Record<string, unknown>) {
  return { version: '0', id: 'e-1', 'detail-type': 'task-failed', source: 'celeriac.test', time: '2026-01-01T00:00:00Z', detail };
}

describe('deployed input transformers rendered as AWS does', () => {
  it('the stack deploys a transformer for each static link and error link', () => {
    const { rules } = appWithLinks();
    expect(rules.map((r) => r.name).sort()).toEqual(['errlink-charge-refund', 'link-report-notify']);
  });

  it.each(HOSTILE.map((s) => [JSON.stringify(s).slice(0, 40), s]))(
    'an id %s reaches every target as exactly the intended call',
    (_l, s) => {
      const { rules } = appWithLinks();
      const id = isId(s) ? s : safeId(s);
      for (const rule of rules) {
        const detail = { id, rootId: id, result: { note: s } };
        const out = renderInputTransformer(rule.inputTransformer as NonNullable<TopologyRule['inputTransformer']>, eventFor(detail));
        expect(JSON.parse(out), rule.name).toEqual(intendedCall(rule, detail));
      }
    },
  );

  it('for any string, the id the worker would publish renders into valid calls meaning what the rule says', () => {
    const { rules } = appWithLinks();
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), fc.jsonValue(), (s, result) => {
        const id = isId(s) ? s : safeId(s);
        for (const rule of rules) {
          // The carried values sit in unquoted slots: any string (quotes included) stays one value.
          const detail = {
            id,
            rootId: id,
            result: JSON.parse(JSON.stringify(result ?? null)),
            tracestate: s,
            fairnessKey: `k"${s.length}`,
          };
          const out = renderInputTransformer(rule.inputTransformer as NonNullable<TopologyRule['inputTransformer']>, eventFor(detail));
          expect(JSON.parse(out)).toEqual(intendedCall(rule, detail));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('an id the rules refuse would have rewritten the call (why it never leaves the worker)', () => {
    const { rules } = appWithLinks();
    const rule = rules.find((r) => r.name.startsWith('errlink')) as TopologyRule;
    const forged = 'x","task":"charge","args":[666,0],"id":"y';
    expect(isId(forged)).toBe(false);
    const out = renderInputTransformer(
      rule.inputTransformer as NonNullable<TopologyRule['inputTransformer']>,
      eventFor({ id: forged, rootId: 'r' }),
    );
    // Unescaped, the quotes end the id and the rest is read as JSON: not the call the rule means.
    expect(() => expect(JSON.parse(out)).toEqual(intendedCall(rule, { id: forged, rootId: 'r' }))).toThrow();
  });

  it('a refused message whose claimed id holds quotes publishes a safe id, and no static error link matches it', async () => {
    const { h, rules } = appWithLinks();
    const body = JSON.stringify({
      v: 1,
      id: 'x","args":[666,0],"y":"',
      task: 'charge',
      args: [1],
      headers: { rootId: 'r', parentId: null, retries: 0 },
    });
    await h.handler(sqsEvent('default', [{ messageId: 'm"1', receiptHandle: 'rh', body, receiveCount: 1, sentAt: 0, firstReceivedAt: 0 }]));
    const events = h.backend.events.events;
    expect(events).toHaveLength(1);
    const detail = events[0]?.detail as { id: string; task: string; error: { code: string } };
    expect(detail.error.code).toBe(ErrorCodes.BAD_ENVELOPE);
    expect(isId(detail.id)).toBe(true);
    expect(detail.id).toBe(safeId('m"1'));
    expect(detail.task).not.toBe('charge');
    const errlink = rules.find((r) => r.name.startsWith('errlink')) as TopologyRule;
    expect((errlink.eventPattern as { detail: { task: readonly string[] } }).detail.task).not.toContain(detail.task);
    // And decoding what the target would get still yields only the intended refund call.
    const out = renderInputTransformer(errlink.inputTransformer as NonNullable<TopologyRule['inputTransformer']>, eventFor(detail));
    const call = decodeEnvelope(out, { messageId: 'm-2' });
    expect(call.ok && call.envelope.args).toEqual([detail.id]);
  });
});

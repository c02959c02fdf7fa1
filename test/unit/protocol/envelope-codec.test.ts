/**
 * The envelope and plan codec (lib/protocol/wire.ts): one description per shape, so encoding and
 * decoding are each other's inverse, and a malformed body is refused with BAD_ENVELOPE naming
 * the wire path of the lie.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chain, chord, group } from '../../../lib/index';
import { decodeWith } from '../../../lib/protocol/codec';
import { decodeEnvelope, decodePlan, type Envelope, encodeEnvelope, encodePlan } from '../../../lib/protocol/envelope';
import type { Json } from '../../../lib/protocol/json';
import type { Frame, Plan, PlanNode, PlanRecord } from '../../../lib/protocol/plan';
import { PLAN } from '../../../lib/protocol/wire';
import { harness } from '../../helpers/harness';

const anId = fc.uuid();
const nat = fc.nat(1_000);
/** JSON values; prototype keys are refused before decoding (lib/protocol/json.ts), so none here. */
const UNSAFE = /__proto__|constructor|prototype/;
const json = fc
  .jsonValue({ maxDepth: 2 })
  .filter((x) => !UNSAFE.test(JSON.stringify(x)))
  // As JSON.parse gives it back (-0 is 0).
  .map((x) => JSON.parse(JSON.stringify(x)) as Json);
const jsonObject: fc.Arbitrary<Record<string, Json>> = fc.dictionary(
  fc.string({ maxLength: 12 }).filter((key) => !UNSAFE.test(key)),
  json,
  { maxKeys: 2 },
);
const iso = fc.integer({ min: 0, max: 4_000_000_000_000 }).map((ms) => new Date(ms).toISOString());
const seconds = fc.oneof(
  fc.nat(1_000),
  fc.double({ min: 0, max: 1_000, noNaN: true }).map((x) => x + 0),
);

const frame: fc.Arbitrary<Frame> = fc.oneof(
  fc.record({ chain: nat, step: nat }),
  fc.record(
    { joinId: anId, group: nat, member: nat, size: nat, body: nat, deadline: fc.nat() },
    { requiredKeys: ['joinId', 'group', 'member', 'size'] },
  ),
);

const headers = fc.record(
  {
    rootId: anId,
    parentId: fc.oneof(fc.constant(null), anId),
    groupId: anId,
    groupIndex: nat,
    retries: nat,
    eta: iso,
    expires: iso,
    timeLimit: fc.tuple(fc.oneof(fc.constant(null), seconds), fc.oneof(fc.constant(null), seconds)),
    ignoreResult: fc.boolean(),
    queue: fc.string({ minLength: 1, maxLength: 8 }),
    custom: jsonObject,
    replaced: nat,
  },
  { requiredKeys: ['rootId', 'parentId', 'retries'] },
);

/** Valid domain envelopes (workflows by reference: an inline plan is also checked against the frames). */
const envelope: fc.Arbitrary<Envelope> = fc
  .record(
    {
      v: fc.constant(1 as const),
      id: anId,
      task: fc.string({ minLength: 1, maxLength: 8 }),
      args: fc.array(json, { maxLength: 3 }),
      kwargs: jsonObject,
      headers,
      workflow: fc.record({ ref: anId }),
      node: nat,
      continuation: fc.array(frame, { maxLength: 4 }),
      sameRef: fc.boolean(),
      topIsMember: fc.boolean(),
    },
    { requiredKeys: ['v', 'id', 'task', 'args', 'headers', 'sameRef', 'topIsMember'] },
  )
  // Reach the two wire defaults often: the stored plan named by the root id, a member's top frame.
  .map(({ sameRef, topIsMember, ...e }) => {
    // The wire reads frames without a workflow as the plan stored under the root id: the engine
    // never writes frames without one.
    let out: Envelope = e.continuation !== undefined && e.workflow === undefined ? { ...e, continuation: undefined } : e;
    if (out.continuation === undefined) {
      const { continuation: _, ...rest } = out;
      out = rest;
    }
    if (sameRef && out.workflow !== undefined) out = { ...out, workflow: { ref: out.headers.rootId } };
    const top = out.continuation?.[0];
    if (topIsMember && top !== undefined && 'joinId' in top) {
      out = { ...out, headers: { ...out.headers, groupId: top.joinId, groupIndex: top.member } };
    }
    return out;
  });

const options = fc.record(
  {
    queue: fc.string({ minLength: 1, maxLength: 8 }),
    countdown: fc.integer(),
    eta: iso,
    expires: fc.oneof(fc.nat(), iso),
    timeLimit: seconds,
    softTimeLimit: seconds,
    ignoreResult: fc.boolean(),
    headers: jsonObject,
  },
  { requiredKeys: [] },
);
const planNode: fc.Arbitrary<PlanNode> = fc.oneof(
  fc.record(
    {
      kind: fc.constant('task' as const),
      id: anId,
      name: fc.string({ maxLength: 8 }),
      args: fc.array(json, { maxLength: 3 }),
      kwargs: jsonObject,
      immutable: fc.constant(true as const),
      opts: options,
      link: fc.array(nat, { maxLength: 3 }),
      linkError: fc.array(nat, { maxLength: 3 }),
      replaced: nat,
    },
    { requiredKeys: ['kind', 'id', 'name', 'args'] },
  ),
  fc.record({ kind: fc.constant('chain' as const), steps: fc.array(nat, { maxLength: 3 }) }),
  fc.record({ kind: fc.constant('group' as const), id: anId, members: fc.array(nat, { maxLength: 3 }) }),
  fc.record(
    { kind: fc.constant('chord' as const), header: nat, body: nat, deadline: fc.integer() },
    { requiredKeys: ['kind', 'header', 'body'] },
  ),
);
const plan: fc.Arbitrary<Plan> = fc.record({
  v: fc.constant(1 as const),
  id: anId,
  root: nat,
  nodes: fc.array(planNode, { maxLength: 5 }),
});

const decode = (body: string) => decodeEnvelope(body, { messageId: 'm-1' });

describe('encoding and decoding are inverse', () => {
  it('an envelope decodes to exactly what was encoded', () => {
    fc.assert(
      fc.property(envelope, (e) => {
        expect(decode(encodeEnvelope(e))).toEqual({ ok: true, foreign: false, envelope: e });
      }),
      { numRuns: 2_000 },
    );
  });

  it('a plan read back from its stored form is the plan that was stored (shape; structure is flow.test.ts)', () => {
    fc.assert(
      fc.property(plan, (p) => {
        const r = decodeWith(PLAN, JSON.parse(JSON.stringify(encodePlan(p))));
        expect(r).toEqual({ ok: true, value: p });
      }),
      { numRuns: 2_000 },
    );
  });
});

/** A valid wire envelope (compact keys, frames in full) with every optional part present. */
const wire = (): Record<string, unknown> => ({
  v: 1,
  id: 'e-1',
  task: 'add',
  args: [1, 2],
  kwargs: { a: 1 },
  headers: {
    rootId: 'root-1',
    parentId: null,
    retries: 0,
    eta: '2026-01-01T00:00:00.000Z',
    expires: '2026-01-02T00:00:00.000Z',
    timeLimit: [10, null],
    ignoreResult: false,
    queue: 'default',
    custom: { h: 1 },
    replaced: 1,
  },
  wf: { ref: 'plan-1' },
  at: 3,
  k: [
    { c: 0, i: 1 },
    { j: 'join-1', g: 2, x: 0, n: 4, b: 5, d: 10 },
  ],
});

/** Each lie: where it is put (a wire path) and the values that are not what the shape says there. */
const LIES: readonly (readonly [readonly (string | number)[], readonly unknown[]])[] = [
  [['id'], [7, '', 'a"b', 'x'.repeat(257), null]],
  [['task'], ['', 7, 't'.repeat(257)]],
  [['args'], [{}, 'x', null]],
  [['kwargs'], [[], 'x', 1]],
  [['headers'], [[], 'x']],
  [
    ['headers', 'rootId'],
    [null, 5, ''],
  ],
  [
    ['headers', 'parentId'],
    [5, ''],
  ],
  [
    ['headers', 'retries'],
    [-1, 1.5, 1e300, '0', null],
  ],
  [['headers', 'groupId'], [5]],
  [
    ['headers', 'groupIndex'],
    [-1, 'x'],
  ],
  [
    ['headers', 'eta'],
    ['tomorrow', 5],
  ],
  [['headers', 'expires'], ['soon']],
  [
    ['headers', 'timeLimit'],
    [[1], [1, 'x'], [-1, null], [3e9, null], 5],
  ],
  [
    ['headers', 'ignoreResult'],
    ['yes', 1],
  ],
  [
    ['headers', 'queue'],
    ['', 5, 'q'.repeat(257)],
  ],
  [
    ['headers', 'custom'],
    [[1], 'x'],
  ],
  [
    ['headers', 'replaced'],
    [-1, 'x'],
  ],
  [['wf'], ['x', [], { ref: 5 }, { ref: 'a', extra: 1 }, { plan: 'x' }]],
  [['at'], [-1, 'x', 1.5]],
  [['k'], ['x', {}, Array.from({ length: 65 }, () => ({ c: 0, i: 1 }))]],
  [
    ['k', 0],
    ['x', null, { c: 0 }, { c: 0, i: 1, extra: 1 }],
  ],
  [
    ['k', 0, 'i'],
    [-1, 'x'],
  ],
  [
    ['k', 1, 'j'],
    [5, ''],
  ],
  [['k', 1, 'g'], [-1]],
  [['k', 1, 'n'], ['x']],
  [['k', 1, 'b'], [-2]],
  [
    ['k', 1, 'd'],
    [-1, 'x'],
  ],
  [['k', 1, 'extra'], [1]],
];
/** Required keys: leaving one out is refused too. */
const REQUIRED: readonly (readonly (string | number)[])[] = [
  ['id'],
  ['task'],
  ['args'],
  ['headers'],
  ['headers', 'rootId'],
  ['headers', 'parentId'],
  ['headers', 'retries'],
  ['k', 0, 'i'],
  ['k', 1, 'g'],
  ['k', 1, 'n'],
];

function set(target: Record<string, unknown>, path: readonly (string | number)[], value: unknown): void {
  let at: Record<string | number, unknown> = target;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (value === undefined) delete at[last];
  else at[last] = value;
}

/** The wire path as an error names it: the path of the lie, or its container for an extra or missing key. */
const named = (path: readonly (string | number)[]): string => path.join('.');

describe('a malformed envelope is refused with BAD_ENVELOPE naming where', () => {
  it('the unchanged wire envelope decodes', () => {
    expect(decode(JSON.stringify(wire())).ok).toBe(true);
  });

  it('a value that is not what its field says', () => {
    const lie = fc.constantFrom(...LIES).chain(([path, values]) => fc.tuple(fc.constant(path), fc.constantFrom(...values)));
    fc.assert(
      fc.property(lie, ([path, value]) => {
        const body = wire();
        set(body, path, value);
        const r = decode(JSON.stringify(body));
        expect(r.ok).toBe(false);
        if (r.ok) return;
        expect(r.error.code).toBe('BAD_ENVELOPE');
        // An extra key is named by its container (the shape it does not belong to).
        const where = path[path.length - 1] === 'extra' ? path.slice(0, -1) : path;
        // The lie's own path, or a path inside it (the first field of it that is wrong).
        expect(r.error.message).toMatch(new RegExp(`(^|[ ;])${named(where).replaceAll('.', '\\.')}[.:]`));
      }),
      { numRuns: 500 },
    );
  });

  it('a required key left out', () => {
    for (const path of REQUIRED) {
      const body = wire();
      set(body, path, undefined);
      const r = decode(JSON.stringify(body));
      expect(r.ok ? 'accepted' : r.error.code, named(path)).toBe('BAD_ENVELOPE');
      expect(r.ok ? '' : r.error.message, named(path)).toContain(`${named(path)}: `);
    }
  });

  it('a malformed stored plan is refused with BAD_ENVELOPE naming the node', () => {
    const stored = {
      v: 1,
      id: 'p',
      root: 0,
      nodes: [
        { t: 'chain', steps: [1] },
        { t: 'task', id: 'a', name: 'add', args: 'x' },
      ],
    };
    expect(() => decodePlan(stored)).toThrow(/nodes\.1\.args: /);
    expect(() => decodePlan({ ...stored, nodes: [{ t: 'tusk' }] })).toThrow(/nodes\.0: /);
    const replaced = { ...stored, nodes: [stored.nodes[0], { t: 'task', id: 'a', name: 'add', args: [], rep: -1 }] };
    expect(() => decodePlan(replaced)).toThrow(/nodes\.1\.rep: /);
  });
});

describe('what the runtime writes reads back byte for byte', () => {
  it('messages of a plain call, a chain, a group and a chord with links and errbacks; the stored plans', async () => {
    const h = harness();
    const add = h.app.task('add', (x: number, y: number) => x + y);
    const sum = h.app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
    const onError = h.app.task('onError', (id: string) => id);
    const bodies: string[] = [];
    const send = h.backend.broker.send.bind(h.backend.broker);
    h.backend.broker.send = async (msgs) => {
      for (const m of msgs) bodies.push(m.body);
      return send(msgs);
    };
    const plans: PlanRecord[] = [];
    const putPlan = h.backend.store.putPlan.bind(h.backend.store);
    h.backend.store.putPlan = async (p) => {
      plans.push(p);
      return putPlan(p);
    };

    await add.delay(1, 2);
    await add.applyAsync([1, 2], { link: add.s(10), linkError: onError.s() });
    await chain(add.s(1, 2), add.s(3), add.s(4)).applyAsync();
    await group(add.s(1, 1), add.s(2, 2)).applyAsync();
    await chord([add.s(1, 1), chain(add.s(2, 2), add.s(1))], sum.s().linkError(onError.s())).applyAsync();
    await chain(add.s(1, 1), chord([add.s(1), add.s(2)], sum.s()), add.s(5)).applyAsync();
    await h.drain();

    expect(bodies.length).toBeGreaterThan(15);
    for (const b of bodies) {
      const r = decode(b);
      expect(r.ok, b).toBe(true);
      if (r.ok) expect(encodeEnvelope(r.envelope)).toBe(b);
    }
    expect(plans.length).toBeGreaterThanOrEqual(2);
    for (const p of plans) expect(encodePlan(decodePlan(JSON.parse(JSON.stringify(p))))).toEqual(p);
  });
});

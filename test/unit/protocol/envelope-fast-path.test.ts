/**
 * The codec's hand-written fast paths answer "valid, and the schema would return exactly this" or
 * "ask the schema" — never anything else. And the messages and plans the runtime itself writes
 * take the fast path (otherwise it is dead code that only looks fast).
 */
import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { chain, chord, group } from '../../../lib/index';
import { envelopeSchema, expandTopFrame, isCommonEnvelope, isCommonPlan, planSchema } from '../../../lib/protocol/envelope';
import type { Plan } from '../../../lib/protocol/plan';
import { harness } from '../../helpers/harness';

const uuid = fc.uuid();
/** Ids, including the characters an id may not hold. */
const anId = fc.oneof(
  { weight: 30, arbitrary: uuid },
  { weight: 1, arbitrary: fc.constantFrom('', 'a"b', 'a\\b', 'x\u0001', 'x'.repeat(257), 'ok-id') },
);
const nat = fc.oneof({ weight: 30, arbitrary: fc.nat(20) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, Number.NaN, '3') });
/** Anything in place of a field, now and then. */
/** Mostly absent, now and then `arb`. */
const rarely = <T>(arb: fc.Arbitrary<T>) => fc.oneof({ weight: 10, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
const junk = fc.constantFrom<unknown>(null, true, 7, 'str', [], {}, [1], { a: 1 });
const maybe = <T>(arb: fc.Arbitrary<T>) =>
  fc.option(fc.oneof({ weight: 30, arbitrary: arb }, { weight: 1, arbitrary: junk }), { nil: undefined });

const frame = fc.oneof(
  { weight: 10, arbitrary: fc.record({ c: nat, i: nat }) },
  {
    weight: 10,
    arbitrary: fc.record(
      { j: anId, g: nat, x: nat, n: nat, b: maybe(nat), d: maybe(fc.integer()) },
      { requiredKeys: ['j', 'g', 'x', 'n'] },
    ),
  },
  { weight: 1, arbitrary: junk },
);

const taskNode = fc.record(
  {
    t: fc.oneof({ weight: 30, arbitrary: fc.constant('task') }, { weight: 1, arbitrary: fc.constant('tusk') }),
    id: anId,
    name: fc.oneof({ weight: 30, arbitrary: fc.string() }, { weight: 1, arbitrary: junk }),
    args: fc.oneof({ weight: 30, arbitrary: fc.array(fc.jsonValue(), { maxLength: 3 }) }, { weight: 1, arbitrary: junk }),
    kwargs: maybe(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 2 })),
    imm: maybe(fc.constantFrom(true, false)),
    opts: fc.option(fc.record({ queue: fc.string(), countdown: fc.double() }, { requiredKeys: [] }), { nil: undefined }),
    link: maybe(fc.array(nat, { maxLength: 3 })),
    err: maybe(fc.array(nat, { maxLength: 3 })),
    extra: rarely(fc.constant(1)),
  },
  { requiredKeys: ['t', 'id', 'name', 'args'] },
);
const planNode = fc.oneof(
  { weight: 20, arbitrary: taskNode },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('chain'), steps: fc.oneof(fc.array(nat, { maxLength: 3 }), junk) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('group'), id: anId, members: fc.oneof(fc.array(nat, { maxLength: 3 }), junk) }) },
  {
    weight: 5,
    arbitrary: fc.record(
      { t: fc.constant('chord'), header: nat, body: nat, deadline: maybe(fc.integer()) },
      { requiredKeys: ['t', 'header', 'body'] },
    ),
  },
  { weight: 1, arbitrary: junk },
);
const plan = fc.record({
  v: fc.oneof({ weight: 30, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constant(2) }),
  id: anId,
  root: nat,
  nodes: fc.oneof(fc.array(planNode, { maxLength: 4 }), junk),
});

const envelope = fc.record(
  {
    v: fc.oneof({ weight: 30, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constant(2) }),
    id: anId,
    task: fc.oneof(
      { weight: 30, arbitrary: fc.string({ maxLength: 4 }) },
      { weight: 1, arbitrary: fc.constant('t'.repeat(257)) },
      { weight: 1, arbitrary: junk },
    ),
    args: fc.oneof({ weight: 30, arbitrary: fc.array(fc.jsonValue(), { maxLength: 3 }) }, { weight: 1, arbitrary: junk }),
    kwargs: maybe(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 2 })),
    headers: fc.oneof(
      {
        weight: 8,
        arbitrary: fc.record(
          {
            rootId: anId,
            parentId: fc.oneof(fc.constant(null), anId),
            groupId: maybe(anId),
            groupIndex: maybe(nat),
            retries: nat,
            queue: maybe(fc.string()),
            ignoreResult: maybe(fc.boolean()),
            eta: rarely(fc.constantFrom('2026-01-01T00:00:00.000Z', 'tomorrow')),
            custom: rarely(fc.constant({ a: 1 })),
          },
          { requiredKeys: ['rootId', 'parentId', 'retries'] },
        ),
      },
      { weight: 1, arbitrary: junk },
    ),
    wf: maybe(fc.oneof(fc.record({ ref: anId }), fc.record({ plan }), fc.record({ ref: anId, plan }))),
    at: maybe(nat),
    k: maybe(
      fc.oneof(
        { weight: 20, arbitrary: fc.array(frame, { maxLength: 3 }) },
        { weight: 1, arbitrary: fc.constant(Array.from({ length: 65 }, () => ({ c: 0, i: 1 }))) },
      ),
    ),
    extra: rarely(fc.constant('x')),
  },
  { requiredKeys: ['v', 'id', 'task', 'args', 'headers'] },
);

/** JSON round trip: what a decoder sees is always JSON.parse output. */
const asParsed = <T>(x: T): unknown => JSON.parse(JSON.stringify(x));

describe('the fast paths never disagree with the schemas', () => {
  it('an envelope the fast check accepts is accepted by the schema, which returns it unchanged', () => {
    let fast = 0;
    fc.assert(
      fc.property(envelope, (e) => {
        const raw = asParsed(e);
        if (!isCommonEnvelope(raw)) return;
        fast++;
        const r = v.safeParse(envelopeSchema, raw);
        expect(r.success).toBe(true);
        expect(r.output).toStrictEqual(raw);
      }),
      { numRuns: 3_000 },
    );
    // The generator reaches the fast path often enough for the property to mean something.
    expect(fast).toBeGreaterThan(100);
  });

  it('a plan the fast check accepts is accepted by the schema, which returns it unchanged', () => {
    let fast = 0;
    fc.assert(
      fc.property(plan, (p) => {
        const raw = asParsed(p);
        if (!isCommonPlan(raw)) return;
        fast++;
        const r = v.safeParse(planSchema, raw);
        expect(r.success).toBe(true);
        expect(r.output).toStrictEqual(raw);
      }),
      { numRuns: 3_000 },
    );
    expect(fast).toBeGreaterThan(100);
  });
});

describe('what the runtime writes takes the fast path', () => {
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
    const plans: Plan[] = [];
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
    // Rare headers (eta, expires, time limits, custom headers) are left to the schema: here only
    // the chord deadline checks carry one (an eta a day away).
    const common = bodies.filter((b) => !/"(eta|expires|timeLimit|custom)":/.test(b));
    expect(bodies.length - common.length).toBe(2);
    for (const b of common) {
      const raw = JSON.parse(b);
      expandTopFrame(raw); // as decodeEnvelope does before validating
      expect(isCommonEnvelope(raw), b).toBe(true);
    }
    expect(plans.length).toBeGreaterThanOrEqual(2);
    for (const p of plans) expect(isCommonPlan(asParsed(p))).toBe(true);
  });
});

/**
 * Reliability 4 — bad inputs. Whatever arrives on a queue, the worker never throws out of the
 * handler, never drops a message silently, and never harms a neighbour in the batch:
 *
 * - a body that is not a valid call ends as a stored FAILURE with a specific error `code` under
 *   its SQS message id (never under the id it claims), and is acknowledged;
 * - a message that can never succeed is redelivered until maxReceiveCount, then lands in the DLQ;
 * - the good call in the same batch always succeeds.
 *
 * A corpus (test/fixtures/bad-inputs/corpus.json, plus generated inputs: oversize bodies and
 * results, deep nesting, invalid UTF-8 bytes, a valid call in a batch of 2,000 garbage records)
 * runs through the Lambda handler directly and through the memory broker with a redrive policy;
 * then fast-check fuzzes the codec (`decodeEnvelope`) and the handler with generated bodies:
 * random text, JSON, valid and mutated envelopes and calls, prototype keys, lone surrogates,
 * overflowing numbers, deep nesting, truncations.
 * Size: 2,000 codec cases and 1,000 handler cases (CELERIAC_RELIABILITY=large: 20,000 and 10,000).
 * Runs on the in-memory adapters: the codec and the worker path are transport-neutral.
 */
import { readFileSync } from 'node:fs';
import type { SQSBatchResponse } from 'aws-lambda';
import fc from 'fast-check';
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import { memoryBackend } from '../../lib/adapters/memory';
import { createApp } from '../../lib/app';
import { CeleriacError, ErrorCodes, Reject } from '../../lib/errors';
import type { ReceivedMessage, ResultRecord } from '../../lib/ports';
import { decodeEnvelope, type Envelope, encodeEnvelope } from '../../lib/protocol/envelope';
import { assertSafeJson } from '../../lib/protocol/json';
import { SQS_MAX_MESSAGE_BYTES } from '../../lib/protocol/limits';
import { isReady } from '../../lib/results/states';
import { createWorker } from '../../lib/worker';
import { sqsEvent } from '../helpers/harness';
import { bySize, keepErrors, report, SEED } from './support';

const CODEC_RUNS = bySize(2_000, 20_000);
const HANDLER_RUNS = bySize(1_000, 10_000);

/** The codes a body the codec refuses may carry. */
const DECODE_CODES = new Set<string>([
  ErrorCodes.MALFORMED_JSON,
  ErrorCodes.UNSUPPORTED_VERSION,
  ErrorCodes.BAD_ENVELOPE,
  ErrorCodes.UNSAFE_KEY,
  ErrorCodes.TOO_DEEP,
  ErrorCodes.NOT_JSON_SERIALIZABLE,
  ErrorCodes.BAD_NUMBER,
  ErrorCodes.INVALID_UNICODE,
  ErrorCodes.FOREIGN_MESSAGE_UNROUTABLE,
]);

type Expect = { code: string; id?: string } | { result: unknown; id?: string } | { dlq: true };
interface Input {
  readonly name: string;
  readonly queue: 'default' | 'solo';
  readonly body: string;
  readonly expect: Expect;
}

const corpusFile = new URL('../fixtures/bad-inputs/corpus.json', import.meta.url);
const CORPUS: readonly Input[] = (JSON.parse(readFileSync(corpusFile, 'utf8')) as { inputs: Input[] }).inputs;

/** Inputs too big or too binary for a JSON file. */
function generated(): Input[] {
  const nest = (n: number) => `${'['.repeat(n)}1${']'.repeat(n)}`;
  const bytes = (...parts: (string | number[])[]) =>
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p)))).toString('utf8');
  return [
    {
      name: 'oversize garbage (1.5 MB)',
      queue: 'default',
      body: `{"task": "add", "args": [${'9,'.repeat(750_000)}`,
      expect: { code: ErrorCodes.MALFORMED_JSON },
    },
    {
      name: 'oversize non-call (1.2 MB of valid JSON) on a shared queue',
      queue: 'default',
      body: JSON.stringify({ blob: 'x'.repeat(1_200_000) }),
      expect: { code: ErrorCodes.FOREIGN_MESSAGE_UNROUTABLE },
    },
    {
      name: 'a string result too large to store (400 KB)',
      queue: 'default',
      body: JSON.stringify({ task: 'echo', args: ['y'.repeat(400_000)] }),
      expect: { code: ErrorCodes.RESULT_TOO_LARGE },
    },
    {
      name: 'an object result of 300 KB: it fits a record (350 KB allowed), so the call succeeds',
      queue: 'default',
      body: JSON.stringify({ task: 'echo', args: [{ s: 'z'.repeat(300_000) }] }),
      expect: { result: { s: 'z'.repeat(300_000) } },
    },
    {
      name: 'an object result too large to store (400 KB)',
      queue: 'default',
      body: JSON.stringify({ task: 'echo', args: [{ s: 'y'.repeat(400_000) }] }),
      expect: { code: ErrorCodes.RESULT_TOO_LARGE },
    },
    {
      name: 'args nested 100 deep',
      queue: 'default',
      body: `{"task": "echo", "args": [${nest(100)}]}`,
      expect: { code: ErrorCodes.TOO_DEEP },
    },
    { name: 'a body nested 200,000 deep', queue: 'default', body: nest(200_000), expect: { code: 'TOO_DEEP|MALFORMED_JSON' } },
    {
      name: 'a call nested 200,000 deep in its args',
      queue: 'default',
      body: `{"task": "echo", "args": [${nest(200_000)}]}`,
      expect: { code: 'TOO_DEEP|MALFORMED_JSON' },
    },
    {
      name: 'invalid UTF-8 bytes outside strings (decoded to U+FFFD)',
      queue: 'default',
      body: bytes('{"task": "add", ', [0xff, 0xfe, 0xc3], '"args": [1, 2]}'),
      expect: { code: ErrorCodes.MALFORMED_JSON },
    },
    {
      name: 'invalid UTF-8 bytes inside a string (decoded to U+FFFD: a valid call)',
      queue: 'default',
      body: bytes('{"task": "echo", "args": ["a', [0xc3, 0x28, 0xa0, 0xa1], 'b"]}'),
      expect: { result: 'a\ufffd(\ufffd\ufffdb' },
    },
    {
      name: 'overlong UTF-8 encoding of "/"',
      queue: 'default',
      body: bytes('{"task": "echo", "args": ["', [0xc0, 0xaf], '"]}'),
      expect: { result: '\ufffd\ufffd' },
    },
  ];
}

const ALL_INPUTS: readonly Input[] = [...CORPUS, ...generated()];

/** The app every bad input is thrown at. */
function target() {
  const backend = memoryBackend();
  for (const q of ['default', 'solo']) backend.broker.configureQueue(q, { redrive: { queue: `${q}-dlq`, maxReceiveCount: 3 } });
  const logger = keepErrors();
  const app = createApp({ name: 'bad-inputs', backend, logger, events: true });
  app.queue('solo', {});
  app.task('add', (x: number, y: number) => x + y);
  app.task('echo', (x: unknown) => x);
  app.task('typed', (n: number) => n * 2, { schema: v.tuple([v.number()]) });
  app.task('poison', () => {
    throw new Reject('never', { requeue: true });
  });
  app.task('ingest', (e: { detail: { kind: string } }) => e.detail.kind, {
    queue: 'solo',
    schema: v.tuple([v.object({ 'detail-type': v.string(), detail: v.object({ kind: v.string() }) })]),
  });
  const handler = createWorker(app);
  let seq = 0;
  const message = (body: string, messageId = `m-${++seq}`, receiveCount = 1): ReceivedMessage => ({
    messageId,
    receiptHandle: `${messageId}:${receiveCount}`,
    body,
    receiveCount,
    sentAt: Date.now(),
    firstReceivedAt: Date.now(),
  });
  return { app, backend, handler, logger, message };
}

/** What a record (or its absence) says about an input, against what it must end as. */
function judge(input: Input, messageId: string, rec: ResultRecord | undefined, retried: boolean): string | undefined {
  const e = input.expect;
  if ('dlq' in e) return retried ? undefined : `${input.name}: acknowledged (${rec?.state ?? 'no record'}), want redelivery to the DLQ`;
  if (retried) return `${input.name}: reported for redelivery, want ${JSON.stringify(e).slice(0, 80)}`;
  const id = e.id ?? messageId;
  if (!rec) return `${input.name}: no record under ${JSON.stringify(id)} (silently dropped)`;
  if ('code' in e) {
    if (rec.state !== 'FAILURE') return `${input.name}: ${rec.state}, want FAILURE ${e.code}`;
    if (!e.code.split('|').includes(rec.error?.code ?? '')) return `${input.name}: code ${rec.error?.code}, want ${e.code}`;
    return undefined;
  }
  if (rec.state !== 'SUCCESS') return `${input.name}: ${rec.state} (${rec.error?.code}: ${rec.error?.message}), want SUCCESS`;
  if (JSON.stringify(rec.result) !== JSON.stringify(e.result))
    return `${input.name}: result ${JSON.stringify(rec.result)}, want ${JSON.stringify(e.result)}`;
  return undefined;
}

const idOf = (input: Input, messageId: string): string => ('dlq' in input.expect ? messageId : (input.expect.id ?? messageId));

describe('bad inputs', () => {
  it(`the corpus (${ALL_INPUTS.length} inputs), each in a batch with a good call: never a throw, never a silent drop, the neighbour succeeds`, async () => {
    const started = Date.now();
    const t = target();
    const problems: string[] = [];
    const byCode = new Map<string, number>();
    let i = 0;
    for (const input of ALL_INPUTS) {
      i++;
      const bad = t.message(input.body, `bad-${i}`);
      const good = t.message(JSON.stringify({ task: 'add', args: [i, 1] }), `good-${i}`);
      const records = i % 2 === 0 ? [bad, good] : [good, bad];
      let res: SQSBatchResponse;
      try {
        res = await t.handler(sqsEvent(input.queue, records));
      } catch (e) {
        problems.push(`${input.name}: the handler threw ${String(e)}`);
        continue;
      }
      const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
      const [badRec, goodRec] = await t.backend.store.getMany([idOf(input, bad.messageId), good.messageId]);
      const verdict = judge(input, bad.messageId, badRec, failed.has(bad.messageId));
      if (verdict) problems.push(verdict);
      if (failed.has(good.messageId) || goodRec?.state !== 'SUCCESS' || goodRec.result !== i + 1) {
        problems.push(`${input.name}: the good neighbour ended ${goodRec?.state ?? 'PENDING'} (${JSON.stringify(goodRec?.result)})`);
      }
      if (badRec?.state === 'FAILURE') byCode.set(badRec.error?.code ?? '?', (byCode.get(badRec.error?.code ?? '?') ?? 0) + 1);
    }
    expect(({} as Record<string, unknown>).polluted, 'Object.prototype polluted').toBeUndefined();
    const dlq = ALL_INPUTS.filter((x) => 'dlq' in x.expect).length;
    report(
      'bad-inputs corpus',
      'handler (memory)',
      {
        inputs: ALL_INPUTS.length,
        'stored errors': [...byCode.values()].reduce((a, b) => a + b, 0),
        'redelivered (DLQ-bound)': dlq,
        codes: [...byCode].map(([c, n]) => `${c}×${n}`).join(' '),
        'lost (silently dropped)': problems.filter((p) => p.includes('silently dropped')).length,
        'wrong outcome': problems.filter((p) => !p.includes('silently dropped') && !p.includes('neighbour')).length,
        'neighbours harmed': problems.filter((p) => p.includes('neighbour')).length,
      },
      started,
    );
    expect(problems).toEqual([]);
  }, 60_000);

  it('through a queue with a redrive policy (maxReceiveCount 3): every input ends stored or in the DLQ, good calls succeed', async () => {
    const started = Date.now();
    const t = target();
    // What SQS itself refuses (empty bodies, characters it does not carry, over 1 MiB) never reaches
    // a queue: the broker refuses it at the edge with a specific error, as SendMessage would.
    const sendable: Input[] = [];
    const refused = new Map<string, number>();
    const goods: string[] = [];
    for (const x of ALL_INPUTS) {
      try {
        await t.backend.broker.send([{ queue: x.queue, body: x.body, id: x.name }]);
      } catch (e) {
        if (!(e instanceof CeleriacError)) throw e;
        refused.set(e.code, (refused.get(e.code) ?? 0) + 1);
        continue;
      }
      sendable.push(x);
      const good = JSON.stringify({ task: 'add', args: [goods.length, 2] });
      goods.push(good);
      await t.backend.broker.send([{ queue: 'default', body: good, id: `good-${goods.length}` }]);
    }
    expect(
      ALL_INPUTS.filter((x) => Buffer.byteLength(x.body) > SQS_MAX_MESSAGE_BYTES).every((x) => !sendable.includes(x)),
      'bodies over 1 MiB are refused',
    ).toBe(true);
    // The event source mapping: receive, invoke, delete what succeeded, release what failed.
    const firstId = new Map<string, string>();
    let invocations = 0;
    for (let round = 0; round < 1_000; round++) {
      let moved = 0;
      for (const q of ['default', 'solo']) {
        const msgs = await t.backend.broker.receive(q, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
        if (msgs.length === 0) continue;
        moved += msgs.length;
        for (const m of msgs) if (!firstId.has(`${q} ${m.body}`)) firstId.set(`${q} ${m.body}`, m.messageId);
        invocations++;
        const res = await t.handler(sqsEvent(q, msgs));
        const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
        await t.backend.broker.delete(
          q,
          msgs.filter((m) => !failed.has(m.messageId)).map((m) => m.receiptHandle),
        );
        for (const m of msgs) if (failed.has(m.messageId)) await t.backend.broker.changeVisibility(q, m.receiptHandle, 0);
      }
      if (moved === 0) break;
    }
    const dead: string[] = [];
    for (const q of ['default-dlq', 'solo-dlq']) {
      for (;;) {
        const msgs = await t.backend.broker.receive(q, { max: 10, visibilityTimeoutSeconds: 300, waitMs: 0 });
        if (msgs.length === 0) break;
        dead.push(...msgs.map((m) => `${q} ${m.body}`));
      }
    }
    const problems: string[] = [];
    for (const x of sendable) {
      const messageId = firstId.get(`${x.queue} ${x.body}`);
      if (messageId === undefined) {
        problems.push(`${x.name}: never delivered`);
        continue;
      }
      const inDlq = dead.includes(`${x.queue}-dlq ${x.body}`);
      const rec = await t.backend.store.get(idOf(x, messageId));
      const verdict = judge(x, messageId, rec, inDlq);
      if (verdict) problems.push(verdict.replace('reported for redelivery', 'in the DLQ'));
    }
    const goodRecs = await t.backend.store.getMany(goods.map((g) => firstId.get(`default ${g}`) ?? '?'));
    goodRecs.forEach((r, i) => {
      if (r?.state !== 'SUCCESS' || r.result !== i + 2) problems.push(`good call ${i}: ${r?.state ?? 'PENDING'}`);
    });
    const left = (await t.backend.broker.depth('default')).visible + (await t.backend.broker.depth('solo')).visible;
    report(
      'bad-inputs redrive',
      'memory broker',
      {
        inputs: sendable.length,
        'refused at the edge': [...refused].map(([c, n]) => `${c}×${n}`).join(' '),
        'good calls': goods.length,
        invocations,
        'in the DLQ': dead.length,
        'lost (silently dropped)': problems.filter((p) => p.includes('silently dropped') || p.includes('never delivered')).length + left,
        'wrong outcome': problems.filter((p) => !p.includes('silently dropped') && !p.includes('never delivered')).length,
      },
      started,
    );
    expect({ problems, left, dlq: dead.length }).toEqual({ problems: [], left: 0, dlq: sendable.filter((x) => 'dlq' in x.expect).length });
  }, 60_000);

  it('one valid call in a batch of 2,000 garbage records: it succeeds, every garbage record has its outcome stored', async () => {
    const started = Date.now();
    const t = target();
    const garbage = CORPUS.filter((x) => 'code' in x.expect && x.queue === 'default' && x.expect.id === undefined);
    const records: ReceivedMessage[] = [];
    for (let i = 0; i < 2_000; i++) records.push(t.message((garbage[i % garbage.length] as Input).body, `junk-${i}`));
    const good = t.message(JSON.stringify({ task: 'add', args: [40, 2] }), 'the-good-one');
    records.splice(1_234, 0, good);
    const res = await t.handler(sqsEvent('default', records));
    const recs = await t.backend.store.getMany(records.map((r) => r.messageId));
    const goodRec = recs[1_234];
    const junk = recs.filter((_, i) => i !== 1_234);
    // Every garbage record has its outcome stored (the corpus spec checks which one).
    const stored = junk.filter((r) => r !== undefined && isReady(r.state)).length;
    const errors = junk.filter((r) => r?.state === 'FAILURE' && typeof r.error?.code === 'string').length;
    report(
      'bad-inputs huge batch',
      'handler (memory)',
      {
        records: records.length,
        'stored outcomes': stored,
        'of which errors': errors,
        'reported for redelivery': res.batchItemFailures.length,
        'good call': goodRec?.state ?? 'PENDING',
      },
      started,
    );
    expect({ good: goodRec?.state, result: goodRec?.result, failures: res.batchItemFailures, stored }).toEqual({
      good: 'SUCCESS',
      result: 42,
      failures: [],
      stored: 2_000,
    });
  }, 60_000);

  it(`fuzzing the codec (${CODEC_RUNS} bodies): decodeEnvelope never throws; a call it accepts is well-formed and round-trips; a body it refuses carries a specific code`, () => {
    const started = Date.now();
    const seen = new Map<string, number>();
    let accepted = 0;
    fc.assert(
      fc.property(body(), fc.boolean(), (text, owned) => {
        let d: ReturnType<typeof decodeEnvelope>;
        try {
          d = decodeEnvelope(text, {
            messageId: 'msg-1',
            queue: owned ? 'solo' : 'default',
            ...(owned ? { queueOwner: 'ingest' } : {}),
            maxDepth: 64,
          });
        } catch (e) {
          throw new Error(`decodeEnvelope threw: ${String(e)}`);
        }
        if (d.ok) {
          accepted++;
          checkEnvelope(d.envelope);
          const again = decodeEnvelope(encodeEnvelope(d.envelope), { messageId: 'msg-2' });
          if (!again.ok) throw new Error(`an accepted call does not round-trip: ${again.error.code} ${again.error.message}`);
          expect(again.envelope).toEqual(d.envelope);
        } else {
          if (!(d.error instanceof CeleriacError)) throw new Error('refusal without a CeleriacError');
          if (!DECODE_CODES.has(d.error.code)) throw new Error(`unexpected code ${d.error.code}`);
          if (typeof d.id !== 'string') throw new Error('refusal without an id to store it under');
          if (d.error.message.length === 0) throw new Error('refusal without a message');
          seen.set(d.error.code, (seen.get(d.error.code) ?? 0) + 1);
        }
        if (({} as Record<string, unknown>).polluted !== undefined) throw new Error('Object.prototype polluted');
      }),
      { numRuns: CODEC_RUNS, seed: SEED },
    );
    report(
      'bad-inputs fuzz codec',
      'decodeEnvelope',
      { cases: CODEC_RUNS, accepted, refused: CODEC_RUNS - accepted, codes: [...seen].map(([c, n]) => `${c}×${n}`).join(' '), lost: 0 },
      started,
    );
  }, 120_000);

  it(`fuzzing the codec (${CODEC_RUNS} bodies): an accepted call carries exactly the arguments sent — the codec refuses a bad shape, it does not rewrite it`, () => {
    const started = Date.now();
    let calls = 0;
    fc.assert(
      fc.property(body(), (text) => {
        const d = decodeEnvelope(text, { messageId: 'msg-1', queue: 'default', maxDepth: 64 });
        if (!d.ok) return;
        calls++;
        const raw = JSON.parse(text) as { args?: unknown; kwargs?: unknown };
        expect({ args: d.envelope.args, kwargs: d.envelope.kwargs }, 'the arguments of an accepted call').toEqual({
          args: raw.args ?? [],
          kwargs: raw.kwargs ?? undefined,
        });
      }),
      { numRuns: CODEC_RUNS, seed: SEED + 2 },
    );
    report('bad-inputs fuzz codec fidelity', 'decodeEnvelope', { cases: CODEC_RUNS, 'accepted calls compared': calls, lost: 0 }, started);
  }, 120_000);

  it(`fuzzing the handler (${HANDLER_RUNS} batches of a generated body and a good call): never a throw, never a silent drop, the neighbour succeeds`, async () => {
    const started = Date.now();
    const counts = { stored: 0, retried: 0, resent: 0, valid: 0 };
    await fc.assert(
      fc.asyncProperty(body(), fc.boolean(), fc.boolean(), async (text, owned, badFirst) => {
        const t = target();
        const resent: string[] = [];
        const send = t.backend.broker.send.bind(t.backend.broker);
        t.backend.broker.send = async (msgs) => {
          for (const m of msgs) resent.push(m.id);
          return send(msgs);
        };
        const queue = owned ? 'solo' : 'default';
        const bad = t.message(text, 'bad-1');
        const good = t.message(JSON.stringify({ task: 'add', args: [20, 22] }), 'good-1');
        let res: SQSBatchResponse;
        try {
          res = await t.handler(sqsEvent(queue, badFirst ? [bad, good] : [good, bad]));
        } catch (e) {
          throw new Error(`the handler threw: ${String(e)}`);
        }
        const failed = new Set(res.batchItemFailures.map((f) => f.itemIdentifier));
        for (const id of failed) if (id !== 'bad-1' && id !== 'good-1') throw new Error(`unknown batch item failure ${id}`);
        const goodRec = await t.backend.store.get('good-1');
        if (failed.has('good-1') || goodRec?.state !== 'SUCCESS' || goodRec.result !== 42) {
          throw new Error(`the good neighbour ended ${goodRec?.state ?? 'PENDING'}`);
        }
        const d = decodeEnvelope(text, { messageId: 'bad-1', queue, ...(owned ? { queueOwner: 'ingest' } : {}), maxDepth: 64 });
        if (!d.ok) {
          // Refused by the codec: stored FAILURE with the codec's code, acknowledged.
          const rec = await t.backend.store.get(d.id);
          if (failed.has('bad-1')) throw new Error(`a refused body (${d.error.code}) was reported for redelivery`);
          if (rec?.state !== 'FAILURE' || rec.error?.code !== d.error.code) {
            throw new Error(
              `refused with ${d.error.code} but stored ${rec?.state ?? 'nothing'} ${rec?.error?.code ?? ''} under ${JSON.stringify(d.id)}`,
            );
          }
          counts.stored++;
          return;
        }
        // A call: it ran or was refused with a stored outcome, or was sent on (a retry, a delay
        // hop), or was reported for redelivery. Anything else is a silent drop.
        counts.valid++;
        const rec = await t.backend.store.get(d.envelope.id);
        if (failed.has('bad-1')) counts.retried++;
        else if (rec !== undefined && (isReady(rec.state) || rec.state === 'RETRY')) {
          if (rec.state === 'FAILURE' && typeof rec.error?.code !== 'string') throw new Error('FAILURE without an error code');
          counts.stored++;
        } else if (resent.includes(d.envelope.id)) counts.resent++;
        else
          throw new Error(
            `a call to ${d.envelope.task} was acknowledged with nothing stored and nothing sent (record: ${rec?.state ?? 'none'})`,
          );
        if (t.logger.errors.some((e) => e.msg.includes('hook'))) throw new Error('a hook failed');
      }),
      { numRuns: HANDLER_RUNS, seed: SEED + 1 },
    );
    report('bad-inputs fuzz handler', 'handler (memory)', { cases: HANDLER_RUNS, ...counts, lost: 0, 'neighbours harmed': 0 }, started);
  }, 300_000);
});

/** An accepted envelope: the shape the codec promises, all of it safe JSON. */
function checkEnvelope(env: Envelope): void {
  const fail = (what: string) => {
    throw new Error(`accepted envelope breaks a rule (${what}): ${JSON.stringify(env).slice(0, 300)}`);
  };
  if (env.v !== 1) fail('v');
  if (typeof env.id !== 'string' || env.id.length < 1 || env.id.length > 256) fail('id');
  if (typeof env.task !== 'string' || env.task.length < 1 || env.task.length > 256) fail('task');
  if (!Array.isArray(env.args)) fail('args');
  if (!Number.isInteger(env.headers.retries) || env.headers.retries < 0) fail('retries');
  const isPlainObject = (x: unknown) => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (env.kwargs !== undefined && !isPlainObject(env.kwargs)) fail('kwargs must be an object');
  if (env.headers.custom !== undefined && !isPlainObject(env.headers.custom)) fail('headers.custom must be an object');
  try {
    assertSafeJson(env, 200);
  } catch (e) {
    fail(String(e));
  }
}

// ── generated bodies ───────────────────────────────────────────────────────────────────────

const lone = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
const text = fc.string({ unit: 'binary', maxLength: 40 });
const weirdString = fc.oneof(
  text,
  fc.tuple(text, lone, text).map(([a, b, c]) => a + b + c),
  fc.constantFrom('', '__proto__', 'constructor', 'prototype', 'add', 'echo', 'ingest', ' ', 'x'.repeat(300)),
);
const jsonish = fc.jsonValue({ maxDepth: 4 });
const taskName = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      'add',
      'echo',
      'typed',
      'ingest',
      'poison',
      'celeriac.map',
      'celeriac.starmap',
      'celeriac.chord_deadline',
      'nope',
    ),
  },
  { weight: 1, arbitrary: weirdString },
);
const validEnvelope = fc
  .record({ id: fc.uuid(), task: taskName, args: fc.array(jsonish, { maxLength: 3 }), retries: fc.nat(3) })
  .map(
    ({ id, task, args, retries }) =>
      ({ v: 1, id, task, args, headers: { rootId: id, parentId: null, retries } }) as Record<string, unknown>,
  );
const FIELDS = [
  'v',
  'id',
  'task',
  'args',
  'kwargs',
  'headers',
  'wf',
  'at',
  'k',
  'headers.retries',
  'headers.rootId',
  'headers.parentId',
  'headers.eta',
  'headers.expires',
  'headers.groupIndex',
  'headers.timeLimit',
  'headers.custom',
];
/** A valid envelope with one field replaced by anything, or removed. */
const mutatedEnvelope = fc
  .tuple(validEnvelope, fc.constantFrom(...FIELDS), fc.oneof(jsonish, weirdString, fc.constant(undefined)))
  .map(([env, path, value]) => {
    const copy = JSON.parse(JSON.stringify(env)) as Record<string, Record<string, unknown>>;
    const [a, b] = path.split('.') as [string, string | undefined];
    if (b === undefined) (copy as Record<string, unknown>)[a] = value;
    else if (typeof copy[a] === 'object' && copy[a] !== null) copy[a][b] = value;
    return JSON.stringify(copy);
  });
const minimalCall = fc
  .record(
    {
      task: taskName,
      args: fc.array(jsonish, { maxLength: 3 }),
      kwargs: fc.oneof(fc.dictionary(text, jsonish, { maxKeys: 2 }), jsonish),
      id: weirdString,
    },
    { requiredKeys: ['task'] },
  )
  .map((o) => JSON.stringify(o));
/** JSON text with something spliced in where a value goes: prototype keys, overflowing numbers, lone surrogates, deep nesting. */
const spliced = fc
  .tuple(
    fc.oneof(
      validEnvelope.map((e) => JSON.stringify(e)),
      minimalCall,
    ),
    fc.constantFrom(
      '"__proto__": {"polluted": true}',
      '"constructor": {"prototype": {"polluted": true}}',
      '"n": 1e400',
      '"n": -1e999',
      '"n": 9007199254740993',
      '"s": "\\ud800"',
      '"s": "\\udfff\\ud800"',
      '"s": "\ud83d"',
      '"deep": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
    ),
  )
  .map(([json, extra]) => `{${extra}, ${json.slice(1)}`);
/** Valid JSON cut short, or with a character replaced. */
const damaged = fc
  .tuple(
    fc.oneof(
      validEnvelope.map((e) => JSON.stringify(e)),
      minimalCall,
    ),
    fc.nat(),
    fc.oneof(lone, text),
  )
  .map(([json, at, s]) => {
    const i = at % Math.max(1, json.length);
    return at % 2 === 0 ? json.slice(0, i) : json.slice(0, i) + s + json.slice(i + 1);
  });
const deep = fc.nat(3_000).map((n) => `{"task": "echo", "args": [${'['.repeat(n)}${']'.repeat(n)}]}`);

function body(): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: text },
    { weight: 2, arbitrary: jsonish.map((j) => JSON.stringify(j)) },
    { weight: 1, arbitrary: validEnvelope.map((e) => JSON.stringify(e)) },
    { weight: 4, arbitrary: mutatedEnvelope },
    { weight: 3, arbitrary: minimalCall },
    { weight: 3, arbitrary: spliced },
    { weight: 3, arbitrary: damaged },
    { weight: 1, arbitrary: deep },
  );
}

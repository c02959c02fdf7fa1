/**
 * The mixed workload the delivery suites run: an app with a handful of tasks that record every
 * run, a generator of random workflows (chains, groups, chords, links, errbacks, retries with
 * countdown 0, failures mid-chain and in chord headers) with the outcome each must reach, and the
 * checks that turn a finished run into two numbers: LOST (an outcome missing or wrong, a callback
 * never dispatched, a lifecycle event never published) and DOUBLED (an effect that happened twice).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createApp } from '../../lib/app';
import { chain, chord, group } from '../../lib/canvas/builders';
import type { AnySignature } from '../../lib/canvas/signature';
import type { Broker, OutgoingMessage, ResultRecord, ResultStore } from '../../lib/ports';
import type { Json } from '../../lib/protocol/json';
import type { AsyncResult } from '../../lib/results/async-result';
import { currentTask } from '../../lib/task/context';
import { int, pick, type Rng } from './support';

/** Where a task body ran: set by the delivery wrapper of a suite (AsyncLocalStorage). */
export type Phase = 'first' | 'second' | 'race' | 'late' | 'direct';

export interface Run {
  readonly task: string;
  readonly id: string;
  readonly retries: number;
  readonly phase: Phase;
}

export interface SentEnvelope {
  readonly id: string;
  readonly task: string;
  readonly retries: number;
  readonly parentId: string | null;
  readonly args: readonly Json[];
  /** The delivery that sent it (`direct` for the producer). */
  readonly phase: Phase;
  /** Set on a delayed message: a worker re-sends it unchanged while it is early (a delay hop). */
  readonly eta: string | undefined;
}

/** Records what the app did: task runs (with their delivery phase), dispatches, inline errback runs. */
export class Probe {
  readonly phase = new AsyncLocalStorage<Phase>();
  readonly runs: Run[] = [];
  readonly sent: SentEnvelope[] = [];
  /** Inline errback runs per failed task id. */
  readonly inline = new Map<string, number>();
  /** Optional check at the start of every body (the crash suite asks the store). */
  onRun: ((run: Run) => Promise<void> | void) | undefined;

  async ran(task: string): Promise<void> {
    const ctx = currentTask();
    const run: Run = { task, id: ctx.id, retries: ctx.retries, phase: this.phase.getStore() ?? 'direct' };
    this.runs.push(run);
    await this.onRun?.(run);
  }

  /** Counts every envelope the app publishes through `broker` (producer and workers alike). */
  watch(broker: Broker): void {
    const send = broker.send.bind(broker);
    broker.send = async (messages: readonly OutgoingMessage[]) => {
      for (const m of messages) this.#count(m.body);
      return send(messages);
    };
  }

  #count(body: string): void {
    let env: {
      v?: unknown;
      id?: unknown;
      task?: unknown;
      args?: unknown;
      headers?: { retries?: unknown; parentId?: unknown; eta?: unknown };
    };
    try {
      env = JSON.parse(body) as typeof env;
    } catch {
      return;
    }
    if (env.v !== 1 || typeof env.id !== 'string') return;
    const retries = typeof env.headers?.retries === 'number' ? env.headers.retries : 0;
    this.sent.push({
      id: env.id,
      task: String(env.task),
      retries,
      parentId: typeof env.headers?.parentId === 'string' ? env.headers.parentId : null,
      args: Array.isArray(env.args) ? (env.args as Json[]) : [],
      phase: this.phase.getStore() ?? 'direct',
      eta: typeof env.headers?.eta === 'string' ? env.headers.eta : undefined,
    });
  }

  /**
   * Dispatches of an `<id>#<retries>` beyond the first (among the sends from index `from` on),
   * with the envelopes concerned. A delayed message re-sent by a worker because it arrived early
   * (a hop: same envelope, same eta) is one dispatch travelling in steps, not a second one.
   */
  duplicateSends(from = 0): { key: string; extra: number; sent: SentEnvelope; all: SentEnvelope[] }[] {
    const out: { key: string; extra: number; sent: SentEnvelope; all: SentEnvelope[] }[] = [];
    for (const [key, all] of this.#byAttempt(from)) {
      const distinct = new Set(all.map((s, i) => s.eta ?? `#${i}`)).size;
      if (distinct > 1) out.push({ key, extra: distinct - 1, sent: all[0] as SentEnvelope, all });
    }
    return out;
  }

  /** Re-sends of delayed messages that arrived early (delay hops), among the sends from index `from` on. */
  hops(from = 0): number {
    let n = 0;
    for (const all of this.#byAttempt(from).values()) n += all.length - new Set(all.map((s, i) => s.eta ?? `#${i}`)).size;
    return n;
  }

  #byAttempt(from: number): Map<string, SentEnvelope[]> {
    const by = new Map<string, SentEnvelope[]>();
    for (const s of this.sent.slice(from)) {
      const key = `${s.id}#${s.retries}`;
      const list = by.get(key);
      if (list) list.push(s);
      else by.set(key, [s]);
    }
    return by;
  }

  runsOf(id: string): Run[] {
    return this.runs.filter((r) => r.id === id);
  }
}

export class FlakyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FlakyError';
  }
}

/** The workload's app: one queue (`default`) holding every task, so batches mix all kinds. */
export function workloadApp(
  name: string,
  probe: Probe,
  opts: { logger?: Parameters<typeof createApp>[0]['logger']; maxReceiveCount?: number; chordDeadlineSeconds?: number } = {},
) {
  const app = createApp({
    name,
    ...(opts.logger ? { logger: opts.logger } : {}),
    ...(opts.chordDeadlineSeconds !== undefined ? { chordDeadlineSeconds: opts.chordDeadlineSeconds } : {}),
  });
  if (opts.maxReceiveCount !== undefined) app.queue('default', { maxReceiveCount: opts.maxReceiveCount });
  const tick = () => new Promise<void>((r) => setImmediate(r));
  const add = app.task('add', async (x: number, y: number) => {
    await probe.ran('add');
    await tick();
    return x + y;
  });
  const mul = app.task('mul', async (x: number, y: number) => {
    await probe.ran('mul');
    return x * y;
  });
  const sum = app.task('sum', async (xs: number[]) => {
    await probe.ran('sum');
    return xs.reduce((a, b) => a + b, 0);
  });
  /** A callback: `note(value, tag)`. */
  const note = app.task('note', async (value: unknown, tag: string) => {
    await probe.ran('note');
    return `${tag}:${JSON.stringify(value)}`;
  });
  const boom = app.task('boom', async (tag: string): Promise<number> => {
    await probe.ran('boom');
    throw new Error(`boom ${tag}`);
  });
  /** Fails its first `failTimes` attempts; retried automatically at once (countdown 0), at most twice. */
  const flaky = app.task(
    'flaky',
    async (tag: string, failTimes: number) => {
      await probe.ran('flaky');
      const { retries } = currentTask();
      if (retries < failTimes) throw new FlakyError(`flaky ${tag} attempt ${retries}`);
      return `${tag}@${retries}`;
    },
    { retry: { on: [FlakyError], max: 2, delay: 0 } },
  );
  /** Asks for a retry itself with countdown 0 until attempt `until`. */
  const again = app.task('again', async (tag: string, until: number) => {
    await probe.ran('again');
    const ctx = currentTask();
    if (ctx.retries < until) ctx.retry({ countdown: 0, maxRetries: 5 });
    return `${tag}#${ctx.retries}`;
  });
  /** Old-style errback: published as a task with the failed task's id. */
  const onErr = app.task('onErr', async (failedId: string) => {
    await probe.ran('onErr');
    return `handled:${failedId}`;
  });
  /** New-style errback: runs inline in the failing task's worker. */
  const inlineErr = app.errback('inlineErr', (request, _error, _traceback, _tag: string) => {
    probe.inline.set(request.id, (probe.inline.get(request.id) ?? 0) + 1);
  });
  return { app, add, mul, sum, note, boom, flaky, again, onErr, inlineErr };
}

export type Workload = ReturnType<typeof workloadApp>;

/** What one workflow must end as. */
export interface Expectation {
  readonly kind: string;
  /** Records that must exist with this state (and result, or error type). */
  readonly records: { readonly id: string; readonly state: 'SUCCESS' | 'FAILURE'; readonly result?: Json; readonly errorType?: string }[];
  /** Callbacks that must be dispatched exactly once (found by task and a predicate on args) and succeed with `result`. */
  readonly callbacks: { readonly task: string; readonly match: (args: readonly Json[]) => boolean; readonly result: Json }[];
  /** Failed task ids whose inline errback must run exactly once. */
  readonly inline: string[];
  /** Tasks that must never run (a chain tail after a failure, a chord body after a failed member). */
  readonly never: string[];
}

type Builder = (w: Workload, r: Rng, tag: string) => Promise<Expectation>;

const KINDS: readonly [string, number, Builder][] = [
  [
    'chain',
    3,
    async (w, r) => {
      const [a, b, c, d] = [int(r, 0, 99), int(r, 0, 99), int(r, 0, 99), int(r, 1, 9)];
      const h = await chain(w.add.s(a, b), w.add.s(c), w.mul.s(d)).applyAsync();
      return { kind: 'chain', records: [{ id: h.id, state: 'SUCCESS', result: (a + b + c) * d }], callbacks: [], inline: [], never: [] };
    },
  ],
  [
    'group',
    2,
    async (w, r) => {
      const xs = Array.from({ length: int(r, 2, 5) }, () => [int(r, 0, 99), int(r, 0, 99)] as const);
      const h = await group(xs.map(([a, b]) => w.add.s(a, b))).applyAsync();
      return {
        kind: 'group',
        records: h.results.map((c, i) => ({ id: c.id, state: 'SUCCESS' as const, result: (xs[i]?.[0] ?? 0) + (xs[i]?.[1] ?? 0) })),
        callbacks: [],
        inline: [],
        never: [],
      };
    },
  ],
  [
    'chord',
    3,
    async (w, r) => {
      const xs = Array.from({ length: int(r, 2, 6) }, () => [int(r, 0, 99), int(r, 0, 99)] as const);
      const h = await chord(
        xs.map(([a, b]) => w.add.s(a, b)),
        w.sum.s(),
      ).applyAsync();
      const total = xs.reduce((s, [a, b]) => s + a + b, 0);
      return { kind: 'chord', records: [{ id: h.id, state: 'SUCCESS', result: total }], callbacks: [], inline: [], never: [] };
    },
  ],
  [
    'chord+link',
    2,
    async (w, r, tag) => {
      const xs = Array.from({ length: int(r, 2, 4) }, () => int(r, 0, 99));
      const h = await chord(
        xs.map((x) => w.add.s(x, 1)),
        w.sum.s().link(w.note.s(tag)),
      ).applyAsync();
      const total = xs.reduce((s, x) => s + x + 1, 0);
      return {
        kind: 'chord+link',
        records: [{ id: h.id, state: 'SUCCESS', result: total }],
        callbacks: [{ task: 'note', match: (args) => args[1] === tag, result: `${tag}:${total}` }],
        inline: [],
        never: [],
      };
    },
  ],
  [
    'group→chain',
    2,
    async (w, r) => {
      const xs = Array.from({ length: int(r, 2, 4) }, () => int(r, 0, 99));
      const m = int(r, 1, 9);
      const h = await chain(group(xs.map((x) => w.add.s(x, x))), w.sum.s(), w.mul.s(m)).applyAsync();
      return {
        kind: 'group→chain',
        records: [{ id: h.id, state: 'SUCCESS', result: xs.reduce((s, x) => s + 2 * x, 0) * m }],
        callbacks: [],
        inline: [],
        never: [],
      };
    },
  ],
  [
    'link',
    2,
    async (w, r, tag) => {
      const [a, b] = [int(r, 0, 99), int(r, 0, 99)];
      const h = await w.add.s(a, b).link(w.note.s(tag)).applyAsync();
      return {
        kind: 'link',
        records: [{ id: h.id, state: 'SUCCESS', result: a + b }],
        callbacks: [{ task: 'note', match: (args) => args[1] === tag, result: `${tag}:${a + b}` }],
        inline: [],
        never: [],
      };
    },
  ],
  [
    'errback',
    2,
    async (w, r, tag) => {
      const sig = w.boom.si(tag).linkError(w.onErr.s());
      const withInline = r() < 0.5;
      if (withInline) sig.linkError(w.inlineErr.s(tag));
      const h = await sig.applyAsync();
      return {
        kind: 'errback',
        records: [{ id: h.id, state: 'FAILURE', errorType: 'Error' }],
        callbacks: [{ task: 'onErr', match: (args) => args[0] === h.id, result: `handled:${h.id}` }],
        inline: withInline ? [h.id] : [],
        never: [],
      };
    },
  ],
  [
    'retry',
    3,
    async (w, r, tag) => {
      if (r() < 0.5) {
        const failTimes = int(r, 0, 3);
        const h = await w.flaky.applyAsync([tag, failTimes]);
        return {
          kind: 'retry',
          records: [
            failTimes <= 2
              ? { id: h.id, state: 'SUCCESS', result: `${tag}@${failTimes}` }
              : { id: h.id, state: 'FAILURE', errorType: 'FlakyError' },
          ],
          callbacks: [],
          inline: [],
          never: [],
        };
      }
      const until = int(r, 1, 3);
      const h = await chain(w.again.s(tag, until), w.note.s(`${tag}/after`)).applyAsync();
      const value = `${tag}#${until}`;
      return {
        kind: 'retry',
        records: [{ id: h.id, state: 'SUCCESS', result: `${tag}/after:${JSON.stringify(value)}` }],
        callbacks: [],
        inline: [],
        never: [],
      };
    },
  ],
  [
    'fail mid-chain',
    2,
    async (w, r, tag) => {
      const [a, b] = [int(r, 0, 99), int(r, 0, 99)];
      const h = await chain(w.add.s(a, b), w.boom.si(tag), w.add.s(1)).applyAsync();
      const failed = (h.parent as AsyncResult<unknown>).id;
      return {
        kind: 'fail mid-chain',
        records: [
          { id: failed, state: 'FAILURE', errorType: 'Error' },
          { id: h.id, state: 'FAILURE', errorType: 'Error' },
        ],
        callbacks: [],
        inline: [],
        never: [h.id],
      };
    },
  ],
  [
    'chord, failed member',
    2,
    async (w, r, tag) => {
      const members: AnySignature[] = [w.add.s(int(r, 0, 9), 1), w.boom.si(tag), w.add.s(int(r, 0, 9), 2)];
      const h = await chord(members, w.sum.s().linkError(w.onErr.s())).applyAsync();
      return {
        kind: 'chord, failed member',
        records: [{ id: h.id, state: 'FAILURE', errorType: 'ChordError' }],
        callbacks: [{ task: 'onErr', match: (args) => args[0] === h.id, result: `handled:${h.id}` }],
        inline: [],
        never: [h.id],
      };
    },
  ],
];

export interface Started extends Expectation {
  readonly tag: string;
}

/** Starts `n` random workflows (kinds weighted), returns what each must end as. Tags (`<prefix>w<i>`) must be unique per app. */
export async function startWorkflows(w: Workload, n: number, r: Rng, prefix = ''): Promise<Started[]> {
  const weighted = KINDS.flatMap(([, weight, build]) => Array.from({ length: weight }, () => build));
  const out: Started[] = [];
  // Started a few at a time: the producer's sends overlap, as concurrent callers' would.
  for (let i = 0; i < n; i += 10) {
    const batch = Array.from({ length: Math.min(10, n - i) }, (_, j) => {
      const tag = `${prefix}w${i + j}`;
      return pick(r, weighted)(w, r, tag).then((e) => ({ ...e, tag }));
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

export interface Verdict {
  /** Outcomes missing or wrong, callbacks never dispatched or not stored, inline errbacks that never ran. */
  readonly lost: string[];
  /** Callbacks dispatched under two ids, inline errbacks run twice, tasks that must never run that ran. */
  readonly doubled: string[];
  readonly records: number;
}

/**
 * Lifecycle events that never arrived: every task a worker ran whose outcome is stored must have
 * published its `task-succeeded` / `task-failed` event at least once. `seen` holds
 * `<detail-type> <task id>` for every event that arrived.
 */
export async function missingEvents(store: ResultStore, runs: readonly Run[], seen: ReadonlySet<string>): Promise<string[]> {
  const ran = [...new Set(runs.map((x) => x.id))];
  const out: string[] = [];
  for (let i = 0; i < ran.length; i += 100) {
    for (const rec of await store.getMany(ran.slice(i, i + 100))) {
      if (!rec || (rec.state !== 'SUCCESS' && rec.state !== 'FAILURE')) continue;
      const type = rec.state === 'SUCCESS' ? 'task-succeeded' : 'task-failed';
      if (!seen.has(`${type} ${rec.id}`)) out.push(`event missing: ${type} ${rec.task} ${rec.id}`);
    }
  }
  return out;
}

/** Compares the store and the probe with what every workflow must end as. */
export async function verify(store: ResultStore, probe: Probe, started: readonly Started[]): Promise<Verdict> {
  const lost: string[] = [];
  const doubled: string[] = [];
  const ids = new Set<string>();
  const cbIds = new Map<Started['callbacks'][number], string[]>();
  const sentBy = new Map<string, SentEnvelope[]>();
  for (const s of probe.sent) {
    const list = sentBy.get(s.task);
    if (list) list.push(s);
    else sentBy.set(s.task, [s]);
  }
  for (const wf of started) {
    for (const rec of wf.records) ids.add(rec.id);
    for (const cb of wf.callbacks) {
      const found = [...new Set((sentBy.get(cb.task) ?? []).filter((s) => cb.match(s.args)).map((s) => s.id))];
      cbIds.set(cb, found);
      for (const id of found) ids.add(id);
    }
  }
  const list = [...ids];
  const recs = new Map<string, ResultRecord | undefined>();
  for (let i = 0; i < list.length; i += 100) {
    const chunk = list.slice(i, i + 100);
    const got = await store.getMany(chunk);
    chunk.forEach((id, j) => {
      recs.set(id, got[j]);
    });
  }
  const check = (what: string, rec: ResultRecord | undefined, want: { state: string; result?: Json; errorType?: string }): void => {
    if (!rec) return void lost.push(`${what}: no record`);
    if (rec.state !== want.state) return void lost.push(`${what}: ${rec.state}, want ${want.state}`);
    if (want.state === 'SUCCESS' && JSON.stringify(rec.result) !== JSON.stringify(want.result)) {
      lost.push(`${what}: result ${JSON.stringify(rec.result)}, want ${JSON.stringify(want.result)}`);
    }
    if (want.errorType !== undefined && rec.error?.type !== want.errorType) {
      lost.push(`${what}: error ${rec.error?.type}, want ${want.errorType}`);
    }
    if (rec.state === 'FAILURE' && typeof rec.error?.code !== 'string') lost.push(`${what}: FAILURE without an error code`);
  };
  for (const wf of started) {
    const at = `${wf.tag} (${wf.kind})`;
    for (const rec of wf.records) check(`${at} ${rec.id}`, recs.get(rec.id), rec);
    for (const cb of wf.callbacks) {
      const found = cbIds.get(cb) ?? [];
      if (found.length === 0) lost.push(`${at}: ${cb.task} callback never dispatched`);
      if (found.length > 1) doubled.push(`${at}: ${cb.task} callback dispatched under ${found.length} ids`);
      for (const id of found) check(`${at} ${cb.task} ${id}`, recs.get(id), { state: 'SUCCESS', result: cb.result });
    }
    for (const id of wf.inline) {
      const n = probe.inline.get(id) ?? 0;
      if (n === 0) lost.push(`${at}: inline errback of ${id} never ran`);
      if (n > 1) doubled.push(`${at}: inline errback of ${id} ran ${n} times`);
    }
    for (const id of wf.never) {
      const n = probe.runsOf(id).length;
      if (n > 0) doubled.push(`${at}: ${id} must never run, ran ${n} time(s)`);
    }
  }
  return { lost, doubled, records: list.length };
}

/**
 * Reliability 2 — crash points. A Lambda invocation dies at a step boundary of the worker path
 * (after decode, after run, after the outcome write, after publishing the continuations, or
 * before the batch response), for a random subset of invocations; SQS redelivers, and every
 * workflow must still complete: nothing lost, nothing doubled.
 *
 * How a crash is played (the worker's fault hooks, lib/runtime/worker.ts `FaultHooks`):
 * - a doomed invocation dies when its k-th record (k random, 1–3) reaches the chosen point;
 * - the invocation is then dead: every other record of the batch stops at its next boundary, and
 *   the batch response is never returned, so SQS redelivers the WHOLE batch (records that had
 *   finished included: they come back as duplicates);
 * - a record whose writer died after the outcome write keeps its lease until the invocation's
 *   deadline (`leaseUntil`); the driver runs with a 10 s Lambda deadline and, after a death, jumps
 *   local time past it (`local.tick`), as the SQS visibility timeout (6 × the function timeout)
 *   does on AWS — the redelivery then takes the continuations over (`resume`).
 *
 * Invocations run one at a time and never hold two copies of one task attempt (a second copy
 * goes back to the queue unprocessed), so every duplicate is sequential and the spec is exact:
 * - LOST: an outcome missing or wrong, a callback never dispatched or stored, a lifecycle event
 *   never published for a stored outcome, a message left in the queue or the DLQ;
 * - DOUBLED: a body that ran although its outcome was already stored; a continuation, callback or
 *   chord body sent twice, unless its parent's writer died after the outcome write (the design
 *   re-publishes what may be missing, under the same deterministic id, and the copy is recognised
 *   downstream: reported as "re-published after a crash"; a chord deadline check re-sent while
 *   early is a delay hop, not a doubling); an inline errback run twice; a task that must never
 *   run that ran.
 *
 * Targets: `memory` and `emulated` (dynalite + fauxqs, through startLocal).
 * Size per crash point: memory 200 workflows, emulated 40 (large: 1,000 and 200).
 */
import type { SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalMode, type LocalRuntime, startLocal } from '../../lib/local';
import type { Envelope } from '../../lib/protocol/envelope';
import { isReady } from '../../lib/results/states';
import type { FaultHooks } from '../../lib/runtime/worker';
import { createWorker } from '../../lib/worker';
import { bySize, int, keepErrors, Mutex, report, rng, SEED } from './support';
import { missingEvents, Probe, type Run, startWorkflows, verify, workloadApp } from './workload';

type Point = 'afterDecode' | 'afterRun' | 'afterStore' | 'afterPublish' | 'beforeResponse';
const POINTS: readonly Point[] = ['afterDecode', 'afterRun', 'afterStore', 'afterPublish', 'beforeResponse'];

/** Lambda deadline each invocation gets (and so the lease a dead writer leaves behind). */
const DEADLINE_MS = 10_000;
/** Chance that an invocation is doomed. */
const DOOM = 0.3;
/** A record received this often is never in a doomed invocation (so crashes alone cannot reach maxReceiveCount 5). */
const MAX_DOOMED_RECEIVES = 2;

const SIZES: Record<LocalMode, number> = {
  memory: bySize(200, 1_000),
  emulated: bySize(40, 200),
  localstack: 0,
};

class InjectedCrash extends Error {
  constructor(where: string) {
    super(`injected crash ${where}`);
    this.name = 'InjectedCrash';
  }
}

interface Invocation {
  readonly doomed: boolean;
  /** The doomed invocation dies when the k-th record (k ≤ 3) reaches the point. */
  readonly k: number;
  reached: number;
  dead: boolean;
  /** Envelope ids whose outcome write this invocation won. */
  readonly stored: Set<string>;
}

describe.each<LocalMode>(['memory', 'emulated'])('crash points on %s', (mode) => {
  const r = rng(SEED + 1);
  const probe = new Probe();
  const logger = keepErrors();
  const w = workloadApp(`crash-${mode}`, probe, { logger, chordDeadlineSeconds: 30 * 86_400 });
  const mutex = new Mutex();
  let local: LocalRuntime;
  let point: Point | undefined;
  let inv: Invocation | undefined;
  /** Ids whose delivery died after the outcome write: their continuations may be published again. */
  const crashedAfterStore = new Set<string>();
  const stats = { invocations: 0, killed: 0, cut: 0, deferred: 0, maxReceives: 0 };
  const rerunsAfterStored: Run[] = [];
  /** `<detail-type> <task id>` of every lifecycle event that reached the bus. */
  const events = new Set<string>();

  const die = (where: string): never => {
    const i = inv as Invocation;
    i.dead = true;
    throw new InjectedCrash(where);
  };
  const hook = (p: Exclude<Point, 'beforeResponse'>) => (env: Envelope) => {
    const i = inv;
    if (!i) return;
    if (p === 'afterStore') i.stored.add(env.id);
    if (i.dead) {
      stats.cut++;
      if (i.stored.has(env.id)) crashedAfterStore.add(env.id);
      die(p);
    }
    if (p === point && i.doomed && ++i.reached === i.k) {
      stats.cut++;
      if (i.stored.has(env.id)) crashedAfterStore.add(env.id);
      die(p);
    }
  };
  const faults: FaultHooks = {
    afterDecode: hook('afterDecode'),
    afterRun: hook('afterRun'),
    afterStore: hook('afterStore'),
    afterPublish: hook('afterPublish'),
    beforeResponse() {
      const i = inv;
      if (!i) return;
      if (i.dead || (point === 'beforeResponse' && i.doomed)) {
        // The response never reaches SQS: every record whose outcome this invocation wrote may resume.
        for (const id of i.stored) crashedAfterStore.add(id);
        die('beforeResponse');
      }
    },
  };

  beforeAll(async () => {
    local = await startLocal(w.app, {
      mode,
      periodic: false,
      // Redelivered at once: the driver already let the dead writer's lease run out.
      failedItemVisibilitySeconds: 0,
      wrapHandler: () => {
        const worker = createWorker(w.app, { faults });
        return (event) =>
          mutex.run(async () => {
            // Never two copies of one task attempt in one invocation: a later copy goes back unprocessed.
            const seen = new Set<string>();
            const keep: SQSRecord[] = [];
            const deferred: string[] = [];
            for (const rec of event.Records) {
              const id = attemptKey(rec.body) ?? rec.messageId;
              if (seen.has(id)) deferred.push(rec.messageId);
              else {
                seen.add(id);
                keep.push(rec);
              }
            }
            stats.deferred += deferred.length;
            const receives = Math.max(...keep.map((x) => Number(x.attributes.ApproximateReceiveCount)));
            stats.maxReceives = Math.max(stats.maxReceives, receives);
            stats.invocations++;
            const i: Invocation = {
              // Doomed at random; the third invocation of a point at the latest, so every point crashes.
              doomed:
                point !== undefined && receives <= MAX_DOOMED_RECEIVES && (r() < DOOM || (stats.killed === 0 && stats.invocations >= 3)),
              k: int(r, 1, Math.min(3, keep.length)),
              reached: 0,
              dead: false,
              stored: new Set(),
            };
            inv = i;
            try {
              const res = await worker({ Records: keep }, { getRemainingTimeInMillis: () => DEADLINE_MS });
              return { batchItemFailures: [...res.batchItemFailures, ...deferred.map((itemIdentifier) => ({ itemIdentifier }))] };
            } finally {
              inv = undefined;
              if (i.dead) {
                stats.killed++;
                // The dead writer's lease runs out before SQS shows the batch again.
                await local.tick(DEADLINE_MS + 1_000);
              }
            }
          });
      },
    });
    probe.watch(local.backend.broker);
    local.subscribe((e) => void events.add(`${e['detail-type']} ${String(e.detail.id)}`));
    // Exact because copies of one task never run at once: a body must not start once its outcome is stored.
    probe.onRun = async (run) => {
      const rec = await local.backend.store.get(run.id);
      if (rec && isReady(rec.state)) rerunsAfterStored.push(run);
    };
  });
  afterAll(async () => {
    await local?.stop();
  });

  it.each(POINTS)(
    `a crash %s for a random subset of invocations: after redelivery nothing is lost, nothing doubled (${SIZES[mode]} workflows)`,
    async (p) => {
      const started = Date.now();
      point = p;
      Object.assign(stats, { invocations: 0, killed: 0, cut: 0, deferred: 0, maxReceives: 0 });
      rerunsAfterStored.length = 0;
      const sentBefore = probe.sent.length;
      const runsBefore = probe.runs.length;

      const workflows = await startWorkflows(w, SIZES[mode], r, `${p}-`);
      // Chord deadline checks (held 15 minutes at a time, hopping) fall due as crashes move local
      // time on; the drain does not wait for the ones not due yet.
      await local.drain({ timeoutMs: bySize(30_000, 300_000), horizonMs: 1_000 });
      point = undefined;

      const verdict = await verify(local.backend.store, probe, workflows);
      const missing = await missingEvents(local.backend.store, probe.runs.slice(runsBefore), events);
      const runsOf = new Map<string, number>();
      for (const x of probe.runs) runsOf.set(`${x.id}#${x.retries}`, (runsOf.get(`${x.id}#${x.retries}`) ?? 0) + 1);
      let republished = 0;
      const doubledSends: string[] = [];
      for (const d of probe.duplicateSends(sentBefore)) {
        const extra = d.extra;
        // A retry attempt: each run of the attempt before may ask for it once.
        if (d.sent.retries > 0 && d.extra + 1 <= (runsOf.get(`${d.sent.id}#${d.sent.retries - 1}`) ?? 0)) continue;
        if (d.sent.retries === 0 && d.sent.parentId !== null && crashedAfterStore.has(d.sent.parentId)) {
          republished += extra;
          continue;
        }
        doubledSends.push(`${d.sent.task} ${d.key} sent ${d.extra + 1}× (parent ${d.sent.parentId})`);
      }
      const queues = await local.queues();
      const dlq = queues.reduce((s, q) => s + q.deadLetters, 0);
      const left = queues.reduce((s, q) => s + q.visible + q.inFlight, 0);
      const lost = verdict.lost.length + missing.length + dlq + left;
      const doubled = verdict.doubled.length + doubledSends.length + rerunsAfterStored.length;

      report(
        `crash-points ${p}`,
        mode,
        {
          workflows: workflows.length,
          invocations: stats.invocations,
          'injected faults (invocations killed)': stats.killed,
          'records cut short': stats.cut,
          lost,
          doubled,
          're-published after a crash (allowed)': republished,
          'copies sent back unprocessed': stats.deferred,
          'delay hops (allowed)': probe.hops(sentBefore),
          'max receives': stats.maxReceives,
        },
        started,
      );

      expect(stats.killed, 'the suite injected crashes').toBeGreaterThan(0);
      // Every category at once, so a failure shows all of them.
      expect({
        'outcomes missing or wrong': verdict.lost,
        'lifecycle events never published': missing,
        'messages left in the DLQ or queue': dlq + left,
        'callbacks under two ids, inline errbacks run twice, tasks that must never run': verdict.doubled,
        'continuations, callbacks or chord bodies sent twice': doubledSends,
        'bodies run again after their outcome was stored': rerunsAfterStored.map((x) => `${x.task} ${x.id}#${x.retries}`),
      }).toEqual({
        'outcomes missing or wrong': [],
        'lifecycle events never published': [],
        'messages left in the DLQ or queue': 0,
        'callbacks under two ids, inline errbacks run twice, tasks that must never run': [],
        'continuations, callbacks or chord bodies sent twice': [],
        'bodies run again after their outcome was stored': [],
      });
    },
    bySize(60_000, 600_000),
  );

  it('reported no errors besides the injected crashes', () => {
    const real = logger.errors.filter((e) => !JSON.stringify(e.extra ?? {}).includes('InjectedCrash'));
    expect(real).toEqual([]);
  });
});

/** `<id>#<retries>`: one attempt of one task (attempts of a retried task are different messages). */
function attemptKey(body: string): string | undefined {
  try {
    const env = JSON.parse(body) as { id?: unknown; headers?: { retries?: unknown } };
    return typeof env.id === 'string' ? `${env.id}#${String(env.headers?.retries ?? 0)}` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reliability 1 — duplicate delivery (design §3, "at-least-once in, exactly-once effects out").
 *
 * Every batch the event source mapping delivers reaches the worker TWICE: half of the batches
 * one copy after the other (a redelivery), half of them at the same instant in two concurrent
 * invocations (a race). After the run, every message ever delivered is delivered a third time,
 * late. Mixed workflows: chains, groups, chords, links, errbacks (published and inline), retries
 * with countdown 0, failures mid-chain and in chord headers.
 *
 * The spec:
 * - every workflow ends with the right outcome, every callback is dispatched and stored, every
 *   outcome has its lifecycle event, no message is left or dead-lettered (LOST 0);
 * - no task id is dispatched twice for the same attempt — a continuation, callback or chord body
 *   sent twice is a doubling; a retry re-sends the same id with `retries + 1`, a new attempt, and
 *   racing copies of one attempt may each ask for the next one ("retry copies", allowed: the
 *   outcome write still lets one copy win);
 * - a sequential or late duplicate never runs a body again and sends nothing; racing copies may
 *   both run a body (at-least-once execution) but only one stores and continues, so for them the
 *   stored records and the dispatches are what count; inline errbacks run exactly once
 *   (DOUBLED 0).
 * A control run with the outcome guard broken shows the same checks do catch doublings.
 *
 * Targets: `memory` (in-memory adapters) and `emulated` (dynalite + fauxqs through the AWS
 * adapters, PutEvents to the capture endpoint), both through `startLocal` and its pollers.
 * Size: 200 workflows per target (CELERIAC_RELIABILITY=large: 1,000).
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { type LocalMode, type SqsHandler, startLocal } from '../../lib/local';
import { bySize, keepErrors, report, rng, SEED } from './support';
import { missingEvents, type Phase, Probe, startWorkflows, verify, workloadApp } from './workload';

const WORKFLOWS = bySize(200, 1_000);

interface DupRun {
  readonly figures: Record<string, number | string>;
  readonly problems: Record<string, unknown>;
  readonly lost: number;
  readonly doubled: number;
}

/** One run: start the workflows, drain with every batch delivered twice, redeliver everything late, check. */
async function duplicateDelivery(mode: LocalMode, n: number, opts: { breakGuard?: boolean; name?: string } = {}): Promise<DupRun> {
  const r = rng(SEED);
  const probe = new Probe();
  const logger = keepErrors();
  const w = workloadApp(opts.name ?? `dup-${mode}`, probe, { logger });
  const delivered: SQSEvent[] = [];
  let inner: SqsHandler | undefined;
  const counts = { sequential: 0, racing: 0, late: 0 };
  const run = (phase: Phase, h: SqsHandler, event: SQSEvent, context: Parameters<SqsHandler>[1]) =>
    probe.phase.run(phase, () => h(event, context));
  const merge = (...rs: (SQSBatchResponse | undefined)[]): SQSBatchResponse => ({
    batchItemFailures: [...new Map(rs.flatMap((x) => x?.batchItemFailures ?? []).map((f) => [f.itemIdentifier, f])).values()],
  });

  const local = await startLocal(w.app, {
    mode,
    periodic: false,
    // A copy that found its twin holding the continuation comes back at once (AWS: after the
    // visibility timeout); the twin finishes in milliseconds.
    failedItemVisibilitySeconds: 0,
    wrapHandler: (handler) => {
      inner = handler;
      return async (event, context) => {
        delivered.push(event);
        // Both answers go back to the event source mapping: a record either copy wants again is redelivered.
        if (r() < 0.5) {
          counts.sequential += event.Records.length;
          const first = await run('first', handler, event, context);
          const second = await run('second', handler, event, context);
          return merge(first, second);
        }
        counts.racing += event.Records.length;
        return merge(...(await Promise.all([run('race', handler, event, context), run('race', handler, event, context)])));
      };
    },
  });
  try {
    probe.watch(local.backend.broker);
    const events = new Set<string>();
    local.subscribe((e) => void events.add(`${e['detail-type']} ${String(e.detail.id)}`));
    if (opts.breakGuard) {
      // The control: every outcome write "wins", as if the store had no condition.
      const store = local.backend.store;
      const write = store.writeIfNotReady.bind(store);
      store.writeIfNotReady = async (rec) => {
        await write(rec);
        return { written: true };
      };
    }

    const workflows = await startWorkflows(w, n, r);
    await local.drain({ timeoutMs: bySize(60_000, 300_000) });

    // Late: every batch ever delivered comes back once more, after everything finished.
    const sendsBefore = probe.sent.length;
    for (const event of [...delivered]) {
      counts.late += event.Records.length;
      await run('late', inner as SqsHandler, event, { functionName: 'late', awsRequestId: 'late', getRemainingTimeInMillis: () => 30_000 });
    }
    await local.drain({ timeoutMs: 30_000 });

    const verdict = await verify(local.backend.store, probe, workflows);
    const missing = await missingEvents(local.backend.store, probe.runs, events);
    const runsOf = new Map<string, number>();
    for (const x of probe.runs) runsOf.set(`${x.id}#${x.retries}`, (runsOf.get(`${x.id}#${x.retries}`) ?? 0) + 1);
    const all = probe.duplicateSends();
    // A retry attempt sent more than once is allowed as long as each copy came from its own run of the attempt before.
    const retryCopy = (d: (typeof all)[number]) =>
      d.sent.retries > 0 && d.extra + 1 <= (runsOf.get(`${d.sent.id}#${d.sent.retries - 1}`) ?? 0);
    const dupSends = all.filter((d) => !retryCopy(d));
    const retryCopies = all.filter(retryCopy).reduce((s, d) => s + d.extra, 0);
    const reruns = probe.runs.filter((x) => x.phase === 'second' || x.phase === 'late');
    const lateSends = probe.sent.length - sendsBefore;
    const queues = await local.queues();
    const dlq = queues.reduce((s, q) => s + q.deadLetters, 0);
    const left = queues.reduce((s, q) => s + q.visible + q.inFlight, 0);

    const lost = verdict.lost.length + missing.length + dlq + left;
    const doubled = verdict.doubled.length + dupSends.reduce((s, d) => s + d.extra, 0) + reruns.length + lateSends;
    return {
      lost,
      doubled,
      figures: {
        workflows: workflows.length,
        'task runs': probe.runs.length,
        'records checked': verdict.records,
        'injected faults (extra deliveries)': `${counts.sequential + counts.racing + counts.late} (${counts.sequential} sequential, ${counts.racing} racing, ${counts.late} late)`,
        lost,
        doubled,
        'racing double runs (allowed, one stored)': [...runsOf.values()].filter((x) => x > 1).length,
        'retry copies (allowed)': retryCopies,
      },
      problems: {
        'outcomes missing or wrong': verdict.lost,
        'lifecycle events never published': missing,
        'messages left in the DLQ or queue': dlq + left,
        'callbacks under two ids, inline errbacks run twice, tasks that must never run': verdict.doubled,
        'continuations, callbacks or chord bodies sent twice': dupSends.map(
          (d) => `${d.sent.task} ${d.key} sent ${d.extra + 1}× (${d.all.map((x) => x.phase).join(', ')})`,
        ),
        'bodies run again by a sequential or late duplicate': reruns.map((x) => `${x.task} ${x.id}#${x.retries} (${x.phase})`),
        'messages sent by late duplicates': lateSends,
        'errors reported by the worker or local mode': logger.errors,
      },
    };
  } finally {
    await local.stop();
  }
}

describe.each<LocalMode>(['memory', 'emulated'])('duplicate delivery on %s', (mode) => {
  it(
    `${WORKFLOWS} mixed workflows, every message delivered twice (sequential or racing) and once more late: nothing lost, nothing doubled`,
    async () => {
      const started = Date.now();
      const out = await duplicateDelivery(mode, WORKFLOWS);
      report('duplicate-delivery', mode, out.figures, started);
      // Every category at once, so a failure shows all of them.
      expect(out.problems).toEqual({
        'outcomes missing or wrong': [],
        'lifecycle events never published': [],
        'messages left in the DLQ or queue': 0,
        'callbacks under two ids, inline errbacks run twice, tasks that must never run': [],
        'continuations, callbacks or chord bodies sent twice': [],
        'bodies run again by a sequential or late duplicate': [],
        'messages sent by late duplicates': 0,
        'errors reported by the worker or local mode': [],
      });
    },
    bySize(120_000, 600_000),
  );
});

describe('duplicate delivery: control', () => {
  it('with the outcome write guard broken, the same checks report doublings (they are not vacuous)', async () => {
    const started = Date.now();
    const out = await duplicateDelivery('memory', 60, { breakGuard: true, name: 'dup-control' });
    report('duplicate-delivery control (guard broken)', 'memory', { workflows: out.figures.workflows ?? 0, doubled: out.doubled }, started);
    expect(out.doubled).toBeGreaterThan(0);
  }, 60_000);
});

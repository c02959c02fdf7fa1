/**
 * Targets of the forged-message specs: the app runs through the public API (`startLocal`) and the
 * worker handler it wires, on
 * - `memory`: the in-memory adapters;
 * - `emulated`: dynalite + fauxqs;
 * - `dynamodb-local`: Amazon's DynamoDB Local (the real engine) + fauxqs, through the same code as
 *   a stack on AWS (`localstack` mode pointed at the two endpoints). Needs Java; without it this
 *   target is left out, said in one line.
 *
 * Every delivery is recorded (message id, body, disposition), so a spec can say "refused once,
 * never redelivered, never dead-lettered". CELERIAC_ADVERSARIAL_SIZE sets the chord size (10 on CI).
 */
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll } from 'vitest';
import { type App, type AsyncResult, chord, group } from '../../lib/index';
import { type LocalBusEvent, type LocalMode, type LocalRuntime, type StartLocalOptions, startFauxqs, startLocal } from '../../lib/local';
import { decodeEnvelope } from '../../lib/protocol/envelope';
import { expandTopFrame } from '../../lib/protocol/wire';
import { REFUSED_TASK } from '../../lib/runtime/worker';
import { javaAvailable, startDynamoDbLocal } from '../helpers/dynamodb-local';

export type ForgedTargetName = 'memory' | 'emulated' | 'dynamodb-local';

/** Chord size of the specs: small on CI, larger on demand. */
export const SIZE = Math.max(3, Number(process.env.CELERIAC_ADVERSARIAL_SIZE ?? 10));

/** The targets this machine can run. */
export function forgedTargets(): ForgedTargetName[] {
  if (!javaAvailable) console.log('[adversarial] dynamodb-local target not run: no Java runtime on PATH');
  return ['memory', 'emulated', ...(javaAvailable ? (['dynamodb-local'] as const) : [])];
}

/** One SQS record as the handler saw it, and whether it was acked. */
export interface Delivery {
  readonly messageId: string;
  readonly body: string;
  readonly failed: boolean;
}

export interface Running {
  readonly local: LocalRuntime;
  readonly deliveries: Delivery[];
  /** Deliver each batch twice (a redelivery after the first finished) while set. */
  duplicate: boolean;
  /** Sends raw bodies to a queue, as any producer could. */
  send(bodies: readonly string[], queue?: string): Promise<void>;
  /** Bus events of refused messages (task `(refused)`), oldest first. */
  refused(): LocalBusEvent[];
  stop(): Promise<void>;
}

let seq = 0;

/** Starts `app` on a target, recording every delivery. */
export async function startTarget(name: ForgedTargetName, app: App, extra: StartLocalOptions = {}): Promise<Running> {
  const stops: (() => Promise<void>)[] = [];
  let options: StartLocalOptions = { mode: name === 'dynamodb-local' ? 'localstack' : (name as LocalMode) };
  if (name === 'dynamodb-local') {
    const [ddb, sqs] = await Promise.all([startDynamoDbLocal(), startFauxqs()]);
    stops.push(
      () => ddb.stop(),
      () => sqs.stop(),
    );
    options = { mode: 'localstack', endpoints: { dynamodb: ddb.endpoint, sqs: sqs.endpoint } };
  }
  const deliveries: Delivery[] = [];
  const running: { duplicate: boolean } = { duplicate: false };
  const local = await startLocal(app, {
    ...options,
    // Failed items come back at once: a spec that expects none would see them quickly.
    failedItemVisibilitySeconds: 0,
    ...extra,
    wrapHandler: (handler) => async (event: SQSEvent, context) => {
      const times = running.duplicate ? 2 : 1;
      const failures: { itemIdentifier: string }[] = [];
      for (let t = 0; t < times; t++) {
        const res = await handler(event, context);
        const failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
        for (const r of event.Records) deliveries.push({ messageId: r.messageId, body: r.body, failed: failed.has(r.messageId) });
        failures.push(...(res?.batchItemFailures ?? []));
      }
      return { batchItemFailures: failures };
    },
  });
  return Object.assign(running, {
    local,
    deliveries,
    send: (bodies: readonly string[], queue = 'default') =>
      local.backend.broker.send(bodies.map((body) => ({ queue, body, id: `forged-${++seq}` }))),
    refused: () => local.events.filter((e) => e.detail.task === REFUSED_TASK),
    stop: async () => {
      await local.stop();
      for (const s of stops) await s();
    },
  });
}

/** A promise and its resolver: a task body waits on it to keep a chord live while a spec attacks it. */
export function gate(): { readonly wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => {
    open = r;
  });
  return { wait, open };
}

/** Waits until `check` holds (polling), or fails after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 15_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * The tasks a live chord is made of, registered on `app`: `add` (each run recorded in `runs`),
 * `hold` (on its own queue, waits for its tag's gate, so the chord stays live while a spec attacks
 * it) and `collect` (the body: sums, its runs recorded as `collect(<n>)`).
 */
export function chordTasks(app: App) {
  app.queue('slow', {});
  const runs: string[] = [];
  const gates = new Map<number, ReturnType<typeof gate>>();
  const add = app.task('add', (x: number, y: number) => {
    runs.push(`add(${x},${y})`);
    return x + y;
  });
  const hold = app.task(
    'hold',
    async (tag: number) => {
      await gates.get(tag)?.wait;
      return 0;
    },
    { queue: 'slow' },
  );
  const collect = app.task('collect', (xs: number[]) => {
    runs.push(`collect(${xs.length})`);
    return xs.reduce((a, b) => a + b, 0);
  });
  return { runs, gates, add, hold, collect };
}

/**
 * A member message in its wire form (compact keys, the top frame restored in full): what a
 * forger starts from.
 */
export interface WireMember {
  readonly headers: { readonly rootId: string; readonly groupId?: string; readonly groupIndex?: number } & Record<string, unknown>;
  readonly k?: readonly Record<string, unknown>[];
  readonly wf?: unknown;
  readonly [key: string]: unknown;
}

/** A chord held live, one of its member messages as delivered, and the value its body must give. */
export interface LiveChord {
  readonly tag: number;
  readonly g: ReturnType<typeof gate>;
  readonly r: AsyncResult<number>;
  readonly member: WireMember;
  readonly expected: number;
}

/** Starts a chord of SIZE members (the last held open); resolves once every other member ran. */
export async function liveChord(run: Running, t: ReturnType<typeof chordTasks>, tag: number): Promise<LiveChord> {
  const g = gate();
  t.gates.set(tag, g);
  const members = [...Array.from({ length: SIZE - 1 }, (_, i) => t.add.s(tag, i)), t.hold.s(tag)];
  const r = await chord(group(...members), t.collect.s()).applyAsync();
  await until(() => t.runs.filter((x) => x.startsWith(`add(${tag},`)).length === SIZE - 1, 30_000, 'the chord members');
  const memberOf = () =>
    run.deliveries
      .map((d) => ({ body: d.body, decoded: decodeEnvelope(d.body, { messageId: d.messageId }) }))
      .find(({ decoded: d }) => d.ok && d.envelope.task === 'add' && d.envelope.args[0] === tag && d.envelope.continuation !== undefined);
  // A delivery is recorded once its batch returned, a moment after the body ran.
  await until(() => memberOf() !== undefined, 30_000, 'a member message');
  const seen = memberOf();
  if (!seen?.decoded.ok) throw new Error('no member message seen');
  const member = JSON.parse(seen.body) as Record<string, unknown>;
  expandTopFrame(member);
  const expected = Array.from({ length: SIZE - 1 }, (_, i) => tag + i).reduce((a, b) => a + b, 0);
  return { tag, g, r: r as AsyncResult<number>, member: member as WireMember, expected };
}

/**
 * Starts `app` on `target` before the suite's specs and stops it after them (opening every gate
 * first, so no held body keeps a poller busy); returns the running target for the specs.
 */
export function useTarget(target: ForgedTargetName, app: App, gates: ReadonlyMap<number, ReturnType<typeof gate>>): () => Running {
  let run: Running | undefined;
  beforeAll(async () => {
    run = await startTarget(target, app);
  }, 120_000);
  afterAll(async () => {
    for (const g of gates.values()) g.open();
    await run?.stop();
  });
  return () => {
    if (!run) throw new Error(`target ${target} is not running`);
    return run;
  };
}

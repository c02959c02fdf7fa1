/**
 * What EventBridge and EventBridge Scheduler do on AWS, done locally on every target: static link
 * rules, subscribers (an entry module, and in-process listeners), periodic tasks, and delays longer
 * than SQS allows — with local time jumped forward by `tick()`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, States } from '../../lib/index';
import { type LocalBusEvent, type LocalRuntime, startLocal } from '../../lib/local';
import { errbackCallId, linkCallId } from '../../lib/routing';
import { received } from './fixtures/subscriber';
import { recordingLogger, targets } from './targets';

const MINUTE = 60_000;

describe.each(targets())('rules and schedules on $name', (target) => {
  const logger = recordingLogger();
  const app = createApp({ name: `rules-${target.name}`, logger });
  const double = app.task('double', (x: number) => x * 2);
  const record = app.task('record', (x: number) => `recorded ${x}`);
  const charge = app.task('charge', (amount: number) => {
    if (amount > 100) throw new RangeError(`${amount} is over the limit`);
    return amount;
  });
  const refund = app.task('refund', (failedId: string) => `refund for ${failedId}`);
  const stamps: string[] = [];
  const stamp = app.task('stamp', (label: string) => {
    stamps.push(label);
    return label;
  });
  app.link(double, record);
  app.linkError(charge, refund);
  app.subscribe('audit', { entry: 'test/integration/fixtures/subscriber.ts', tasks: [double], outcomes: ['success'] });
  app.periodic('every-5-minutes', stamp, 'rate(5 minutes)', ['rate']);
  app.periodic('daily-noon', stamp, 'cron(0 12 * * ? *)', ['cron']);

  const bus: LocalBusEvent[] = [];
  let local: LocalRuntime;

  beforeAll(async () => {
    local = await startLocal(app, target.options);
    local.subscribe((e) => {
      bus.push(e);
    });
  });
  afterAll(async () => {
    await local?.stop();
  });

  it('a static link rule calls the linked task with the result, under a deterministic id', async () => {
    const r = await double.delay(21);
    await local.drain();

    expect(await app.asyncResult(linkCallId(r.id, 'record')).get({ timeoutMs: 1_000 })).toBe('recorded 42');
  });

  it('a static error link rule calls the errback task with the failed task id', async () => {
    const r = await charge.delay(500);
    await local.drain();

    expect(await r.state()).toBe(States.FAILURE);
    expect(await app.asyncResult(errbackCallId(r.id, 'refund')).get({ timeoutMs: 1_000 })).toBe(`refund for ${r.id}`);
  });

  it("a subscriber's entry module receives the events its rule matches, as an EventBridge-triggered Lambda", async () => {
    const r = await double.delay(5);
    await charge.delay(1);
    await local.drain();

    const mine = received.filter((e) => e.app === app.name);
    expect(mine.map((e) => e.id)).toContain(r.id);
    // The rule matches `double` successes only.
    expect(new Set(mine.map((e) => `${e.detailType} ${e.task}`))).toEqual(new Set(['task-succeeded double']));
    expect(mine.find((e) => e.id === r.id)).toMatchObject({ source: `celeriac.${app.name}`, state: 'SUCCESS', result: 10 });
  });

  it('in-process listeners see every event in the shape EventBridge delivers', async () => {
    const r = await double.delay(7);
    await local.drain();

    const e = bus.find((x) => x.detail.id === r.id);
    expect(e).toMatchObject({
      version: '0',
      'detail-type': 'task-succeeded',
      source: `celeriac.${app.name}`,
      account: '000000000000',
      region: 'us-east-1',
      resources: [],
      detail: { task: 'double', state: 'SUCCESS', result: 14 },
    });
    expect(e?.id).toEqual(expect.any(String));
    expect(e?.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('a rate schedule fires once per period of local time', async () => {
    const before = stamps.filter((s) => s === 'rate').length;
    await local.tick(5 * MINUTE);
    await local.drain();

    expect(stamps.filter((s) => s === 'rate').length).toBe(before + 1);
  });

  it('a cron schedule fires at its time of day (UTC)', async () => {
    const now = local.now();
    const noon = new Date(now);
    noon.setUTCHours(12, 0, 0, 0);
    if (noon.getTime() <= now) noon.setUTCDate(noon.getUTCDate() + 1);
    const before = stamps.filter((s) => s === 'cron').length;

    await local.tick(noon.getTime() - now - MINUTE);
    await local.drain();
    expect(stamps.filter((s) => s === 'cron').length).toBe(before);

    await local.tick(MINUTE);
    await local.drain();
    expect(stamps.filter((s) => s === 'cron').length).toBe(before + 1);
  });

  it('a countdown beyond 900 s waits on SQS in ≤ 900 s hops and runs when due', async () => {
    const r = await double.applyAsync([50], { countdown: 1_500 });
    const first = await local.drain();
    expect(first.deferred.map((d) => d.id)).toContain(r.id);
    expect(await r.state()).toBe(States.PENDING);

    // The first hop (900 s) ends; the worker sends the message on for the remaining 600 s.
    await local.tick(900_000);
    const second = await local.drain();
    expect(await r.state()).toBe(States.PENDING);
    const hop = second.deferred.find((d) => d.id === r.id);
    expect((hop?.dueAt ?? 0) - local.now()).toBeGreaterThan(590_000);

    await local.tick(600_000);
    await local.drain();
    expect(await r.get({ timeoutMs: 1_000 })).toBe(100);
  });

  it('reported no errors', () => {
    expect(logger.errors).toEqual([]);
  });
});

/**
 * The full path, on every target: producer → SQS → the deployed worker handler (invoked by the
 * local event source mapping with real SQS events) → DynamoDB → the next step → `get()`.
 */
import { createHash } from 'node:crypto';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chain, chord, createApp, ErrorCodes, group, States } from '../../lib/index';
import { type LocalRuntime, startLocal } from '../../lib/local';
import { recordingLogger, targets } from './targets';

describe.each(targets())('workflows on $name', (target) => {
  const logger = recordingLogger();
  const app = createApp({ name: `wf-${target.name}`, logger });
  const add = app.task('add', (x: number, y: number) => x + y);
  const report = app.task('report', (total: number) => `total=${total}`);
  const sum = app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
  const double = app.task('double', (x: number) => x * 2);
  const refuse = app.task('refuse', (why: string) => {
    throw new RangeError(why);
  });
  const errbackCalls: unknown[] = [];
  const onError = app.task('onError', (failedId: string) => {
    errbackCalls.push(failedId);
    return `handled ${failedId}`;
  });
  const alerts: string[] = [];
  const alert = app.errback('alert', (request, error, _traceback, channel: string) => {
    alerts.push(`${channel} ${request.task}[${request.id}]: ${error.message}`);
  });

  /** Every SQS event the worker handler was invoked with. */
  const invocations: SQSEvent[] = [];
  let local: LocalRuntime;

  beforeAll(async () => {
    local = await startLocal(app, {
      ...target.options,
      wrapHandler: (handler) => async (event, context) => {
        invocations.push(event);
        return handler(event, context);
      },
    });
  });
  afterAll(async () => {
    await local?.stop();
  });

  it('a chain runs step by step through the queue, the worker and the store; get() returns the last result', async () => {
    const r = await chain(add.s(2, 3), add.s(4), report.s()).applyAsync();

    expect(await r.get({ timeoutMs: 10_000 })).toBe('total=9');
    expect(await (r.parent as typeof r).get({ timeoutMs: 1_000 })).toBe(9);
    const stored = await local.backend.store.get(r.id);
    expect(stored).toMatchObject({ state: States.SUCCESS, result: 'total=9' });
  });

  it('the worker is invoked with real SQS event records, as a Lambda event source mapping delivers them', async () => {
    await add.delay(1, 1);
    await local.drain();

    const records = invocations.flatMap((e) => e.Records);
    expect(records.length).toBeGreaterThan(0);
    for (const rec of records) {
      expect(rec).toMatchObject({ eventSource: 'aws:sqs', awsRegion: 'us-east-1', messageAttributes: {} });
      expect(rec.eventSourceARN).toMatch(/^arn:aws:sqs:us-east-1:000000000000:[A-Za-z0-9_-]*default$/);
      expect(rec.messageId).not.toBe('');
      expect(rec.receiptHandle).not.toBe('');
      expect(rec.md5OfBody).toBe(createHash('md5').update(rec.body).digest('hex'));
      expect(Number(rec.attributes.ApproximateReceiveCount)).toBeGreaterThanOrEqual(1);
      expect(Number(rec.attributes.SentTimestamp)).toBeGreaterThan(0);
      expect(Number(rec.attributes.ApproximateFirstReceiveTimestamp)).toBeGreaterThanOrEqual(Number(rec.attributes.SentTimestamp) - 1_000);
      expect(JSON.parse(rec.body)).toMatchObject({ v: 1, task: expect.any(String) });
    }
  });

  it('link: the callback is called with the result', async () => {
    const r = await add.applyAsync([20, 1], { link: double.s() });
    await local.drain();

    const [child] = await r.children();
    expect(await app.asyncResult(child as string).get({ timeoutMs: 5_000 })).toBe(42);
  });

  it('linkError: a task errback gets the failed task id; an inline errback runs with the error', async () => {
    const r = await refuse.applyAsync(['card declined'], { linkError: [onError.s(), alert.s('#payments')] });
    await local.drain();

    expect(await r.state()).toBe(States.FAILURE);
    expect(errbackCalls).toEqual([r.id]);
    expect(alerts).toEqual([`#payments refuse[${r.id}]: card declined`]);
  });

  it('chord: the body gets every header result, once, after the whole group', async () => {
    const r = await chord(group(add.s(1, 1), add.s(2, 2), add.s(3, 3)), sum.s()).applyAsync();

    expect(await r.get({ timeoutMs: 10_000 })).toBe(12);
  });

  it("drain does not wait for the chord's deadline check a day away, and says it left it", async () => {
    await chord(group(add.s(5, 5)), sum.s()).applyAsync();
    const { deferred } = await local.drain();

    expect(deferred.length).toBeGreaterThan(0);
    for (const d of deferred) expect(d.dueAt - local.now()).toBeGreaterThan(60_000);
  });

  it('a call to a queue outside the topology fails at once, as it would on AWS where that queue does not exist', async () => {
    await expect(add.applyAsync([1, 2], { queue: 'nowhere' })).rejects.toMatchObject({ code: ErrorCodes.NOT_CONFIGURED });
  });

  it('reported no errors', () => {
    expect(logger.errors).toEqual([]);
  });
});

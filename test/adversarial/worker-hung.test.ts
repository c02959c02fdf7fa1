/**
 * Faults that hang instead of throwing, and workflows that cannot be admitted. A message's
 * workflow is resolved before its body runs; a plan read that never settles is abandoned after
 * a bound and never kept for later messages; a record is bounded by the invocation deadline, and
 * what a hung attempt held (its lease) is taken over by the redelivery.
 */
import { describe, expect, it } from 'vitest';
import { chord, ErrorCodes, group } from '../../lib/index';
import type { ReceivedMessage } from '../../lib/ports';
import { harness, sqsEvent } from '../helpers/harness';

const never = <T>(): Promise<T> => new Promise<T>(() => {});

const message = (body: string, id: string): ReceivedMessage => ({
  messageId: id,
  receiptHandle: `rh-${id}`,
  body,
  receiveCount: 1,
  sentAt: Date.now(),
  firstReceivedAt: Date.now(),
});

describe('hung calls and unadmittable workflows', () => {
  it('a plan read that never settles does not poison the warm worker: later deliveries read again, every body runs once', async () => {
    // inlinePlanBytes 0: every workflow message carries a reference to its stored plan.
    const h = harness({ worker: { callTimeoutMs: 200 }, app: { name: 'hungplan', inlinePlanBytes: 0 } });
    const runs = new Map<number, number>();
    const add = h.app.task('add', (x: number) => {
      runs.set(x, (runs.get(x) ?? 0) + 1);
      return x;
    });
    const sum = h.app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));
    const store = h.backend.store;
    const getPlan = store.getPlan.bind(store);
    let reads = 0;
    store.getPlan = (id) => (++reads === 1 ? never() : getPlan(id));

    const r = await chord(group(add.s(1), add.s(2), add.s(3), add.s(4)), sum.s()).applyAsync();
    const msgs = await h.backend.broker.receive('default', { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
    const res = await h.handler(sqsEvent('default', msgs), { getRemainingTimeInMillis: () => 10_000 });
    // Every member waited on the one hung read; none ran its body; all come back.
    expect(res.batchItemFailures.length).toBe(msgs.length);
    expect(runs.size).toBe(0);

    for (const m of msgs) await h.backend.broker.changeVisibility('default', m.receiptHandle, 0);
    await h.drain();
    expect(await r.get()).toBe(10);
    expect([...runs.values()]).toEqual([1, 1, 1, 1]);
  });

  it('a message naming a plan that does not exist is refused before its body: WORKFLOW_NOT_FOUND stored once under its message id, one task-failed, twice delivered', async () => {
    const h = harness();
    let runs = 0;
    h.app.task('add', (x: number, y: number) => {
      runs++;
      return x + y;
    });
    const body = JSON.stringify({
      v: 1,
      id: 'np-1',
      task: 'add',
      args: [1, 2],
      headers: { rootId: 'np-1', parentId: null, retries: 0 },
      wf: { ref: 'no-such-plan' },
      at: 0,
    });
    // SQS redelivers a message under the same message id.
    for (let i = 0; i < 2; i++) {
      const res = await h.handler(sqsEvent('default', [message(body, 'm-np')]));
      expect(res.batchItemFailures).toEqual([]);
    }
    expect(runs).toBe(0);
    // Stored under the transport's id: the id the message claims may be another workflow's task.
    await expect(h.app.asyncResult('m-np').get()).rejects.toMatchObject({ code: ErrorCodes.WORKFLOW_NOT_FOUND });
    expect(await h.app.asyncResult('np-1').state()).toBe('PENDING');
    expect(h.backend.events.events.filter((e) => e.detailType === 'task-failed' && e.detail.id === 'm-np')).toHaveLength(1);
    expect(h.backend.events.events.filter((e) => e.detail.id === 'np-1')).toHaveLength(0);
  });

  it('a record whose event publish hangs is returned before the invocation deadline; its neighbour is not held up; the redelivery takes the lease over', async () => {
    const h = harness();
    let runs = 0;
    const t = h.app.task('t', (x: number) => {
      runs++;
      return x;
    });
    const events = h.backend.events;
    const publish = events.publish.bind(events);
    let hang = true;
    events.publish = (batch) => {
      if (hang && batch.some((e) => e.detail.id === 'hung')) return never();
      return publish(batch);
    };
    await t.applyAsync([1], { taskId: 'hung' });
    await t.applyAsync([2], { taskId: 'fine' });
    const msgs = await h.backend.broker.receive('default', { max: 10, visibilityTimeoutSeconds: 30, waitMs: 0 });
    const startedAt = Date.now();
    const res = await h.handler(sqsEvent('default', msgs), { getRemainingTimeInMillis: () => 1_500 });
    expect(Date.now() - startedAt).toBeLessThan(1_500);
    const hungMsg = msgs.find((m) => m.body.includes('"hung"'));
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: hungMsg?.messageId }]);
    expect(await h.app.asyncResult('fine').get()).toBe(2);
    // The hung attempt stored its outcome and holds the record until its invocation's deadline.
    expect((await h.backend.store.get('hung'))?.cont).toBe('pending');

    hang = false;
    await new Promise((r) => setTimeout(r, 600)); // past the dead invocation's deadline: its lease ran out
    for (const m of msgs) await h.backend.broker.changeVisibility('default', m.receiptHandle, 0);
    await h.drain();
    expect((await h.backend.store.get('hung'))?.cont).toBe('done');
    expect(events.events.filter((e) => e.detail.id === 'hung').map((e) => e.detailType)).toEqual(['task-succeeded']);
    expect(runs).toBe(2); // each body once; the redelivery only finished what the hung attempt left
  });
});

describe('every AWS call the worker makes has a bounded time', () => {
  it('the clients awsBackend creates carry connection and request timeouts (SQS long enough for a 20 s long poll); clientConfig.requestHandler replaces them', async () => {
    const { awsBackend, DEFAULT_REQUEST_TIMEOUTS } = await import('../../lib/adapters/aws/index');
    const { loadConfig } = await import('../../lib/config');
    const config = loadConfig({ CELERIAC_TABLE: 'bounded', AWS_REGION: 'us-east-1' });
    const credentials = { accessKeyId: 'x', secretAccessKey: 'x' };
    // Port 1 refuses at once: one attempt resolves the handler's settings without waiting.
    const make = (extra: object = {}) =>
      awsBackend(config, {
        endpoint: 'http://127.0.0.1:1',
        clientConfig: { credentials, maxAttempts: 1, ...extra },
        retry: { attempts: 1 },
      });
    type Handler = { httpHandlerConfigs(): { connectionTimeout?: number; requestTimeout?: number } };
    const settings = async (b: ReturnType<typeof make>) => {
      await b.store.get('x').catch(() => {});
      await b.broker.send([{ queue: 'https://sqs.us-east-1.amazonaws.com/000000000000/q', body: '{}', id: 'x' }]).catch(() => {});
      const of = (c: { config: { requestHandler: unknown } }) => (c.config.requestHandler as Handler).httpHandlerConfigs();
      const out = { dynamodb: of(b.clients.dynamodb), sqs: of(b.clients.sqs) };
      b.destroy();
      return out;
    };
    const defaults = await settings(make());
    expect(defaults.dynamodb).toMatchObject(DEFAULT_REQUEST_TIMEOUTS);
    expect(defaults.sqs).toMatchObject({ connectionTimeout: DEFAULT_REQUEST_TIMEOUTS.connectionTimeout, requestTimeout: 25_000 });
    const custom = await settings(make({ requestHandler: { requestTimeout: 1_234 } }));
    expect(custom.dynamodb.requestTimeout).toBe(1_234);
    expect(custom.sqs.requestTimeout).toBe(1_234);
  });
});

import { describe, expect, it } from 'vitest';
import { chain, ErrorCodes } from '../../lib/index';
import type { ReceivedMessage } from '../../lib/ports';
import { harness, sqsEvent } from '../helpers/harness';

const msg = (body: string, id: string, receiveCount = 1): ReceivedMessage => ({
  messageId: id,
  receiptHandle: `rh-${id}`,
  body,
  receiveCount,
  sentAt: Date.now(),
  firstReceivedAt: Date.now(),
});

describe('foreign messages are calls too', () => {
  it('a minimal {task, args} body runs the task under the SQS message id', async () => {
    const h = harness();
    h.app.task('add', (x: number, y: number) => x + y);
    const res = await h.handler(sqsEvent('default', [msg('{"task":"add","args":[2,3]}', 'm-1')]));
    expect(res.batchItemFailures).toEqual([]);
    expect(await h.app.asyncResult('m-1').get()).toBe(5);
  });

  it('a minimal call may bring its own id, parentId and rootId are set', async () => {
    const h = harness();
    h.app.task('add', (x: number, y: number) => x + y);
    await h.handler(sqsEvent('default', [msg('{"task":"add","args":[1,1],"id":"given"}', 'm-2')]));
    expect(await h.app.asyncResult('given').get()).toBe(2);
  });

  it('any other JSON on a queue owned by one task is passed to it as its single argument (e.g. an EventBridge event)', async () => {
    const h = harness();
    const got: unknown[] = [];
    h.app.task(
      'onUpload',
      (event: { 'detail-type': string; detail: { key: string } }) => {
        got.push(event.detail.key);
        return event['detail-type'];
      },
      { queue: 'uploads' },
    );
    const ev = { version: '0', id: 'e1', 'detail-type': 'Object Created', source: 'aws.s3', detail: { key: 'a.txt' } };
    await h.handler(sqsEvent('uploads', [msg(JSON.stringify(ev), 'm-3')]));
    expect(got).toEqual(['a.txt']);
    expect(await h.app.asyncResult('m-3').get()).toBe('Object Created');
  });

  it('non-envelope JSON on a shared queue is stored FAILURE with FOREIGN_MESSAGE_UNROUTABLE', async () => {
    const h = harness();
    h.app.task('a', () => 1);
    h.app.task('b', () => 2);
    await h.handler(sqsEvent('default', [msg('{"hello":"world"}', 'm-4')]));
    await expect(h.app.asyncResult('m-4').get()).rejects.toMatchObject({ code: ErrorCodes.FOREIGN_MESSAGE_UNROUTABLE });
  });
});

describe('bad input gets a specific error and never harms its batch', () => {
  const good = '{"task":"add","args":[2,3],"id":"good"}';
  const deep = `{"task":"add","args":[${'['.repeat(200)}${']'.repeat(200)}]}`;
  const cases: [string, string, string][] = [
    ['malformed JSON', '{"task": "add", "args": [1,', ErrorCodes.MALFORMED_JSON],
    ['unknown envelope version', '{"v":2,"id":"v2","task":"add","args":[]}', ErrorCodes.UNSUPPORTED_VERSION],
    ['bad envelope shape', '{"v":1,"id":"bad-shape","task":"add","args":"nope","headers":{}}', ErrorCodes.BAD_ENVELOPE],
    ['unknown task', '{"task":"nope","args":[]}', ErrorCodes.TASK_NOT_REGISTERED],
    ['too few args', '{"task":"add","args":[1]}', ErrorCodes.INVALID_ARGS],
    ['__proto__ key', '{"task":"add","args":[{"__proto__":{"polluted":true}},1]}', ErrorCodes.UNSAFE_KEY],
    ['constructor key', '{"task":"add","args":[{"constructor":{"prototype":{}}},1]}', ErrorCodes.UNSAFE_KEY],
    ['absurd nesting', deep, ErrorCodes.TOO_DEEP],
    ['huge number', '{"task":"add","args":[1e400,1]}', ErrorCodes.BAD_NUMBER],
    ['lone surrogate', '{"task":"add","args":["\\ud800",1]}', ErrorCodes.INVALID_UNICODE],
  ];

  it.each(cases)('%s → stored FAILURE %s; the good neighbour succeeds', async (_name, body, code) => {
    const h = harness();
    h.app.task('add', (x: number, y: number) => x + y);
    h.app.task('other', () => 0); // the queue is shared, so foreign payloads are not routed to `add`
    const res = await h.handler(sqsEvent('default', [msg(good, 'm-good'), msg(body, 'm-bad')]));
    expect(res.batchItemFailures).toEqual([]);
    expect(await h.app.asyncResult('good').get()).toBe(5);
    // A refused body is stored under its transport message id, never under the id it claims.
    const bad = await h.app.asyncResult('m-bad').info();
    expect(bad.state).toBe('FAILURE');
    expect(bad.serializedError?.code).toBe(code);
    expect(bad.serializedError?.message.length).toBeGreaterThan(10);
  });

  it('a result too large for the store fails with RESULT_TOO_LARGE', async () => {
    const h = harness();
    const big = h.app.task('big', () => 'x'.repeat(400_000).split(''));
    const r = await big.delay();
    await h.drain();
    await expect(r.get()).rejects.toMatchObject({ code: ErrorCodes.RESULT_TOO_LARGE });
  });

  it('args over the SQS limit are refused before sending with MESSAGE_TOO_LARGE', async () => {
    const h = harness();
    const t = h.app.task('t', (_s: string) => 1);
    await expect(t.delay('x'.repeat(1_100_000))).rejects.toMatchObject({ code: ErrorCodes.MESSAGE_TOO_LARGE });
  });

  it('a result that is not JSON (a function, a Map) fails with NOT_JSON_SERIALIZABLE', async () => {
    const h = harness();
    const t = h.app.task('t', () => new Map([[1, 2]]));
    const r = await t.delay();
    await h.drain();
    await expect(r.get()).rejects.toMatchObject({ code: ErrorCodes.NOT_JSON_SERIALIZABLE });
  });

  it('when the store is down the record is reported for redelivery (→ DLQ after maxReceiveCount), neighbours unaffected', async () => {
    const h = harness();
    h.app.task('add', (x: number, y: number) => x + y);
    const realWrite = h.backend.store.writeIfNotReady.bind(h.backend.store);
    h.backend.store.writeIfNotReady = async (rec) => {
      if (rec.id === 'flaky') throw new Error('ProvisionedThroughputExceeded');
      return realWrite(rec);
    };
    const res = await h.handler(
      sqsEvent('default', [msg('{"task":"add","args":[1,1],"id":"flaky"}', 'm-a'), msg('{"task":"add","args":[2,2],"id":"fine"}', 'm-b')]),
    );
    expect(res.batchItemFailures).toEqual([{ itemIdentifier: 'm-a' }]);
    expect(await h.app.asyncResult('fine').get()).toBe(4);
  });
});

describe('at-least-once in, exactly-once effects out', () => {
  it('every batch delivered twice: results right, callbacks and chain steps run once', async () => {
    const h = harness();
    const runs = new Map<string, number>();
    const count = (k: string) => runs.set(k, (runs.get(k) ?? 0) + 1);
    const add = h.app.task('add', (x: number, y: number) => {
      count(`add:${x}:${y}`);
      return x + y;
    });
    const cb = h.app.task('cb', (v: number) => {
      count(`cb:${v}`);
    });
    const r = await chain(add.s(1, 2), add.s(3), add.s(4)).link(cb.s()).applyAsync();
    await h.drain({ duplicate: true });
    expect(await r.get()).toBe(10);
    expect([...runs.entries()].sort()).toEqual([
      ['add:1:2', 1],
      ['add:3:3', 1],
      ['add:6:4', 1],
      ['cb:10', 1],
    ]);
    expect(h.backend.events.events.filter((e) => e.detailType === 'task-succeeded')).toHaveLength(4);
  });

  it('two racing deliveries of one message: one stores and continues, the other does nothing', async () => {
    const h = harness();
    let nextRuns = 0;
    const slow = h.app.task('slow', async (x: number) => {
      await new Promise((r) => setTimeout(r, 5));
      return x;
    });
    const next = h.app.task('next', (x: number) => {
      nextRuns++;
      return x + 1;
    });
    const r = await chain(slow.s(1), next.s()).applyAsync();
    const [m] = await h.backend.broker.receive('default', { max: 1, visibilityTimeoutSeconds: 30, waitMs: 0 });
    const ev = sqsEvent('default', [m as ReceivedMessage]);
    await Promise.all([h.handler(ev), h.handler(ev)]);
    await h.backend.broker.delete('default', [(m as ReceivedMessage).receiptHandle]);
    expect((await h.backend.broker.depth('default')).visible).toBe(1); // exactly one `next` dispatched
    await h.drain();
    expect(await r.get()).toBe(2);
    expect(nextRuns).toBe(1);
  });

  it('a crash between "stored" and "continued" is finished by the redelivery', async () => {
    let crash = true;
    const h = harness({
      worker: {
        faults: {
          afterStore(env) {
            if (crash && env.task === 'first') {
              crash = false;
              throw new Error('simulated crash after store');
            }
          },
        },
      },
    });
    let firstRuns = 0;
    const first = h.app.task('first', () => {
      firstRuns++;
      return 1;
    });
    const second = h.app.task('second', (x: number) => x + 1);
    const r = await chain(first.s(), second.s()).applyAsync();
    await h.deliver('default'); // crashes: reported for redelivery
    // the lease of the crashed attempt must run out before another delivery may take over
    const rec = await h.app.asyncResult((r.parent as { id: string }).id).record();
    expect(rec?.cont).toBe('pending');
    await h.backend.store.takeOver(rec?.id as string, rec?.lease?.owner, { owner: 'expired', until: 0 });
    await h.drain();
    expect(await r.get()).toBe(2);
    expect(firstRuns).toBe(1); // resumed, not re-run
  });

  it('a first delivery reads its guard eventually consistently, a redelivery strongly', async () => {
    const h = harness();
    const reads: (boolean | undefined)[] = [];
    const get = h.backend.store.get.bind(h.backend.store);
    h.backend.store.get = async (id, options) => {
      reads.push(options?.consistent);
      return get(id, options);
    };
    h.app.task('add', (x: number, y: number) => x + y);
    const body = '{"task":"add","args":[2,3]}';
    await h.handler(sqsEvent('default', [msg(body, 'm-first', 1)]));
    await h.handler(sqsEvent('default', [msg(body, 'm-again', 2)]));
    expect(reads).toEqual([false, true]);
  });

  it('a copy whose eventually consistent read missed the stored outcome stores and publishes nothing more', async () => {
    const h = harness();
    let runs = 0;
    h.app.task('add', (x: number, y: number) => {
      runs++;
      return x + y;
    });
    const first = msg('{"task":"add","args":[2,3],"id":"t-1"}', 'm-1');
    await h.handler(sqsEvent('default', [first]));
    // The copy's read answers from a replica that has not seen the outcome yet.
    const get = h.backend.store.get.bind(h.backend.store);
    h.backend.store.get = async (id, options) => (options?.consistent === false ? undefined : get(id, options));
    const res = await h.handler(sqsEvent('default', [msg('{"task":"add","args":[2,30],"id":"t-1"}', 'm-2')]));
    expect(res.batchItemFailures).toEqual([]);
    expect(runs).toBe(2); // it ran, as a racing copy may
    expect(await h.app.asyncResult('t-1').get()).toBe(5); // the first outcome stands
    expect(h.backend.events.events.filter((e) => e.detail.id === 't-1')).toHaveLength(1);
  });
});

describe('queue names on AWS', () => {
  it('maps the physical queue name of an event source ARN back to the logical queue', async () => {
    const { queueAliases } = await import('../../lib/adapters/aws/index');
    const aliases = queueAliases({
      default: 'https://sqs.eu-west-1.amazonaws.com/123456789012/Shop-QueueDefault12AB-xyz',
      uploads: 'https://sqs.eu-west-1.amazonaws.com/123456789012/Shop-QueueUploads34CD-abc',
    });
    expect(aliases.get('Shop-QueueDefault12AB-xyz')).toBe('default');
    expect(aliases.get('Shop-QueueUploads34CD-abc')).toBe('uploads');
  });
});

describe('argument schemas (Standard Schema: valibot, zod, arktype…)', () => {
  it('a call whose arguments fail the task schema is refused at publish and stored FAILURE INVALID_ARGS at the worker', async () => {
    const v = await import('valibot');
    const h = harness();
    const schema = v.tuple([v.pipe(v.string(), v.email()), v.pipe(v.number(), v.integer(), v.minValue(1))]);
    const invite = h.app.task('invite', (email: string, seats: number) => `${email}:${seats}`, { schema });
    // at publish: nothing is sent
    await expect(invite.delay('not-an-email', 2)).rejects.toMatchObject({ code: ErrorCodes.INVALID_ARGS });
    expect((await h.backend.broker.depth('default')).visible).toBe(0);
    // at the worker (a foreign producer that skipped the check)
    await h.handler(sqsEvent('default', [msg('{"task":"invite","args":["a@b.co",0],"id":"bad-seats"}', 'm-s1')]));
    const info = await h.app.asyncResult('bad-seats').info();
    expect(info.state).toBe('FAILURE');
    expect(info.serializedError?.code).toBe(ErrorCodes.INVALID_ARGS);
    expect(info.serializedError?.message).toMatch(/invite.*1.*/);
    const ok = await invite.delay('a@b.co', 3);
    await h.drain();
    expect(await ok.get()).toBe('a@b.co:3');
  });
});

describe('minimal calls from rules carry their lineage', () => {
  it('parentId and rootId of a minimal call are kept (static link rules set them)', async () => {
    const h = harness();
    h.app.task('notify', (line: string) => `notified: ${line}`);
    const body = '{"task":"notify","args":["total=9"],"id":"p1.link.notify","parentId":"p1","rootId":"r1"}';
    await h.handler(sqsEvent('default', [msg(body, 'm-l1')]));
    const rec = await h.app.asyncResult('p1.link.notify').record();
    expect(rec).toMatchObject({ state: 'SUCCESS', result: 'notified: total=9', parentId: 'p1', rootId: 'r1' });
  });

  it('task ids with quotes or control characters are refused before sending', async () => {
    const h = harness();
    const t = h.app.task('t', () => 1);
    await expect(t.applyAsync([], { taskId: 'a"b' })).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTIONS });
    await expect(t.applyAsync([], { taskId: 'line\nbreak' })).rejects.toMatchObject({ code: ErrorCodes.INVALID_OPTIONS });
  });
});

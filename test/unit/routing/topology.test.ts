import { describe, expect, it } from 'vitest';
import { isCeleriacError } from '../../../lib/errors';
import { type AppTopologyInput, buildTopology, errbackCallId, linkCallId, QUEUE_DEFAULTS } from '../../../lib/routing';
import { shop, shopWith } from './fixtures';

/** The problems buildTopology reports for `input` (it must throw CONFIG_INVALID). */
function problemsOf(input: AppTopologyInput): string[] {
  try {
    buildTopology(input);
  } catch (e) {
    expect(isCeleriacError(e, 'CONFIG_INVALID')).toBe(true);
    return (e as { details: { problems: string[] } }).details.problems;
  }
  throw new Error('buildTopology accepted the topology');
}

const task = (name: string, queue = 'default', events = true) => ({ name, queue, events });

describe('buildTopology: defaults', () => {
  it('fills every queue default and derives the visibility timeout from the function timeout', () => {
    const t = buildTopology({ app: 'a', tasks: [task('t')], links: [], subscribers: [], periodic: [], queues: [] });
    expect(t.queues).toEqual([
      {
        name: 'default',
        tasks: ['t'],
        batchSize: 10,
        maxBatchingWindowSeconds: 0,
        maxConcurrency: undefined,
        functionTimeoutSeconds: 30,
        visibilityTimeoutSeconds: 180,
        maxReceiveCount: 5,
        memoryMb: 1024,
      },
    ]);
    expect(QUEUE_DEFAULTS.visibilityTimeoutFactor).toBe(6);
  });

  it('keeps declared settings, scales the default visibility with a custom function timeout, and adds queues only tasks name', () => {
    const t = buildTopology(
      shopWith({ queues: [{ name: 'default', batchSize: 5, maxConcurrency: 10, functionTimeoutSeconds: 120, memoryMb: 2048 }] }),
    );
    expect(t.queues.map((q) => q.name)).toEqual(['default', 'mail']);
    expect(t.queues[0]).toMatchObject({
      batchSize: 5,
      maxConcurrency: 10,
      functionTimeoutSeconds: 120,
      visibilityTimeoutSeconds: 720,
      memoryMb: 2048,
    });
    expect(t.queues[1]).toMatchObject({ name: 'mail', tasks: ['notify'], batchSize: 10, visibilityTimeoutSeconds: 180 });
  });

  it('keeps a declared queue that no task names (tasks can be routed there per call)', () => {
    const t = buildTopology(shopWith({ queues: [{ name: 'default' }, { name: 'bulk', batchSize: 100, maxBatchingWindowSeconds: 5 }] }));
    expect(t.queues.find((q) => q.name === 'bulk')).toMatchObject({ tasks: [], batchSize: 100, maxBatchingWindowSeconds: 5 });
  });

  it('resolves subscribers: all four outcomes when unfiltered, canonical order when filtered', () => {
    const t = buildTopology(shop);
    expect(t.subscribers).toEqual([
      { name: 'metrics', entry: 'src/subscriber.ts', tasks: undefined, outcomes: ['success', 'failure', 'retry', 'revoked'] },
      { name: 'failures', entry: 'src/failures.ts', tasks: ['charge', 'add'], outcomes: ['failure', 'revoked'] },
    ]);
  });

  it('builds the periodic call body as a minimal call on the task queue', () => {
    const t = buildTopology(shop);
    expect(t.periodic).toEqual([
      { name: 'nightly-total', task: 'add', queue: 'default', schedule: 'rate(1 day)', args: [0, 0], input: '{"task":"add","args":[0,0]}' },
    ]);
    const noArgs = buildTopology(shopWith({ periodic: [{ name: 'tick', task: 'report', schedule: 'cron(0 12 * * ? *)' }] }));
    expect(noArgs.periodic[0]?.input).toBe('{"task":"report","args":[]}');
  });

  it('exposes the source, queueOf, queueOwners and eventsEnabled', () => {
    const t = buildTopology(shop);
    expect(t.source).toBe('celeriac.shop');
    expect(t.queueOf('notify')).toBe('mail');
    expect(t.queueOf('add')).toBe('default');
    expect(() => t.queueOf('nope')).toThrow(expect.objectContaining({ code: 'TASK_NOT_REGISTERED' }));
    // default holds four tasks, so it has no owner; mail holds only notify.
    expect(t.queueOwners()).toEqual({ mail: 'notify' });
    expect(t.eventsEnabled).toBe(true);
    const quiet = buildTopology({ app: 'q', tasks: [task('t', 'default', false)], links: [], subscribers: [], periodic: [], queues: [] });
    expect(quiet.eventsEnabled).toBe(false);
    expect(quiet.rules).toEqual([]);
  });

  it('is frozen: consumers cannot change what the other consumer deploys', () => {
    const t = buildTopology(shop);
    expect(Object.isFrozen(t)).toBe(true);
    expect(Object.isFrozen(t.rules[0]?.eventPattern)).toBe(true);
    expect(Object.isFrozen(t.queueOwners())).toBe(true);
  });
});

describe('buildTopology: rules', () => {
  const t = buildTopology(shop);

  it('a static link: success of the source task → minimal call on the linked task queue, result prepended', () => {
    expect(t.rules[0]).toEqual({
      name: 'link-report-notify',
      description: 'celeriac shop: when report succeeds, call notify with its result (static link)',
      eventPattern: { source: ['celeriac.shop'], 'detail-type': ['task-succeeded'], detail: { task: ['report'] } },
      target: { kind: 'queue', queue: 'mail', task: 'notify' },
      inputTransformer: {
        inputPathsMap: {
          result: '$.detail.result',
          id: '$.detail.id',
          rootId: '$.detail.rootId',
          traceparent: '$.detail.traceparent',
          tracestate: '$.detail.tracestate',
          fairnessKey: '$.detail.fairnessKey',
        },
        inputTemplate:
          '{"task":"notify","args":[<result>],"id":"<id>.link.notify","parentId":<id>,"rootId":<rootId>,"traceparent":<traceparent>,"tracestate":<tracestate>,"fairnessKey":<fairnessKey>}',
      },
    });
  });

  it('a static error link: failure of the source task → errback called with the failed id', () => {
    expect(t.rules[1]).toEqual({
      name: 'errlink-charge-refund',
      description: "celeriac shop: when charge fails, call refund with the failed task's id (static error link)",
      eventPattern: { source: ['celeriac.shop'], 'detail-type': ['task-failed'], detail: { task: ['charge'] } },
      target: { kind: 'queue', queue: 'default', task: 'refund' },
      inputTransformer: {
        inputPathsMap: {
          id: '$.detail.id',
          rootId: '$.detail.rootId',
          traceparent: '$.detail.traceparent',
          tracestate: '$.detail.tracestate',
          fairnessKey: '$.detail.fairnessKey',
        },
        inputTemplate:
          '{"task":"refund","args":[<id>],"id":"<id>.errback.refund","parentId":<id>,"rootId":<rootId>,"traceparent":<traceparent>,"tracestate":<tracestate>,"fairnessKey":<fairnessKey>}',
      },
    });
  });

  it('a postrun subscriber matches all four detail-types of every task, and gets the whole event', () => {
    expect(t.rules[2]).toEqual({
      name: 'subscriber-metrics',
      description: 'celeriac shop: every outcome of every task to subscriber metrics',
      eventPattern: {
        source: ['celeriac.shop'],
        'detail-type': ['task-succeeded', 'task-failed', 'task-retried', 'task-revoked'],
      },
      target: { kind: 'subscriber', subscriber: 'metrics' },
    });
  });

  it('a filtered subscriber matches its tasks and outcomes only', () => {
    expect(t.rules[3]).toEqual({
      name: 'subscriber-failures',
      description: 'celeriac shop: failure, revoked of charge, add to subscriber failures',
      eventPattern: { source: ['celeriac.shop'], 'detail-type': ['task-failed', 'task-revoked'], detail: { task: ['charge', 'add'] } },
      target: { kind: 'subscriber', subscriber: 'failures' },
    });
  });

  it('input templates become valid JSON minimal calls once EventBridge fills the placeholders, carrying the source’s trace context and fairness key', () => {
    // EventBridge puts an unquoted placeholder's value as JSON, a quoted one raw; a path that
    // finds nothing leaves "" where the value stood (recorded AWS behaviour).
    const fill = (template: string, values: Record<string, unknown>): unknown =>
      JSON.parse(
        template
          .replace(/"([^"[\]{},:]*)<(\w+)>([^"[\]{},:]*)"/g, (_m, pre: string, k: string, post: string) =>
            JSON.stringify(`${pre}${String(values[k])}${post}`),
          )
          .replace(/<(\w+)>/g, (_m, k: string) => (values[k] === undefined ? '""' : JSON.stringify(values[k]))),
      );
    const none = { traceparent: '', tracestate: '', fairnessKey: '' };
    const link = t.rules[0]?.inputTransformer?.inputTemplate as string;
    expect(fill(link, { result: 'total=9', id: 'abc', rootId: 'root' })).toEqual({
      task: 'notify',
      args: ['total=9'],
      id: linkCallId('abc', 'notify'),
      parentId: 'abc',
      rootId: 'root',
      ...none,
    });
    expect(fill(link, { result: { n: [1, 2] }, id: 'abc', rootId: 'root' })).toMatchObject({ args: [{ n: [1, 2] }] });
    const traceparent = '00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01';
    expect(fill(link, { result: 1, id: 'abc', rootId: 'root', traceparent, fairnessKey: 'tenant-a' })).toMatchObject({
      traceparent,
      tracestate: '',
      fairnessKey: 'tenant-a',
    });
    const errback = t.rules[1]?.inputTransformer?.inputTemplate as string;
    expect(fill(errback, { id: 'abc', rootId: 'root' })).toEqual({
      task: 'refund',
      args: ['abc'],
      id: errbackCallId('abc', 'refund'),
      parentId: 'abc',
      rootId: 'root',
      ...none,
    });
  });

  it('placeholders only use names EventBridge allows and stay within its limits', () => {
    for (const r of t.rules) {
      if (!r.inputTransformer) continue;
      const { inputPathsMap, inputTemplate } = r.inputTransformer;
      for (const [k, path] of Object.entries(inputPathsMap)) {
        expect(k).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(k.startsWith('aws.')).toBe(false);
        expect(path).toMatch(/^\$(\.[A-Za-z0-9_-]+)+$/);
      }
      const used = [...inputTemplate.matchAll(/<([^>]+)>/g)].map((m) => m[1]);
      expect(new Set(used)).toEqual(new Set(Object.keys(inputPathsMap)));
      expect(inputTemplate.length).toBeLessThanOrEqual(8192);
    }
  });

  it('gives every rule a valid, unique EventBridge rule name, hashing names that would not be', () => {
    const long = 'x'.repeat(60);
    const input: AppTopologyInput = {
      app: 'a',
      tasks: [task('ns:one'), task('two'), task(long)],
      links: [
        { from: 'ns:one', to: 'two', kind: 'success' },
        { from: 'two', to: long, kind: 'success' },
      ],
      subscribers: [],
      periodic: [],
      queues: [],
    };
    const names = buildTopology(input).rules.map((r) => r.name);
    for (const n of names) expect(n).toMatch(/^[.\-_A-Za-z0-9]{1,64}$/);
    expect(names[0]).toMatch(/^link-ns_one-two-[0-9a-f]{8}$/);
    expect(new Set(names).size).toBe(names.length);
    // Stable: the same topology yields the same names (construct ids, local rule names).
    expect(buildTopology(input).rules.map((r) => r.name)).toEqual(names);
  });
});

describe('buildTopology: validation', () => {
  it('reports every problem at once, in one CONFIG_INVALID error naming the app', () => {
    expect(() =>
      buildTopology(
        shopWith({
          links: [{ from: 'nope', to: 'add', kind: 'success' }],
          periodic: [{ name: 'p', task: 'gone', schedule: 'rate(1 day)' }],
        }),
      ),
    ).toThrow(
      /invalid topology for app "shop" \(2 problems\):\n {2}- link nope → add: unknown task "nope"\n {2}- periodic task "p": unknown task "gone"/,
    );
  });

  it('unknown tasks in links, error links, subscribers and periodic tasks', () => {
    expect(
      problemsOf(
        shopWith({
          links: [
            { from: 'report', to: 'ghost', kind: 'success' },
            { from: 'ghost', to: 'refund', kind: 'error' },
          ],
          subscribers: [{ name: 's', entry: 'x.ts', tasks: ['ghost'] }],
          periodic: [{ name: 'p', task: 'ghost', schedule: 'rate(5 minutes)' }],
        }),
      ),
    ).toEqual([
      'link report → ghost: unknown task "ghost"',
      'error link ghost → refund: unknown task "ghost"',
      'subscriber "s": unknown task "ghost"',
      'periodic task "p": unknown task "ghost"',
    ]);
  });

  it('duplicate tasks, queues, subscribers, periodic tasks and links', () => {
    expect(
      problemsOf(
        shopWith({
          tasks: [...shop.tasks, task('add')],
          queues: [{ name: 'default' }, { name: 'default' }],
          subscribers: [...shop.subscribers, { name: 'metrics', entry: 'y.ts' }],
          periodic: [...shop.periodic, { name: 'nightly-total', task: 'add', schedule: 'rate(2 days)' }],
          links: [...shop.links, { from: 'report', to: 'notify', kind: 'success' }],
        }),
      ),
    ).toEqual([
      'task "add" is declared twice',
      'queue "default" is declared twice',
      'link report → notify is declared twice',
      'subscriber "metrics" is declared twice',
      'periodic task "nightly-total" is declared twice',
    ]);
  });

  it('a link or error link from a task whose events are off', () => {
    expect(
      problemsOf(
        shopWith({
          links: [
            { from: 'notify', to: 'add', kind: 'success' },
            { from: 'notify', to: 'refund', kind: 'error' },
          ],
        }),
      ),
    ).toEqual([
      'link notify → add: task "notify" has events off, so no task-succeeded event reaches the bus; turn its events on',
      'error link notify → refund: task "notify" has events off, so no task-failed event reaches the bus; turn its events on',
    ]);
  });

  it('a subscriber filtering on a task whose events are off, or in an app where every task is quiet', () => {
    expect(problemsOf(shopWith({ subscribers: [{ name: 's', entry: 'x.ts', tasks: ['notify'] }] }))).toEqual([
      'subscriber "s": task "notify" has events off, so the subscriber would never hear of it; turn its events on',
    ]);
    expect(
      problemsOf({
        app: 'q',
        tasks: [task('t', 'default', false)],
        links: [],
        subscribers: [{ name: 's', entry: 'x.ts' }],
        periodic: [],
        queues: [],
      }),
    ).toEqual(['subscriber "s": every task has events off, so it would never receive an event']);
  });

  it('subscriber filters that match nothing, unknown outcomes, an empty entry', () => {
    expect(
      problemsOf(
        shopWith({
          subscribers: [
            { name: 'a', entry: 'x.ts', tasks: [] },
            { name: 'b', entry: 'x.ts', outcomes: [] },
            { name: 'c', entry: 'x.ts', outcomes: ['success', 'done' as 'success'] },
            { name: 'd', entry: ' ' },
          ],
        }),
      ),
    ).toEqual([
      'subscriber "a": tasks is empty, so it would receive nothing; omit it to receive every task',
      'subscriber "b": outcomes is empty, so it would receive nothing; omit it to receive every outcome',
      'subscriber "c": unknown outcome "done" (use success, failure, retry, revoked)',
      'subscriber "d": entry must be a non-empty path',
    ]);
  });

  it('invalid schedule expressions', () => {
    const p = (schedule: string) => problemsOf(shopWith({ periodic: [{ name: 'p', task: 'add', schedule }] }))[0];
    expect(p('every day')).toBe('periodic task "p": schedule "every day" is neither rate(value unit) nor cron(fields)');
    expect(p('rate(1 days)')).toBe('periodic task "p": schedule "rate(1 days)" uses "days" with a value of 1; write rate(1 day)');
    expect(p('cron(0 12 * * *)')).toMatch(/has 5 cron fields; EventBridge Scheduler needs 6/);
    expect(p('at(2030-01-01T00:00:00)')).toMatch(/is a one-time at\(\.\.\.\) expression/);
  });

  it('periodic args that JSON cannot carry', () => {
    expect(problemsOf(shopWith({ periodic: [{ name: 'p', task: 'add', schedule: 'rate(1 day)', args: [new Date(0)] }] }))).toEqual([
      'periodic task "p": args must be an array of plain JSON values',
    ]);
    expect(problemsOf(shopWith({ periodic: [{ name: 'p', task: 'add', schedule: 'rate(1 day)', args: [Number.NaN] }] }))).toHaveLength(1);
    expect(problemsOf(shopWith({ periodic: [{ name: 'p', task: 'add', schedule: 'rate(1 day)', args: [undefined] }] }))).toHaveLength(1);
  });

  it('names that are not valid AWS resource names', () => {
    expect(
      problemsOf({
        app: 'my shop',
        tasks: [task('bad name'), task('ok', 'queue.with.dots')],
        links: [],
        subscribers: [{ name: 'sub:x', entry: 'x.ts' }],
        periodic: [{ name: 'every/5', task: 'ok', schedule: 'rate(5 minutes)' }],
        queues: [{ name: 'q'.repeat(65) }],
      }),
    ).toEqual([
      'app name "my shop" is not valid: use 1-64 letters, digits, "-" or "_"',
      'task name "bad name" is not valid: use 1-200 letters, digits, "_", ".", ":" or "-"',
      'queue of task "ok" "queue.with.dots" is not valid: use 1-64 letters, digits, "-" or "_" (an SQS queue name)',
      `queue name "${'q'.repeat(65)}" is not valid: use 1-64 letters, digits, "-" or "_" (an SQS queue name)`,
      'subscriber name "sub:x" is not valid: use 1-64 letters, digits, "-" or "_" (a Lambda function name)',
      'periodic task name "every/5" is not valid: use 1-64 letters, digits, "_", "." or "-" (a Scheduler schedule name)',
    ]);
  });

  it('a visibility timeout shorter than 6 × the function timeout', () => {
    expect(problemsOf(shopWith({ queues: [{ name: 'default', functionTimeoutSeconds: 60, visibilityTimeoutSeconds: 300 }] }))).toEqual([
      'queue "default": visibility timeout 300 s is shorter than 6 × the function timeout (60 s) = 360 s; a message would reappear while its batch is still running or being retried',
    ]);
    // Exactly 6× is fine.
    expect(
      buildTopology(shopWith({ queues: [{ name: 'default', functionTimeoutSeconds: 60, visibilityTimeoutSeconds: 360 }] })).queues[0]
        ?.visibilityTimeoutSeconds,
    ).toBe(360);
  });

  it('queue settings out of the ranges SQS and Lambda accept', () => {
    expect(
      problemsOf(
        shopWith({
          queues: [
            {
              name: 'default',
              batchSize: 0,
              maxBatchingWindowSeconds: 301,
              maxConcurrency: 1,
              functionTimeoutSeconds: 901,
              maxReceiveCount: 0,
              memoryMb: 64,
            },
            { name: 'mail', batchSize: 1.5, visibilityTimeoutSeconds: 43_201 },
          ],
        }),
      ),
    ).toEqual([
      'queue "default": batchSize must be an integer from 1 to 10000, got 0',
      'queue "default": maxBatchingWindowSeconds must be an integer from 0 to 300, got 301',
      'queue "default": maxConcurrency must be an integer from 2 to 1000, got 1',
      'queue "default": functionTimeoutSeconds must be an integer from 1 to 900, got 901',
      'queue "default": maxReceiveCount must be an integer from 1 to 1000, got 0',
      'queue "default": memoryMb must be an integer from 128 to 10240, got 64',
      'queue "mail": batchSize must be an integer from 1 to 10000, got 1.5',
      'queue "mail": visibilityTimeoutSeconds must be an integer from 0 to 43200, got 43201',
    ]);
  });

  it('a batch over 10 messages without a batching window', () => {
    expect(problemsOf(shopWith({ queues: [{ name: 'default', batchSize: 50 }] }))).toEqual([
      'queue "default": a batch size of 50 (over 10) needs maxBatchingWindowSeconds of at least 1, as SQS event sources require',
    ]);
  });

  it('links that form a cycle', () => {
    expect(problemsOf(shopWith({ links: [{ from: 'add', to: 'add', kind: 'success' }] }))).toEqual([
      'links form a cycle (add → add): each call would trigger the next forever',
    ]);
    expect(
      problemsOf(
        shopWith({
          links: [
            { from: 'add', to: 'report', kind: 'success' },
            { from: 'report', to: 'charge', kind: 'success' },
            { from: 'charge', to: 'add', kind: 'error' },
          ],
        }),
      ),
    ).toEqual(['links form a cycle (add → report → charge → add): each call would trigger the next forever']);
  });

  it('a chain of links whose derived ids would outgrow the id limit', () => {
    const names = ['a', 'b', 'c', 'd'].map((c) => c.repeat(70));
    const problems = problemsOf({
      app: 'a',
      tasks: names.map((n) => task(n)),
      links: names.slice(1).map((to, i) => ({ from: names[i] as string, to, kind: 'success' as const })),
      subscribers: [],
      periodic: [],
      queues: [],
    });
    expect(problems).toEqual([expect.stringMatching(/^the linked call a+ → b+ → c+ → d+ would get a 264-character id \(limit 256\)/)]);
  });

  it("a rule whose event pattern is over EventBridge's 2,048 characters (PutRule refuses it)", () => {
    // 12 tasks with valid 180-character names: the subscriber's pattern lists all of them.
    const names = Array.from({ length: 12 }, (_, i) => `t${i}_${'x'.repeat(176)}`);
    const input: AppTopologyInput = {
      app: 'shop',
      tasks: names.map((n) => task(n)),
      links: [],
      subscribers: [{ name: 'wide', entry: 'src/wide.ts', tasks: names }],
      periodic: [],
      queues: [],
    };
    const size = JSON.stringify({
      source: ['celeriac.shop'],
      'detail-type': ['task-succeeded', 'task-failed', 'task-retried', 'task-revoked'],
      detail: { task: names },
    }).length;
    expect(size).toBeGreaterThan(2048);
    expect(problemsOf(input)).toEqual([
      `rule "subscriber-wide" has a ${size}-character event pattern (EventBridge's limit is 2048); subscribe subscriber "wide" to fewer tasks, or split it into several subscribers`,
    ]);
    // Under the limit it is accepted: 10 of those tasks fit.
    const fits = buildTopology({ ...input, subscribers: [{ name: 'wide', entry: 'src/wide.ts', tasks: names.slice(0, 10) }] });
    expect(JSON.stringify(fits.rules[0]?.eventPattern).length).toBeLessThanOrEqual(2048);
  });

  it('an app with no tasks, and parts that are not arrays', () => {
    expect(problemsOf({ app: 'a', tasks: [], links: [], subscribers: [], periodic: [], queues: [] })).toEqual([
      'the app declares no tasks; there is nothing to deploy',
    ]);
    expect(problemsOf({ ...shop, links: 'report→notify' as unknown as AppTopologyInput['links'] })).toEqual(['links must be an array']);
    expect(problemsOf(shopWith({ links: [{ from: 'report', to: 'notify', kind: 'always' as 'success' }] }))).toEqual([
      'link "report" → "notify": kind must be "success" or "error"',
    ]);
  });
});

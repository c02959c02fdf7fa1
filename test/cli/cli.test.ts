/**
 * The `celeriac` CLI end to end: real child processes against a `celeriac dev` (memory mode) of
 * test/cli/fixtures/app.ts that this file starts on a free port and stops (SIGINT) at the end.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, type DevRun, eventually, FIXTURE_APP, NO_APP, removeDir, start, startDev, tempDir } from './helpers';

let dev: DevRun;
const run = (...args: string[]) => cli(args, { cwd: dev.cwd });
const lines = (s: string) => s.trim().split('\n').filter(Boolean);

/** Every user error is ONE line on stderr, prefixed `celeriac:`. */
function expectOneLine(stderr: string, pattern: RegExp): void {
  const l = lines(stderr);
  expect(l, stderr).toHaveLength(1);
  expect(l[0]).toMatch(/^celeriac: /);
  expect(l[0]).toMatch(pattern);
}

beforeAll(async () => {
  dev = await startDev();
});

afterAll(async () => {
  if (dev === undefined) return;
  const code = await dev.stop();
  // SIGINT is a clean stop: exit 0, and the address file is gone.
  expect(code).toBe(0);
  expect(existsSync(join(dev.cwd, '.celeriac', 'dev.json'))).toBe(false);
  removeDir(dev.cwd);
});

describe('call and result', () => {
  it('call prints the id; result --wait prints the result (exit 0)', async () => {
    const called = await run('call', 'add', '2', '3');
    expect(called.code).toBe(0);
    const id = called.stdout.trim();
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const r = await run('result', id, '--wait');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('5');
    expect(r.stderr).toContain(`add[${id}] SUCCESS`);
  });

  it('call --wait --json prints one JSON object with state, result and duration', async () => {
    const r = await run('call', 'add', '40', '2', '--wait', '--json');
    expect(r.code).toBe(0);
    const view = JSON.parse(r.stdout);
    expect(view).toMatchObject({ task: 'add', state: 'SUCCESS', ready: true, result: 42 });
    expect(typeof view.durationMs).toBe('number');
    expect(r.stderr).toBe('');
  });

  it('parses args as JSON where they parse, else as strings; a failed task exits 1', async () => {
    const json = await run('call', 'sum', '[1, 2, 3.5]', '--wait');
    expect(json.stdout.trim()).toBe('6.5');
    const failed = await run('call', 'fail', 'not json at all', '--wait');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toBe('');
    // The outcome line is not an error of the CLI: no `celeriac:` prefix, still one line.
    expect(lines(failed.stderr)).toEqual([expect.stringMatching(/^fail\[\S+\] FAILURE: TypeError: failed on purpose: not json at all/)]);
    const asJson = await run('call', 'fail', 'x', '--wait', '--json');
    expect(asJson.code).toBe(1);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ state: 'FAILURE', error: { type: 'TypeError' } });
  });

  it('result of a running task prints its state; --countdown delays the call', async () => {
    const id = (await run('call', 'add', '1', '1', '--countdown', '1')).stdout.trim();
    const early = await run('result', id, '--json');
    expect(early.code).toBe(0);
    expect(JSON.parse(early.stdout)).toMatchObject({ id, state: 'PENDING', ready: false });
    const done = await run('result', id, '--wait', '--json');
    expect(JSON.parse(done.stdout)).toMatchObject({ state: 'SUCCESS', result: 2 });
  });

  it('--idempotency-key: a second call (or apply) with the key prints the first id and sends nothing', async () => {
    const first = (await run('call', 'add', '3', '4', '--idempotency-key', 'cli-once')).stdout.trim();
    const again = await run('call', 'add', '3', '4', '--idempotency-key', 'cli-once', '--wait', '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ id: first, state: 'SUCCESS', result: 7 });
    const other = (await run('call', 'add', '3', '4', '--idempotency-key', 'cli-other')).stdout.trim();
    expect(other).not.toBe(first);

    const canvas = '{"chain": [{"task": "add", "args": [1, 1]}, {"task": "add", "args": [1]}]}';
    const applied = (await run('apply', canvas, '--idempotency-key', 'cli-chain')).stdout.trim();
    const reapplied = await run('apply', canvas, '--idempotency-key', 'cli-chain', '--wait');
    expect(reapplied.stderr).not.toMatch(/^celeriac: /m);
    expect(reapplied.stdout.trim()).toBe('3');
    expect((await run('apply', canvas, '--idempotency-key', 'cli-chain')).stdout.trim()).toBe(applied);

    const tooLong = await run('call', 'add', '1', '2', '--idempotency-key', 'k'.repeat(300));
    expect(tooLong.code).toBe(2);
    expectOneLine(tooLong.stderr, /idempotencyKey must be a string of 1-256 characters, got 300 characters/);
  });

  it('result takes an id prefix as inspect and events print it', async () => {
    const id = (await run('call', 'add', '20', '22')).stdout.trim();
    await run('result', id, '--wait');
    const short = (await run('inspect')).stdout.match(new RegExp(`${id.slice(0, 8)}\\S*`))?.[0];
    expect(short).toBeDefined();
    for (const given of [id.slice(0, 8), short as string]) {
      const r = await run('result', given, '--json');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ id, state: 'SUCCESS', result: 42 });
    }
    const none = await run('result', 'ffffffff');
    expect(none.code).toBe(3);
    expectOneLine(none.stderr, /no recent task id starts with ffffffff/);
  });

  it('--wait --timeout gives up with exit 124 and says the task goes on', async () => {
    const r = await run('call', 'slow', '1', '3000', '--wait', '--timeout', '0.3');
    expect(r.code).toBe(124);
    expectOneLine(r.stderr, /timed out after 0.3 s .*still (PENDING|STARTED).*celeriac result/);
  });
});

describe('apply: a canvas in its JSON form', () => {
  it('a chain, a chord and a group, each waited for', async () => {
    const chainRun = await run('apply', '{"chain": [{"task": "add", "args": [2, 3]}, {"task": "add", "args": [4]}]}', '--wait');
    expect(chainRun.code).toBe(0);
    expect(chainRun.stdout.trim()).toBe('9');
    const chordRun = await run(
      'apply',
      '{"chord": {"header": [{"task": "add", "args": [1, 1]}, {"task": "add", "args": [2, 2]}], "body": {"task": "sum"}}}',
      '--wait',
      '--json',
    );
    expect(JSON.parse(chordRun.stdout)).toMatchObject({ state: 'SUCCESS', result: 6 });
    const groupRun = await run('apply', '{"group": [{"task": "add", "args": [1, 1]}, {"task": "add", "args": [2, 2]}]}', '--wait');
    expect(groupRun.code).toBe(0);
    expect(JSON.parse(groupRun.stdout)).toEqual([2, 4]);
  });

  it('reads @file; without --wait prints the ids to wait for (a group: one per member)', async () => {
    const file = join(dev.cwd, 'canvas.json');
    writeFileSync(
      file,
      JSON.stringify({
        group: [
          { task: 'add', args: [1, 2] },
          { task: 'add', args: [3, 4] },
        ],
      }),
    );
    const r = await run('apply', '@canvas.json');
    expect(r.code).toBe(0);
    const ids = lines(r.stdout);
    expect(ids).toHaveLength(2);
    const results = await Promise.all(ids.map((id) => run('result', id, '--wait')));
    expect(results.map((x) => x.stdout.trim())).toEqual(['3', '7']);
  });

  it('a malformed canvas or an unknown task → 2, one line naming where', async () => {
    const bad = await run('apply', '{"chain": [{"task": "add", "args": [1, 2]}, {"tsk": "add"}]}');
    expect(bad.code).toBe(2);
    expectOneLine(bad.stderr, /canvas\.chain\[1\] must have exactly one of "task", "chain", "group", "chord"/);
    const unknown = await run('apply', '{"group": [{"task": "nope"}]}');
    expect(unknown.code).toBe(2);
    expectOneLine(unknown.stderr, /no task "nope"/);
    const notJson = await run('apply', '{chain');
    expect(notJson.code).toBe(2);
    expectOneLine(notJson.stderr, /the canvas is not JSON/);
  });
});

describe('bad input: one line, a meaningful exit code, and dev keeps running', () => {
  it('unknown task → 2, naming the known tasks', async () => {
    const r = await run('call', 'nope', '1');
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /no task "nope"; its tasks are: add, sum, slow, fail, crash, poison/);
  });

  it('unparsable JSON args → 2; wrong arity → 2 (refused before sending)', async () => {
    const bad = await run('call', 'sum', '[1, 2');
    expect(bad.code).toBe(2);
    expectOneLine(bad.stderr, /argument 1 \(\[1, 2\) looks like JSON but does not parse/);
    const arity = await run('call', 'add', '1');
    expect(arity.code).toBe(2);
    expectOneLine(arity.stderr, /add\(\) takes 2 argument\(s\) but 1 were given/);
    const extra = await run('call', 'add', '1', '2', '3');
    expect(extra.code).toBe(2);
    expectOneLine(extra.stderr, /add\(\) takes 2 argument\(s\) but 3 were given; call it with 2$/);
  });

  it('unknown id → 3; unknown queue → 3; bad options → 2', async () => {
    const [id, queue, opt, countdown] = await Promise.all([
      run('result', 'no-such-id'),
      run('purge', 'nope'),
      run('inspect', '--bogus'),
      run('call', 'add', '1', '2', '--countdown', 'soon'),
    ]);
    expect(id.code).toBe(3);
    expectOneLine(id.stderr, /no task no-such-id/);
    expect(queue.code).toBe(3);
    expectOneLine(queue.stderr, /no queue "nope"; queues are: default, poison/);
    expect(opt.code).toBe(2);
    expectOneLine(opt.stderr, /unknown option '--bogus'/);
    expect(countdown.code).toBe(2);
    expectOneLine(countdown.stderr, /--countdown must be a non-negative number/);
  });

  it('garbage sent to the API is refused and dev keeps serving', async () => {
    const res = await fetch(`${dev.url}/api/call`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"task":' });
    expect(res.status).toBe(400);
    const cross = await fetch(`${dev.url}/api/call`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"task":"add"}' });
    expect(cross.status).toBe(415);
    const r = await run('call', 'add', '1', '2', '--wait');
    expect(r.stdout.trim()).toBe('3');
  });

  it('an error thrown outside any task (a stray timer) is reported and dev keeps running', async () => {
    const crashed = await run('call', 'crash', '--wait');
    expect(crashed.stdout.trim()).toBe('returned');
    await dev.proc.waitFor(/unhandled error \(still running\): Error: thrown from a timer/);
    const r = await run('call', 'add', '2', '2', '--wait');
    expect(r.stdout.trim()).toBe('4');
  });

  it('every command has --help with the exit codes', async () => {
    const results = await Promise.all(['dev', 'call', 'result', 'inspect', 'purge', 'redrive', 'events'].map((c) => run(c, '--help')));
    for (const r of results) {
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Exit codes:');
      expect(r.stdout).toContain('124');
    }
  });
});

describe('queues', () => {
  it('inspect shows queues with DLQ depth and recent tasks with state and duration', async () => {
    const json = await run('inspect', '--json');
    expect(json.code).toBe(0);
    const data = JSON.parse(json.stdout);
    expect(data.target).toBe('local');
    expect(data.queues.map((q: { name: string }) => q.name)).toEqual(['default', 'poison']);
    expect(data.queues[1]).toMatchObject({ name: 'poison', dlq: { name: 'clitest-poison-dlq' } });
    const adds = data.tasks.filter((t: { task: string; state: string }) => t.task === 'add' && t.state === 'SUCCESS');
    expect(adds.length).toBeGreaterThan(0);
    expect(typeof adds[0].durationMs).toBe('number');
    const text = await run('inspect');
    expect(text.stdout).toMatch(/QUEUE\s+VISIBLE\s+IN FLIGHT\s+DELAYED\s+DLQ\s+DLQ DEPTH/);
    expect(text.stdout).toMatch(/poison\s+0\s+0\s+0\s+clitest-poison-dlq/);
    expect(text.stdout).toMatch(/RECENT TASKS/);
    expect(text.stdout).toMatch(/FAILURE\s+fail\s+\S+\s+\d+ ms\s+TypeError: failed on purpose/);
  });

  it('purge drops waiting messages', async () => {
    await run('call', 'add', '5', '5', '--countdown', '60');
    const before = JSON.parse((await run('inspect', '--json')).stdout);
    expect(before.queues[0].delayed).toBeGreaterThan(0);
    const purged = await run('purge', 'default');
    expect(purged.code).toBe(0);
    expect(purged.stdout.trim()).toBe('purged default');
    const after = JSON.parse((await run('inspect', '--json')).stdout);
    expect(after.queues[0]).toMatchObject({ visible: 0, delayed: 0 });
  });

  it('redrive moves DLQ messages back; the redriven task then succeeds', async () => {
    const id = (await run('call', 'poison', 'p1')).stdout.trim();
    await eventually(async () => {
      const q = JSON.parse((await run('inspect', '--json')).stdout).queues[1];
      return q.dlq.visible === 1;
    }, 15_000);
    const r = await run('redrive', 'poison', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ queue: 'poison', dlq: 'clitest-poison-dlq', moved: 1 });
    const done = await run('result', id, '--wait', '--timeout', '10');
    expect(done.code).toBe(0);
    expect(done.stdout.trim()).toBe('cured p1 after 3 deliveries');
    const empty = await run('redrive', 'poison');
    expect(empty.stdout.trim()).toBe('moved 0 messages from clitest-poison-dlq to poison');
  });
});

describe('events', () => {
  it('lists recent lifecycle events (text and --json)', async () => {
    const json = await run('events', '--json', '--limit', '500');
    expect(json.code).toBe(0);
    const events = lines(json.stdout).map((l) => JSON.parse(l));
    expect(events.some((e) => e.detailType === 'task-succeeded' && e.detail.task === 'add')).toBe(true);
    expect(events.some((e) => e.detailType === 'task-failed' && e.detail.task === 'fail')).toBe(true);
    const text = await run('events', '--limit', '500');
    expect(text.stdout).toMatch(/\d\d:\d\d:\d\d\.\d{3} task-failed fail\[\S+\] FAILURE \d+ ms TypeError: failed on purpose/);
  });

  it('--follow prints new events as they happen', async () => {
    const follow = start(['events', '--follow', '--json', '--max', '1', '--timeout', '15'], { cwd: dev.cwd });
    await follow.waitFor(/following events/);
    await run('call', 'add', '20', '22');
    expect(await follow.exited()).toBe(0);
    const [event] = lines(follow.stdout()).map((l) => JSON.parse(l));
    expect(event).toMatchObject({ detailType: 'task-succeeded', detail: { task: 'add', result: 42, state: 'SUCCESS' } });
  });
});

describe('dev and targets: bad setups', () => {
  it('an app module that does not export an app, or does not exist → 2', async () => {
    const cwd = tempDir();
    try {
      const [noApp, missing] = await Promise.all([
        cli(['dev', NO_APP, '--mode', 'memory', '--port', '0'], { cwd }),
        cli(['dev', 'nowhere/app.ts', '--mode', 'memory'], { cwd }),
      ]);
      expect(noApp.code).toBe(2);
      expectOneLine(noApp.stderr, /does not export an app; add `export const app = createApp/);
      expect(missing.code).toBe(2);
      expectOneLine(missing.stderr, /app module nowhere\/app.ts not found/);
    } finally {
      removeDir(cwd);
    }
  });

  it('a syntax error in the app module (TypeScript, or a module it imports, or JavaScript) → 2, naming file, line and message', async () => {
    const cwd = tempDir();
    try {
      writeFileSync(
        join(cwd, 'app.ts'),
        "import { createApp } from 'celeriac';\nexport const app = createApp({ name: 'x' });\nconst n = (1 + ;\n",
      );
      writeFileSync(join(cwd, 'tasks.ts'), 'export const broken = {;\n');
      writeFileSync(join(cwd, 'main.ts'), "export { app } from './app';\nexport * from './tasks';\n");
      writeFileSync(join(cwd, 'app.mjs'), 'export const app = 1;\nconst n = (1 + ;\n');
      const [ts, nested, js] = await Promise.all([
        cli(['dev', 'app.ts', '--mode', 'memory', '--port', '0'], { cwd }),
        cli(['dev', 'main.ts', '--mode', 'memory', '--port', '0'], { cwd }),
        cli(['dev', 'app.mjs', '--mode', 'memory', '--port', '0'], { cwd }),
      ]);
      expect(ts.code).toBe(2);
      expectOneLine(ts.stderr, new RegExp(`app module app.ts failed to load: ${join(cwd, 'app.ts')}:3:15: ERROR: Unexpected ";"$`));
      expect(nested.code).toBe(2);
      expectOneLine(nested.stderr, new RegExp(`failed to load: ${join(cwd, 'tasks.ts')}:1:\\d+: ERROR: `));
      expect(js.code).toBe(2);
      expectOneLine(
        js.stderr,
        new RegExp(`app module app.mjs failed to load: ${join(cwd, 'app.mjs')}:2: SyntaxError: Unexpected token ';'$`),
      );
    } finally {
      removeDir(cwd);
    }
  });

  it('a port in use → 2, and the running dev is untouched', async () => {
    const cwd = tempDir();
    try {
      const r = await cli(['dev', FIXTURE_APP, '--mode', 'memory', '--port', String(dev.port)], { cwd });
      expect(r.code).toBe(2);
      expectOneLine(r.stderr, new RegExp(`port ${dev.port} is already in use.*--port`));
      expect((await run('inspect')).code).toBe(0);
    } finally {
      removeDir(cwd);
    }
  });

  it('no dev running and no stack configured → 3; missing stack outputs → 3', async () => {
    const cwd = tempDir();
    try {
      writeFileSync(join(cwd, 'outputs.json'), JSON.stringify({ ShopStack: { TableName: 'shop-table' } }));
      const [nothing, local, aws, noQueues, badUrl] = await Promise.all([
        cli(['call', 'add', '1', '2'], { cwd }),
        cli(['inspect', '--target', 'local'], { cwd }),
        cli(['inspect', '--target', 'aws'], { cwd }),
        cli(['call', 'add', '1', '2', '--outputs', 'outputs.json', '--app', FIXTURE_APP], { cwd }),
        cli(['inspect', '--dev-url', 'http://127.0.0.1:9'], { cwd }),
      ]);
      expect(nothing.code).toBe(3);
      expectOneLine(nothing.stderr, /no `celeriac dev` is running here and no stack is configured/);
      expect(local.code).toBe(3);
      expectOneLine(local.stderr, /no celeriac dev is running here/);
      expect(aws.code).toBe(3);
      expectOneLine(aws.stderr, /missing stack output: CELERIAC_TABLE/);
      expect(noQueues.code).toBe(3);
      expectOneLine(noQueues.stderr, /missing stack output: CELERIAC_QUEUE_URLS/);
      expect(badUrl.code).toBe(3);
      expectOneLine(badUrl.stderr, /not reachable/);
    } finally {
      removeDir(cwd);
    }
  });
});

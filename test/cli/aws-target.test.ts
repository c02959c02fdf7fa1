/**
 * The CLI's AWS target, against real-protocol emulators (fauxqs for SQS, dynalite for DynamoDB)
 * reached exactly as a stack is: AWS_ENDPOINT_URL_* plus a `cdk deploy --outputs-file` file.
 * The worker side is played in this process with the deployed handler (`createWorker`).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsBackend, awsBackend } from '../../lib/adapters/aws';
import { loadConfig } from '../../lib/config';
import { EMULATOR_CLIENT_CONFIG, type Emulator, ensureQueue, ensureTable, startDynalite, startFauxqs } from '../../lib/local/emulators';
import { sqsEvent } from '../../lib/local/poller';
import { createWorker } from '../../lib/worker';
import { app } from './fixtures/app';
import { cleanEnv, cli, FIXTURE_APP, removeDir, tempDir } from './helpers';

let dynamo: Emulator;
let sqs: Emulator;
let backend: AwsBackend;
let cwd: string;
let env: NodeJS.ProcessEnv;
let urls: { default: string; defaultDlq: string };

const aws = (...args: string[]) => cli([...args, '--target', 'aws', '--outputs', 'cdk-outputs.json', '--app', FIXTURE_APP], { cwd, env });

beforeAll(async () => {
  [dynamo, sqs] = await Promise.all([startDynalite(), startFauxqs()]);
  const [, def, poison] = await Promise.all([
    ensureTable(dynamo.endpoint, 'clitest-results'),
    ensureQueue(sqs.endpoint, 'clitest-default', { dlqName: 'clitest-default-dlq', maxReceiveCount: 3 }),
    ensureQueue(sqs.endpoint, 'clitest-poison', { dlqName: 'clitest-poison-dlq', maxReceiveCount: 2 }),
  ]);
  urls = { default: def.url, defaultDlq: def.dlqUrl as string };
  const queueUrls = { default: def.url, poison: poison.url };
  const dlqUrls = { default: def.dlqUrl, poison: poison.dlqUrl };
  cwd = tempDir();
  // As `cdk deploy --outputs-file` writes it: CfnOutput ids, one of them with CDK's hash suffix.
  writeFileSync(
    join(cwd, 'cdk-outputs.json'),
    JSON.stringify({
      ClitestStack: {
        AppName: 'clitest',
        TaskRunnerTableName1A2B3C4D: 'clitest-results',
        // A per-queue output of a queue named "s" must not be taken for the QueueUrls map.
        QueueUrlS: 'https://sqs.example/not-a-map',
        QueueUrls: JSON.stringify(queueUrls),
        DlqUrls: JSON.stringify(dlqUrls),
        EventsDlqUrl: 'https://sqs.example/events-dlq',
      },
    }),
  );
  env = cleanEnv({
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    AWS_REGION: 'us-east-1',
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
  });
  backend = awsBackend(
    loadConfig({
      CELERIAC_TABLE: 'clitest-results',
      CELERIAC_QUEUE_URLS: JSON.stringify(queueUrls),
      CELERIAC_EVENTS: 'off',
    }),
    { endpoints: { sqs: sqs.endpoint, dynamodb: dynamo.endpoint }, clientConfig: EMULATOR_CLIENT_CONFIG },
  );
  app.use(backend);
}, 30_000);

afterAll(async () => {
  backend?.destroy();
  await Promise.all([dynamo?.stop(), sqs?.stop()]);
  if (cwd) removeDir(cwd);
});

describe('AWS target (stack outputs file, endpoints from the environment)', () => {
  it('call sends to the queue; a worker runs it; result reads DynamoDB', async () => {
    const called = await aws('call', 'add', '2', '3');
    expect(called.stderr).toBe('');
    expect(called.code).toBe(0);
    const id = called.stdout.trim();

    const pending = await aws('result', id);
    expect(pending.code).toBe(3);
    expect(pending.stderr).toMatch(/^celeriac: no task .*--wait/);

    const inspect = JSON.parse((await aws('inspect', '--json')).stdout);
    expect(inspect).toMatchObject({ target: 'aws', tasks: null });
    expect(inspect.queues.find((q: { name: string }) => q.name === 'default')).toMatchObject({
      visible: 1,
      dlq: { name: 'clitest-default-dlq', visible: 0 },
    });

    // The deployed handler, fed as the event source mapping would.
    const msgs = await backend.broker.receive('default', { max: 10, visibilityTimeoutSeconds: 30, waitMs: 1_000 });
    const res = await createWorker(app, { queueName: () => 'default' })(sqsEvent('clitest-default', msgs));
    expect(res.batchItemFailures).toEqual([]);
    await backend.broker.delete(
      'default',
      msgs.map((m) => m.receiptHandle),
    );

    const done = await aws('result', id, '--wait', '--json');
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ id, task: 'add', state: 'SUCCESS', result: 5, ready: true });
  });

  it("call --idempotency-key claims the key in the stack's table: the second call prints the first id", async () => {
    const first = await aws('call', 'add', '1', '1', '--idempotency-key', 'aws-cli-once');
    expect(first.code).toBe(0);
    const second = await aws('call', 'add', '1', '1', '--idempotency-key', 'aws-cli-once');
    expect(second.stdout.trim()).toBe(first.stdout.trim());
    const msgs = await backend.broker.receive('default', { max: 10, visibilityTimeoutSeconds: 30, waitMs: 500 });
    expect(msgs.map((m) => m.body).filter((b) => b.includes(first.stdout.trim()))).toHaveLength(1);
    await backend.broker.delete(
      'default',
      msgs.map((m) => m.receiptHandle),
    );
  });

  it('redrive moves DLQ messages back; purge empties a queue or its DLQ', async () => {
    await backend.broker.send([
      { queue: urls.defaultDlq, id: 'dead-1', body: JSON.stringify({ task: 'add', args: [1, 1] }) },
      { queue: urls.defaultDlq, id: 'dead-2', body: JSON.stringify({ task: 'add', args: [2, 2] }) },
    ]);
    const moved = await aws('redrive', 'default', '--json');
    expect(moved.code).toBe(0);
    expect(JSON.parse(moved.stdout)).toEqual({ queue: 'default', dlq: 'clitest-default-dlq', moved: 2 });
    expect(await backend.broker.depth('default')).toMatchObject({ visible: 2 });

    const purged = await aws('purge', 'default');
    expect(purged.stdout.trim()).toBe('purged default');
    expect(await backend.broker.depth('default')).toMatchObject({ visible: 0 });

    await backend.broker.send([{ queue: urls.defaultDlq, id: 'dead-3', body: '{}' }]);
    const dlq = await aws('purge', 'default', '--dlq');
    expect(dlq.stdout.trim()).toBe('purged clitest-default-dlq');
    expect(await backend.broker.depth(urls.defaultDlq)).toMatchObject({ visible: 0 });
  });

  it('refuses what it cannot do, in one line: unknown task (2), unknown queue (3), event history (2)', async () => {
    const [task, queue, events] = await Promise.all([aws('call', 'nope'), aws('redrive', 'nope'), aws('events')]);
    expect(task.code).toBe(2);
    expect(task.stderr.trim()).toMatch(/^celeriac: app "clitest" has no task "nope"/);
    expect(queue.code).toBe(3);
    expect(queue.stderr.trim()).toMatch(/^celeriac: no queue "nope" in the stack outputs \(queues: default, poison\)$/);
    expect(events.code).toBe(2);
    expect(events.stderr.trim()).toMatch(/^celeriac: EventBridge keeps no event history; use `celeriac events --follow`/);
  });
});

/**
 * IAM under `celeriac up`: each function's SDK calls are checked against the policies the template
 * attaches to its role. The example stack's worker, with its role deliberately narrowed, fails as
 * the deployed worker would — AccessDenied — and `up` names the missing action and statement.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMULATOR_CLIENT_CONFIG } from '../../lib/adapters/aws/provision';
import { type RunningStack, startStack } from '../../lib/up/index';
import { ensureShopAssembly } from '../deployed/shop-assembly';
import { eventually } from './assembly-fixture';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts', import.meta.url));
/** The writes the worker stores results with, taken out of its role. */
const REMOVED = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem'];

describe('IAM: the worker with a narrowed role', () => {
  let dir: string;
  let running: RunningStack;
  const logs: string[] = [];

  beforeAll(async () => {
    const source = ensureShopAssembly();
    mkdirSync(ARTIFACTS, { recursive: true });
    dir = mkdtempSync(join(ARTIFACTS, 'up-iam-'));
    cpSync(source, dir, { recursive: true });
    const file = join(dir, 'celeriac-shop.template.json');
    const template = JSON.parse(readFileSync(file, 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: { PolicyDocument?: { Statement: { Action: string | string[] }[] } } }>;
    };
    let narrowed = 0;
    for (const r of Object.values(template.Resources)) {
      for (const st of r.Type === 'AWS::IAM::Policy' ? (r.Properties.PolicyDocument?.Statement ?? []) : []) {
        if (!Array.isArray(st.Action) || !st.Action.includes('dynamodb:PutItem')) continue;
        st.Action = st.Action.filter((a) => !REMOVED.includes(a));
        narrowed++;
      }
    }
    expect(narrowed).toBeGreaterThan(0);
    writeFileSync(file, JSON.stringify(template));
    running = await startStack({ app: dir, log: (l) => logs.push(l) });
  }, 240_000);

  afterAll(async () => {
    await running?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("fails the worker's write with AccessDenied, and up names the missing action and statement", async () => {
    const sqs = new SQSClient({ ...EMULATOR_CLIENT_CONFIG, endpoint: running.endpoints.AWS_ENDPOINT_URL_SQS });
    const url = JSON.parse(running.outputs.QueueUrls as string).default as string;
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify({ task: 'add', args: [2, 3], id: 'iam-1' }) }));
    const line = await eventually(() => logs.find((l) => l.startsWith('up: IAM: AccessDenied:')), 20_000);
    expect(line).toMatch(
      /celeriac-shop-RunnerQueuesdefaultWorker\w+ called dynamodb:(PutItem|UpdateItem|BatchWriteItem) on arn:aws:dynamodb:us-east-1:000000000000:table\/celeriac-shop-RunnerTable\w+/,
    );
    expect(line).toContain("role RunnerQueuesdefaultRole17FDA146's policies");
    expect(line).toMatch(/Missing statement: \{"Effect":"Allow","Action":"dynamodb:\w+","Resource":"arn:aws:dynamodb:[^"]+"\}/);
    // The worker itself received AWS's refusal, not a success.
    await eventually(
      () => logs.find((l) => l.includes('AccessDenied') && l.includes('celeriac-shop-RunnerQueuesdefaultWorker') && !l.startsWith('up:')),
      20_000,
    );
    sqs.destroy();
  }, 45_000);
});

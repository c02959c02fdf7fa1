/**
 * IAM under `celeriac up`: each function's SDK calls are checked against the policies the template
 * attaches to its role. The example stack's worker, with its role deliberately narrowed, fails as
 * the deployed worker would — AccessDenied — and `up` names the missing action and statement. Its
 * S3 calls are checked the same way: its app's prefix of the payload bucket (forget()'s listing
 * and batch delete included), and nothing else.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3PayloadStore } from '../../lib/adapters/aws';
import { EMULATOR_CLIENT_CONFIG, emulatorS3Config } from '../../lib/adapters/aws/provision';
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

  it("the worker's calls to the payload bucket pass its gateway for the app's prefix (the stack's grant) and are refused elsewhere", async () => {
    const bucket = running.outputs.PayloadBucketName as string;
    const worker = [...running.functions.values()].find((f) => f.spec.name.includes('RunnerQueuesdefaultWorker'));
    expect(worker?.spec.environment.CELERIAC_PAYLOAD_BUCKET).toBe(bucket);
    // The bucket exists on the emulator, under the name the stack outputs.
    const direct = new S3Client(emulatorS3Config(running.endpoints.AWS_ENDPOINT_URL_S3 as string));
    await direct.send(new HeadBucketCommand({ Bucket: bucket }));
    direct.destroy();
    // What the worker's S3 client reaches: its gateway, checking the worker's role.
    const gateway = worker?.spec.environment.AWS_ENDPOINT_URL_S3 as string;
    expect(gateway).not.toBe(running.endpoints.AWS_ENDPOINT_URL_S3);
    const s3 = new S3Client({ ...EMULATOR_CLIENT_CONFIG, endpoint: gateway });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'shop/iam-1', Body: '{"big":true}' }));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'shop/iam-1' }));
    expect(await got.Body?.transformToString()).toBe('{"big":true}');
    await expect(s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'billing/iam-1', Body: 'x' }))).rejects.toMatchObject({
      name: 'AccessDenied',
    });
    expect(logs.some((l) => l.includes(`called s3:PutObject on arn:aws:s3:::${bucket}/billing/iam-1`))).toBe(true);
    // forget()'s calls, a listing of the task's folder (s3:ListBucket) and a DeleteObjects of what
    // it lists (s3:DeleteObject per key), are within the same grant.
    const payloads = new S3PayloadStore({ client: s3, bucket, prefix: 'shop' });
    await payloads.put('iam-2/args-0-0', '"a"');
    await payloads.put('iam-2/result-x', '"b"');
    expect(await payloads.deleteUnder('iam-2')).toBe(2);
    expect(logs.filter((l) => l.startsWith('up: IAM: AccessDenied:') && l.includes('iam-2'))).toEqual([]);
    s3.destroy();
  }, 45_000);
});

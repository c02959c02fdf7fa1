/**
 * What only the bundle gets wrong: the fixture app loads a module by a computed path. Under
 * `startLocal` (the sources) the task succeeds; bundled with esbuild as the CDK construct bundles a
 * worker (ESM, node platform, a `require` banner) and run by `celeriac up`, the same call fails —
 * as it would in the deployed Lambda.
 */
import { fileURLToPath } from 'node:url';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { type AwsBackend, awsBackendFromEnv } from '../../lib/adapters/aws';
import { EMULATOR_CLIENT_CONFIG } from '../../lib/adapters/aws/provision';
import { States } from '../../lib/index';
import { startLocal } from '../../lib/local/index';
import { type RunningStack, startStack } from '../../lib/up/index';
import { eventually, type FixtureAssembly, lambda, writeAssembly } from './assembly-fixture';
import { app, greet } from './fixtures/bundled-only/app';

const WORKER = fileURLToPath(new URL('./fixtures/bundled-only/worker.ts', import.meta.url));

describe('a bundle that breaks only when bundled', () => {
  let assembly: FixtureAssembly | undefined;
  let running: RunningStack | undefined;
  let backend: AwsBackend | undefined;

  afterAll(async () => {
    backend?.destroy();
    await running?.stop();
    assembly?.remove();
  });

  it('succeeds under startLocal, from the sources', async () => {
    const local = await startLocal(app, { mode: 'memory' });
    try {
      expect(await (await greet.delay('ann')).get({ timeoutMs: 10_000 })).toBe('hello, ann');
    } finally {
      await local.stop();
    }
  });

  it('fails under celeriac up, from the bundle: the task is stored as FAILURE naming the module it could not load', async () => {
    assembly = writeAssembly(
      {
        T: {
          Type: 'AWS::DynamoDB::Table',
          Properties: {
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
            BillingMode: 'PAY_PER_REQUEST',
          },
        },
        Dlq: { Type: 'AWS::SQS::Queue', Properties: {} },
        Q: {
          Type: 'AWS::SQS::Queue',
          Properties: {
            VisibilityTimeout: 30,
            RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] }, maxReceiveCount: 3 },
          },
        },
        W: lambda('asset.worker', {
          Timeout: 10,
          MemorySize: 512,
          Environment: {
            Variables: {
              CELERIAC_APP: 'plug',
              CELERIAC_TABLE: { Ref: 'T' },
              CELERIAC_QUEUE_URLS: { 'Fn::Join': ['', ['{"default":"', { Ref: 'Q' }, '"}']] },
              CELERIAC_DLQ_URLS: { 'Fn::Join': ['', ['{"default":"', { Ref: 'Dlq' }, '"}']] },
              CELERIAC_EVENTS: 'off',
            },
          },
        }),
        M: {
          Type: 'AWS::Lambda::EventSourceMapping',
          Properties: {
            EventSourceArn: { 'Fn::GetAtt': ['Q', 'Arn'] },
            FunctionName: { Ref: 'W' },
            FunctionResponseTypes: ['ReportBatchItemFailures'],
          },
        },
      },
      {
        outputs: {
          TableName: { Value: { Ref: 'T' } },
          QueueUrls: { Value: { 'Fn::Join': ['', ['{"default":"', { Ref: 'Q' }, '"}']] } },
          AppName: { Value: 'plug' },
        },
      },
    );
    await build({
      entryPoints: [WORKER],
      outfile: `${assembly.dir}/asset.worker/index.mjs`,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node22',
      mainFields: ['module', 'main'],
      banner: { js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" },
      logLevel: 'silent',
    });
    running = await startStack({ app: assembly.dir, log: () => {} });
    backend = awsBackendFromEnv(
      {
        CELERIAC_APP: 'plug',
        CELERIAC_TABLE: running.outputs.TableName,
        CELERIAC_QUEUE_URLS: running.outputs.QueueUrls,
        ...running.endpoints,
      },
      { clientConfig: EMULATOR_CLIENT_CONFIG },
    );
    const url = (JSON.parse(running.outputs.QueueUrls as string) as { default: string }).default;
    await backend.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: url, MessageBody: JSON.stringify({ task: 'greet', args: ['ann'], id: 'bundled-1' }) }),
    );
    const record = await eventually(async () => {
      const r = await backend?.store.get('bundled-1');
      return r?.state === States.FAILURE ? r : undefined;
    }, 20_000);
    expect(JSON.stringify(record.error)).toMatch(/Cannot find module .*parts\/hello\.ts/);
  }, 40_000);
});

/**
 * The deployed suite: the example shop app (examples/shop/src/app.ts) as a client sees a deployment of it.
 * This process runs NO worker: it knows the deployment only through its CDK outputs file and the
 * AWS environment, builds the AWS backend from them (awsBackendFromEnv) and attaches it to the shop
 * app for its task names and signatures. Every result below was computed elsewhere.
 *
 * Which deployment (see ./deployment.ts):
 *
 *   CELERIAC_DEPLOYED_OUTPUTS=cdk-outputs.local.json AWS_ENDPOINT_URL=http://localhost:4566 npm run test:deployed
 *                                      LocalStack, after `npm run deploy:local`
 *   CELERIAC_DEPLOYED_OUTPUTS=cdk-outputs.json npm run test:deployed
 *                                      AWS, after `npx cdk deploy --outputs-file cdk-outputs.json`
 *   (unset)                            the synthesized example stack under `celeriac up`, started here
 *                                      in a child process — what `npm test` and CI run
 *
 * CELERIAC_DEPLOYED_STACK picks a stack when the outputs file holds several.
 */
import { randomUUID } from 'node:crypto';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { SendMessageBatchCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { add, app, charge, report, sum } from '../../examples/shop/src/app';
import { type AwsBackend, awsBackendFromEnv } from '../../lib/adapters/aws';
import { loadConfig } from '../../lib/config';
import { chain, chord, ErrorCodes, group, States } from '../../lib/index';
import { contentTag } from '../../lib/protocol/payload';
import { errbackCallId, linkCallId } from '../../lib/routing';
import { type Deployment, deployedOutputsFile, openDeployment } from './deployment';

const DEPLOYED = deployedOutputsFile() !== undefined;
/**
 * The one time budget of a spec: every wait in it shares this much. Lambda in LocalStack is slow
 * (cold starts, a container per function); `celeriac up` answers in well under a second.
 */
const WAIT_MS = DEPLOYED ? 60_000 : 10_000;
/** Result polling: a deployment's reads cost money; `celeriac up`'s do not. */
const POLL_MS = DEPLOYED ? 500 : 50;
const SPEC_TIMEOUT_MS = WAIT_MS + 5_000;

/** get() options whose timeouts all fall within one {@link WAIT_MS} budget, counted from this call. */
function budget(): () => { timeoutMs: number; intervalMs: number } {
  const deadline = Date.now() + WAIT_MS;
  return () => ({ timeoutMs: Math.max(1, deadline - Date.now()), intervalMs: POLL_MS });
}

describe(`the shop app on ${DEPLOYED ? 'the deployment in CELERIAC_DEPLOYED_OUTPUTS' : 'the synthesized stack under celeriac up'}`, () => {
  let deployment: Deployment;
  let backend: AwsBackend;
  let queueUrl: string;

  beforeAll(async () => {
    deployment = await openDeployment();
    backend = awsBackendFromEnv(deployment.env, { clientConfig: deployment.clientConfig });
    app.use(backend);
    const url = loadConfig(deployment.env).queueUrls.default;
    if (url === undefined) throw new Error(`${deployment.label}: the stack outputs have no QueueUrls.default`);
    queueUrl = url;
  }, 60_000);

  /** Keys under `prefix` in the stack's payload bucket, read with the S3 SDK as any tool would. */
  async function payloadKeys(prefix: string): Promise<string[]> {
    const env = deployment.env;
    const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
    const s3 = new S3Client({
      ...deployment.clientConfig,
      ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    });
    try {
      const out = await s3.send(new ListObjectsV2Command({ Bucket: env.CELERIAC_PAYLOAD_BUCKET, Prefix: prefix }));
      return (out.Contents ?? []).map((o) => o.Key as string);
    } finally {
      s3.destroy();
    }
  }

  afterAll(async () => {
    backend?.destroy();
    await deployment?.close();
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      const logs = deployment?.logs();
      if (logs) console.error(`── ${deployment.label}, recent output ──\n${logs}`);
    });
  });

  it(
    'delay: the deployed worker runs add(2, 3) and get() reads 5 from the results table',
    async () => {
      const within = budget();
      const r = await add.delay(2, 3);

      expect(await r.get(within())).toBe(5);
      expect(await backend.store.get(r.id)).toMatchObject({ state: States.SUCCESS, task: 'add', result: 5 });
    },
    SPEC_TIMEOUT_MS,
  );

  it(
    'chain: add(2, 3) → add(4) → report() returns "total=9", each step stored',
    async () => {
      const within = budget();
      const r = await chain(add.s(2, 3), add.s(4), report.s()).applyAsync();

      expect(await r.get(within())).toBe('total=9');
      expect(await r.parent?.get(within())).toBe(9);
      expect(await r.parent?.parent?.get(within())).toBe(5);
    },
    SPEC_TIMEOUT_MS,
  );

  it(
    'chord: the body sum() receives every header result of the group of adds',
    async () => {
      const within = budget();
      const r = await chord(group(add.s(1, 1), add.s(2, 2), add.s(3, 3), add.s(4, 4)), sum.s()).applyAsync();

      expect(await r.get(within())).toBe(20);
    },
    SPEC_TIMEOUT_MS,
  );

  it(
    'static link: when report succeeds, the deployed rule calls notify with its result under linkCallId',
    async () => {
      const within = budget();
      const r = await report.delay(42);
      expect(await r.get(within())).toBe('total=42');

      const notified = app.asyncResult<string>(linkCallId(r.id, 'notify'));
      expect(await notified.get(within())).toBe('notified: total=42');
      expect(await backend.store.get(notified.id)).toMatchObject({ state: States.SUCCESS, task: 'notify', parentId: r.id });
    },
    SPEC_TIMEOUT_MS,
  );

  it(
    'static error link: when charge fails (amount over 1000), the deployed rule calls refund with the failed id under errbackCallId',
    async () => {
      const within = budget();
      const r = await charge.delay({ id: 'order-7', amount: 5_000 });
      await expect(r.get(within())).rejects.toMatchObject({ name: 'RangeError', message: expect.stringContaining('over the limit') });

      const refunded = app.asyncResult<string>(errbackCallId(r.id, 'refund'));
      expect(await refunded.get(within())).toBe(`refund opened for ${r.id}`);
      expect(await backend.store.get(r.id)).toMatchObject({ state: States.FAILURE, task: 'charge' });
    },
    SPEC_TIMEOUT_MS,
  );

  it(
    "large payloads: a 400 KB argument travels by reference in the stack's bucket through a chain and its static link",
    async () => {
      const within = budget();
      // 50,000 numbers of 7 characters: about 400 KB of JSON, over the 64 KiB threshold and SQS's 256 KiB message.
      const numbers = Array.from({ length: 50_000 }, (_, i) => 100_000 + i);
      const total = numbers.reduce((a, b) => a + b, 0);
      const r = await chain(sum.s(numbers), add.s(1), report.s()).applyAsync();

      expect(await r.get(within())).toBe(`total=${total + 1}`);
      const first = r.parent?.parent?.id as string;
      // The argument went by reference: it is an object under the app's prefix in the stack's bucket.
      expect(await payloadKeys(`shop/${first}/`)).toEqual([`shop/${first}/args-0-0-${contentTag(JSON.stringify(numbers))}`]);
      const notified = app.asyncResult<string>(linkCallId(r.id, 'notify'));
      expect(await notified.get(within())).toBe(`notified: total=${total + 1}`);
    },
    SPEC_TIMEOUT_MS,
  );

  it(
    'a plain JSON call sent straight to the queue URL with the SQS SDK is run and stored as SUCCESS under its id',
    async () => {
      const within = budget();
      const id = randomUUID();
      await backend.clients.sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ task: 'add', args: [2, 3], id }) }),
      );

      expect(await app.asyncResult<number>(id).get(within())).toBe(5);
      expect(await backend.store.get(id)).toMatchObject({ state: States.SUCCESS, task: 'add', result: 5 });
    },
    SPEC_TIMEOUT_MS,
  );

  it(
    'idempotency key: 10 concurrent applyAsync calls with one key share one handle, and a plain JSON call with the key is stored as its duplicate',
    async () => {
      const within = budget();
      const idempotencyKey = `order-${randomUUID()}`;
      const handles = await Promise.all(Array.from({ length: 10 }, () => add.applyAsync([7, 8], { idempotencyKey })));
      const first = handles[0]?.id as string;
      expect(handles.map((h) => h.id)).toEqual(handles.map(() => first));
      expect(await handles[9]?.get(within())).toBe(15);

      const dup = randomUUID();
      await backend.clients.sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify({ task: 'add', args: [7, 8], id: dup, idempotencyKey }) }),
      );
      await expect(app.asyncResult(dup).get(within())).rejects.toMatchObject({ code: ErrorCodes.TASK_REVOKED });
      expect(await backend.store.get(dup)).toMatchObject({
        state: States.REVOKED,
        revokedBy: 'duplicate',
        error: { details: { duplicateOf: first, idempotencyKey } },
      });
    },
    SPEC_TIMEOUT_MS,
  );

  it(
    'a body that is not JSON is stored as FAILURE (MALFORMED_JSON) under its SQS message id, and its valid neighbour in the batch succeeds',
    async () => {
      const within = budget();
      const neighbour = randomUUID();
      const sent = await backend.clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: [
            { Id: 'malformed', MessageBody: '{"task":"add","args":[2,' },
            { Id: 'neighbour', MessageBody: JSON.stringify({ task: 'add', args: [20, 22], id: neighbour }) },
          ],
        }),
      );
      expect(sent.Failed ?? []).toEqual([]);
      const messageId = sent.Successful?.find((e) => e.Id === 'malformed')?.MessageId;
      expect(messageId).toEqual(expect.any(String));

      // The worker acks it (no redelivery, no DLQ) after storing the failure: get() re-raises it.
      await expect(app.asyncResult(messageId as string).get(within())).rejects.toMatchObject({ code: ErrorCodes.MALFORMED_JSON });
      expect(await backend.store.get(messageId as string)).toMatchObject({
        state: States.FAILURE,
        error: { code: ErrorCodes.MALFORMED_JSON, retryable: false },
      });
      expect(await app.asyncResult<number>(neighbour).get(within())).toBe(42);
    },
    SPEC_TIMEOUT_MS,
  );
});

/**
 * `localstack` mode's backend: the SQS, DynamoDB and S3 (large payloads) of a running LocalStack
 * (or any AWS-compatible endpoints), reached through the AWS adapters. The server is not this
 * run's: it is neither started nor stopped here.
 */
import type { AwsBackend } from '../../adapters/aws';
import { serializeError } from '../../protocol/failure';
import type { LocalQueue } from '../queues';
import type { StartLocalOptions } from '../types';
import { type AwsServices, startAwsBackend } from './aws';
import type { BackendContext, LocalBackend } from './backend';

/** The endpoint `localstack` mode uses when none is given. */
const DEFAULT_ENDPOINT = 'http://localhost:4566';

/** Starts `localstack` mode's backend on `options.endpoint(s)`, with the app's queues purged. */
export function startLocalstackBackend(ctx: BackendContext): Promise<LocalBackend> {
  return startAwsBackend(ctx, { kind: 'localstack', startServices: (ctx) => localstackServices(ctx.options), prepare: purgeQueues });
}

/** The configured endpoints: per service over `endpoint` (as `AWS_ENDPOINT_URL_<SERVICE>` over `AWS_ENDPOINT_URL`). */
export function localstackServices(options: Pick<StartLocalOptions, 'endpoint' | 'endpoints'>): Promise<AwsServices> {
  const endpoint = options.endpoint ?? DEFAULT_ENDPOINT;
  const per = options.endpoints;
  // S3 is where `endpoint` is (given, or LocalStack's default for every service); endpoints named
  // for SQS and DynamoDB alone are not LocalStack's edge, and payloads then stay unconfigured.
  const onEdge = options.endpoint !== undefined || (per?.sqs === undefined && per?.dynamodb === undefined);
  const s3 = per?.s3 ?? (onEdge ? endpoint : undefined);
  return Promise.resolve({ dynamodb: per?.dynamodb ?? endpoint, sqs: per?.sqs ?? endpoint, ...(s3 !== undefined ? { s3 } : {}) });
}

/** A shared LocalStack keeps queues between runs: start from empty ones (a purge that fails is logged, not fatal). */
async function purgeQueues(ctx: BackendContext, aws: AwsBackend, queues: readonly LocalQueue[]): Promise<void> {
  await Promise.all(
    queues
      .flatMap((q) => [q.name, q.dlqRef])
      .map((q) =>
        aws.broker.purge(q).catch((e: unknown) => ctx.logger.warn(`could not purge ${q} before the run`, { error: serializeError(e) })),
      ),
  );
}

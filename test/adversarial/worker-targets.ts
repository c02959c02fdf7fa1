/**
 * Where the worker's adversarial specs run: the integration targets (memory, emulated, or what
 * CELERIAC_TARGET names) and Amazon's DynamoDB Local (the real DynamoDB engine, with fauxqs for
 * SQS), started once for the file that asks and stopped after it. Without Java, DynamoDB Local is
 * left out with one line.
 */
import { afterAll, beforeAll } from 'vitest';
import { type Emulator, type StartLocalOptions, startFauxqs } from '../../lib/local';
import { javaAvailable, startDynamoDbLocal } from '../helpers/dynamodb-local';
import { targets } from '../integration/targets';

export interface WorkerTarget {
  readonly name: string;
  /** What `startLocal` takes for this target (read once the file's emulators are up). */
  readonly options: StartLocalOptions;
}

/** The targets of one spec file; registers the file's DynamoDB Local start and stop. */
export function workerTargets(): WorkerTarget[] {
  const base: WorkerTarget[] = targets();
  if (!javaAvailable) {
    console.log('[adversarial] dynamodb-local target not run: no Java runtime on PATH');
    return base;
  }
  let emulators: Emulator[] = [];
  let endpoints: { dynamodb: string; sqs: string; s3: string } | undefined;
  beforeAll(async () => {
    const [ddb, sqs] = await Promise.all([startDynamoDbLocal(), startFauxqs()]);
    emulators = [ddb, sqs];
    // fauxqs serves S3 on its SQS port: the large payloads go there, as LocalStack's would.
    endpoints = { dynamodb: ddb.endpoint, sqs: sqs.endpoint, s3: sqs.endpoint };
  }, 120_000);
  afterAll(async () => {
    for (const e of emulators) await e.stop();
  });
  return [
    ...base,
    {
      name: 'dynamodb-local',
      get options(): StartLocalOptions {
        if (endpoints === undefined) throw new Error('DynamoDB Local is not up yet (options are read inside a spec)');
        return { mode: 'localstack', endpoints };
      },
    },
  ];
}

/**
 * `emulated` mode's backend (the default): real-protocol stand-ins in this process on free
 * loopback ports — dynalite (DynamoDB) and fauxqs (SQS, and S3 for large payloads) — reached
 * through the AWS adapters.
 */
import { startDynalite, startFauxqs } from '../emulators';
import { runStopSequence, stopStep } from '../stop';
import { type AwsServices, startAwsBackend } from './aws';
import type { BackendContext, LocalBackend } from './backend';

/** Starts `emulated` mode's backend: both emulators, then the AWS adapters on them. */
export function startEmulatedBackend(ctx: BackendContext): Promise<LocalBackend> {
  return startAwsBackend(ctx, { kind: 'emulated', startServices: startEmulators });
}

/** Starts dynalite and fauxqs side by side; if either fails, the other is stopped before the error is thrown. */
async function startEmulators(ctx: BackendContext): Promise<AwsServices> {
  // Settled, not all(): when one emulator fails to start, the other is stopped too rather than
  // left listening (and holding the process open).
  const [dynamo, sqs] = await Promise.allSettled([startDynalite(), startFauxqs()]);
  const stop = (): Promise<void> =>
    runStopSequence(
      [
        stopStep('fauxqs', sqs.status === 'fulfilled' ? sqs.value : undefined, (e) => e.stop()),
        stopStep('dynalite', dynamo.status === 'fulfilled' ? dynamo.value : undefined, (e) => e.stop()),
      ],
      ctx.onStopError,
    );
  if (dynamo.status === 'rejected') {
    await stop();
    throw dynamo.reason;
  }
  if (sqs.status === 'rejected') {
    await stop();
    throw sqs.reason;
  }
  // fauxqs serves S3 on the same endpoint as SQS: large payloads go there (README, "Large payloads").
  return { dynamodb: dynamo.value.endpoint, sqs: sqs.value.endpoint, s3: sqs.value.endpoint, stop };
}

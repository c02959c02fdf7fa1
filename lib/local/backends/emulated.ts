/**
 * `emulated` mode's backend (the default): real-protocol stand-ins on free loopback ports —
 * dynalite (DynamoDB) and fauxqs (SQS, and S3 on the same port) — reached through the AWS
 * adapters. The emulators run in a thread of their own (see `startEmulatorThread`), so the worker
 * and the emulators each have a core.
 */
import { serializeError } from '../../protocol/failure';
import { startEmulatorThread } from '../emulators';
import { type AwsServices, startAwsBackend } from './aws';
import type { BackendContext, LocalBackend } from './backend';

/** Starts `emulated` mode's backend: the emulator thread, then the AWS adapters on it. */
export function startEmulatedBackend(ctx: BackendContext): Promise<LocalBackend> {
  return startAwsBackend(ctx, { kind: 'emulated', startServices: startEmulators });
}

/** Starts the emulator thread; a crash after start is reported (requests then fail, and say so). */
async function startEmulators(ctx: BackendContext): Promise<AwsServices> {
  const emulators = await startEmulatorThread({
    onCrash: (e) =>
      ctx.logger.error('local mode: the emulator thread (dynalite, fauxqs) failed; SQS and DynamoDB calls will fail', {
        error: serializeError(e),
      }),
  });
  // fauxqs serves S3 on the same endpoint as SQS: large payloads go there (README, "Large payloads").
  return { dynamodb: emulators.dynamodb, sqs: emulators.sqs, s3: emulators.s3, stop: () => emulators.stop() };
}

/**
 * A stand-in deployment of the example app (examples/shop/src/app.ts), for the deployed suite when no
 * real deployment is given (CI cannot run LocalStack). Run as a child process:
 *
 *   node --import tsx test/deployed/stand-in.ts <dir>
 *
 * It runs `startLocal(app, { mode: 'emulated' })` — dynalite, fauxqs, the PutEvents endpoint, the
 * pollers invoking the deployed worker handler, the bus evaluating the deployed rules — and writes
 * what a client of a deployment has:
 *
 * - `<dir>/cdk-outputs.json`, as `cdk deploy --outputs-file` writes it (the output keys of
 *   cdk/stack.ts; there is no events DLQ locally, so no `EventsDlqUrl`);
 * - `<dir>/endpoints.json`: the emulators' endpoints as `AWS_ENDPOINT_URL_<SERVICE>` variables,
 *   plus `AWS_REGION` — kept out of the outputs file, as a real deployment's endpoint comes from
 *   the environment, not from the stack.
 *
 * Then it prints {@link READY} and serves until SIGTERM/SIGINT or until its stdin closes (the
 * parent died), when it stops the runtime and exits.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { app } from '../../examples/shop/src/app';
import { EMULATOR_CLIENT_CONFIG, startLocal } from '../../lib/local';

/** The line printed once both files are written. */
export const READY = 'celeriac stand-in deployment ready';
export const OUTPUTS_FILE = 'cdk-outputs.json';
export const ENDPOINTS_FILE = 'endpoints.json';
/** The stack name examples/shop/infra/shop-stack.ts gives the example app's stack (`celeriac-<app>`). */
export const STACK_NAME = `celeriac-${app.name}`;

async function main(dir: string): Promise<void> {
  const local = await startLocal(app, { mode: 'emulated', root: fileURLToPath(new URL('../../examples/shop', import.meta.url)) });
  let stopping: Promise<void> | undefined;
  const stop = (code: number): Promise<void> => {
    stopping ??= (async () => {
      // Never outlive the parent by long, even if a component hangs while stopping.
      setTimeout(() => process.exit(code), 5_000).unref();
      await local.stop().catch(() => {});
      process.exit(code);
    })();
    return stopping;
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  process.stdin.on('end', () => void stop(0));
  process.stdin.on('close', () => void stop(0));
  process.stdin.resume();

  const r = local.resources;
  const outputs = {
    [STACK_NAME]: {
      AppName: r.app,
      TableName: r.table,
      BusName: r.bus,
      QueueUrls: JSON.stringify(r.queueUrls),
      DlqUrls: JSON.stringify(r.dlqUrls),
    },
  };
  const endpoints = {
    AWS_ENDPOINT_URL_SQS: local.endpoints.sqs,
    AWS_ENDPOINT_URL_DYNAMODB: local.endpoints.dynamodb,
    AWS_ENDPOINT_URL_EVENTBRIDGE: local.endpoints.eventbridge,
    AWS_REGION: EMULATOR_CLIENT_CONFIG.region,
  };
  writeFileSync(join(dir, OUTPUTS_FILE), `${JSON.stringify(outputs, null, 2)}\n`);
  writeFileSync(join(dir, ENDPOINTS_FILE), `${JSON.stringify(endpoints, null, 2)}\n`);
  process.stdout.write(`${READY}\n`);
}

// Only as the entry point: the harness imports the constants above.
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2];
  if (dir === undefined) {
    process.stderr.write('usage: node --import tsx test/deployed/stand-in.ts <dir>\n');
    process.exit(2);
  }
  main(dir).catch((e: unknown) => {
    process.stderr.write(`stand-in deployment failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
}

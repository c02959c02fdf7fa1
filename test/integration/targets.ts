/**
 * Which runtimes the integration suite runs against, chosen by ONE variable:
 *
 *   CELERIAC_TARGET=memory | emulated | localstack   (a comma-separated list works too)
 *
 * Default: memory and emulated. `localstack` needs a running LocalStack at AWS_ENDPOINT_URL
 * (default http://localhost:4566; AWS_ENDPOINT_URL_SQS / _DYNAMODB / _S3 override it per
 * service). This file is the only place that knows the targets apart: the
 * tests themselves run the same code against each.
 */
import type { LocalMode, StartLocalOptions } from '../../lib/local';

export interface Target {
  readonly name: LocalMode;
  /** Options for startLocal; tests spread their own on top. */
  readonly options: StartLocalOptions;
}

const ALL: readonly LocalMode[] = ['memory', 'emulated', 'localstack'];

export function targets(env: Readonly<Record<string, string | undefined>> = process.env): Target[] {
  const raw = env.CELERIAC_TARGET?.trim();
  const names = raw ? raw.split(',').map((s) => s.trim()) : ['memory', 'emulated'];
  return names.map((name) => {
    if (!ALL.includes(name as LocalMode)) throw new Error(`CELERIAC_TARGET: unknown target "${name}" (use ${ALL.join(', ')})`);
    const mode = name as LocalMode;
    return {
      name: mode,
      options:
        mode === 'localstack'
          ? {
              mode,
              endpoint: env.AWS_ENDPOINT_URL ?? 'http://localhost:4566',
              endpoints: {
                ...(env.AWS_ENDPOINT_URL_SQS ? { sqs: env.AWS_ENDPOINT_URL_SQS } : {}),
                ...(env.AWS_ENDPOINT_URL_DYNAMODB ? { dynamodb: env.AWS_ENDPOINT_URL_DYNAMODB } : {}),
                ...(env.AWS_ENDPOINT_URL_S3 ? { s3: env.AWS_ENDPOINT_URL_S3 } : {}),
              },
            }
          : { mode },
    };
  });
}

/** A logger that keeps what local mode and the worker report, so a test can assert nothing went wrong. */
export function recordingLogger() {
  const errors: { msg: string; extra?: Record<string, unknown> }[] = [];
  return {
    errors,
    debug() {},
    info() {},
    warn() {},
    error(msg: string, extra?: Record<string, unknown>) {
      errors.push({ msg, ...(extra === undefined ? {} : { extra }) });
    },
  };
}

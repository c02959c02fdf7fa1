import { CeleriacError, ErrorCodes } from './errors';

/**
 * Environment keys shared by the CDK stack (which sets them on every function) and the runtime
 * (which reads them here, and only here). Renaming one is a breaking change for deployed stacks.
 */
export const ENV = {
  /** App name: the EventBridge source is `celeriac.<app>`. */
  app: 'CELERIAC_APP',
  /** DynamoDB table holding results, plans, joins. */
  table: 'CELERIAC_TABLE',
  /** EventBridge bus name (or ARN) for lifecycle events. */
  bus: 'CELERIAC_BUS',
  /** JSON object: logical queue name → SQS queue URL. */
  queueUrls: 'CELERIAC_QUEUE_URLS',
  /** JSON object: logical queue name → DLQ URL (CLI redrive, inspect). */
  dlqUrls: 'CELERIAC_DLQ_URLS',
  /** `on` (default) or `off`: publish lifecycle events at all. */
  events: 'CELERIAC_EVENTS',
  /** Seconds results live (DynamoDB TTL). 0 = forever. Default 86400 (Celery's result_expires). */
  resultTtl: 'CELERIAC_RESULT_TTL_SECONDS',
  /** Plans (workflow graphs) at or under this many bytes travel inline in messages. */
  inlinePlanBytes: 'CELERIAC_INLINE_PLAN_BYTES',
  /** EventBridge Scheduler group for periodic tasks and for delays past 15 minutes. */
  schedulerGroup: 'CELERIAC_SCHEDULER_GROUP',
  /** Role EventBridge Scheduler assumes to send to the app's queues. */
  schedulerRoleArn: 'CELERIAC_SCHEDULER_ROLE_ARN',
  /** Log level for the worker: debug | info | warn | error. */
  logLevel: 'CELERIAC_LOG_LEVEL',
  /** CloudWatch namespace of the worker's task metrics (EMF lines); unset = no metrics. */
  metricsNamespace: 'CELERIAC_METRICS_NAMESPACE',
  /**
   * S3 bucket of large payloads (README, "Large payloads"); keys are `<app>/…` (CELERIAC_APP).
   * Unset: values over the limits are refused (MESSAGE_TOO_LARGE / RESULT_TOO_LARGE).
   */
  payloadBucket: 'CELERIAC_PAYLOAD_BUCKET',
} as const;

export interface CeleriacConfig {
  readonly app: string | undefined;
  readonly table: string | undefined;
  readonly bus: string | undefined;
  readonly queueUrls: Readonly<Record<string, string>>;
  readonly dlqUrls: Readonly<Record<string, string>>;
  readonly events: boolean;
  readonly resultTtlSeconds: number;
  readonly inlinePlanBytes: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** `AWS_ENDPOINT_URL` when set (LocalStack, emulators); service-specific ones are read by the SDK itself. */
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
  /** EventBridge Scheduler group and role for delays past 15 minutes; both or the worker hops. */
  readonly schedulerGroup: string | undefined;
  readonly schedulerRoleArn: string | undefined;
  /** The payload bucket (`CELERIAC_PAYLOAD_BUCKET`), when large values are offloaded. */
  readonly payloadBucket: string | undefined;
}

export const DEFAULT_RESULT_TTL_SECONDS = 86_400;
export const DEFAULT_INLINE_PLAN_BYTES = 8_192;

/**
 * Reads celeriac's configuration from an environment map. The one place that reads env: pass
 * `process.env` at the edge (a Lambda entry, the CLI), a literal in tests.
 *
 * @example
 * ```ts
 * const config = loadConfig(process.env);
 * ```
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): CeleriacConfig {
  const events = (env[ENV.events] ?? 'on').toLowerCase();
  if (events !== 'on' && events !== 'off') {
    throw new CeleriacError(ErrorCodes.CONFIG_INVALID, `${ENV.events} must be "on" or "off", got "${env[ENV.events]}"`);
  }
  const { logLevel } = appSettingsFromEnv(env);
  return {
    app: env[ENV.app],
    table: env[ENV.table],
    bus: env[ENV.bus],
    queueUrls: jsonMap(env, ENV.queueUrls),
    dlqUrls: jsonMap(env, ENV.dlqUrls),
    events: events === 'on',
    resultTtlSeconds: nonNegativeInt(env, ENV.resultTtl, DEFAULT_RESULT_TTL_SECONDS),
    inlinePlanBytes: nonNegativeInt(env, ENV.inlinePlanBytes, DEFAULT_INLINE_PLAN_BYTES),
    logLevel,
    endpoint: env.AWS_ENDPOINT_URL,
    region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    schedulerGroup: env[ENV.schedulerGroup] || undefined,
    schedulerRoleArn: env[ENV.schedulerRoleArn] || undefined,
    payloadBucket: env[ENV.payloadBucket] || undefined,
  };
}

function jsonMap(env: Readonly<Record<string, string | undefined>>, key: string): Record<string, string> {
  const raw = env[key];
  if (raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new CeleriacError(ErrorCodes.CONFIG_INVALID, `${key} must be a JSON object of queue name → URL; it is not JSON`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || Object.values(parsed).some((u) => typeof u !== 'string')) {
    throw new CeleriacError(ErrorCodes.CONFIG_INVALID, `${key} must be a JSON object of queue name → URL strings`);
  }
  return parsed as Record<string, string>;
}

function nonNegativeInt(env: Readonly<Record<string, string | undefined>>, key: string, dflt: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new CeleriacError(ErrorCodes.CONFIG_INVALID, `${key} must be a non-negative integer, got "${raw}"`);
  return n;
}

/** The settings an app takes from its process's environment (what `createApp` reads). */
export interface AppEnvSettings {
  readonly logLevel: CeleriacConfig['logLevel'];
  readonly inlinePlanBytes: number;
}

/**
 * Reads only the keys an app's own settings come from (`CELERIAC_LOG_LEVEL`,
 * `CELERIAC_INLINE_PLAN_BYTES`), so that a module creating an app is not refused for a stack
 * setting it never uses.
 *
 * @throws CeleriacError CONFIG_INVALID naming the key and the value.
 */
export function appSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): AppEnvSettings {
  const logLevel = (env[ENV.logLevel] ?? 'info').toLowerCase();
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new CeleriacError(ErrorCodes.CONFIG_INVALID, `${ENV.logLevel} must be debug, info, warn or error, got "${env[ENV.logLevel]}"`);
  }
  return {
    logLevel: logLevel as CeleriacConfig['logLevel'],
    inlinePlanBytes: nonNegativeInt(env, ENV.inlinePlanBytes, DEFAULT_INLINE_PLAN_BYTES),
  };
}

/** The settings a worker handler takes from its function's environment (what `createWorker` reads). */
export interface WorkerEnvSettings {
  /** Where task metrics go, if anywhere (`CELERIAC_METRICS_NAMESPACE`). */
  readonly metricsNamespace: string | undefined;
  /** The function's memory, MiB, where Lambda says (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`): what bounds a call's payload reads. */
  readonly memoryMb: number | undefined;
}

/** Reads only the keys the worker handler itself uses (`CELERIAC_METRICS_NAMESPACE`, and Lambda's `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`). */
export function workerSettingsFromEnv(env: Readonly<Record<string, string | undefined>>): WorkerEnvSettings {
  const memory = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  return {
    metricsNamespace: env[ENV.metricsNamespace]?.trim() || undefined,
    memoryMb: Number.isInteger(memory) && memory > 0 ? memory : undefined,
  };
}

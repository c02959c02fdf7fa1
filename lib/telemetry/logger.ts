/**
 * Structured logs. The default logger is Powertools for AWS Lambda's Logger (JSON lines with
 * `level`, `message`, `timestamp`, `service`, X-Ray trace id on Lambda): the format CloudWatch
 * Logs Insights and the Powertools tooling read, kept by AWS, and small (≈ 20 KB bundled).
 * Whatever logger the app uses, {@link withTaskFields} adds the running task's identity to each
 * line written inside a task — from the task context, so concurrent records of one batch never
 * see each other's fields.
 */
import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { Logger } from '../runtime/app-port';
import { maybeCurrentTask } from '../task/context';
import { currentInvocation } from './invocation';

/** A logger level: it writes that level and the ones above it. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Options of {@link powertoolsLogger}. */
export interface PowertoolsLoggerOptions {
  /** The `service` key of every line: the app's name. */
  readonly serviceName: string;
  /** Lowest level written. Default `info`. */
  readonly logLevel?: LogLevel;
}

/**
 * The default logger: Powertools Logger, one JSON line per entry from `logLevel` up.
 *
 * @example
 * ```ts
 * const app = createApp({ name: 'shop', logger: powertoolsLogger({ serviceName: 'shop', logLevel: 'debug' }) });
 * ```
 */
export function powertoolsLogger(options: PowertoolsLoggerOptions): Logger {
  const log = new PowertoolsLogger({ serviceName: options.serviceName, logLevel: (options.logLevel ?? 'info').toUpperCase() as 'INFO' });
  return {
    debug: (msg, extra) => log.debug(msg, extra ?? {}),
    info: (msg, extra) => log.info(msg, extra ?? {}),
    warn: (msg, extra) => log.warn(msg, extra ?? {}),
    error: (msg, extra) => log.error(msg, extra ?? {}),
  };
}

/** The fields {@link withTaskFields} adds to a line written inside a task. */
export interface TaskLogFields {
  readonly taskId: string;
  readonly task: string;
  readonly rootId: string;
  /** 1 for the first run, 2 for the first retry… (Celery's `retries` + 1). */
  readonly attempt: number;
  readonly requestId?: string;
  readonly coldStart?: boolean;
}

/** The fields of the task (and the Lambda invocation) running now, or undefined outside a task. */
export function taskLogFields(): TaskLogFields | undefined {
  const ctx = maybeCurrentTask();
  if (ctx === undefined || ctx.calledDirectly) return undefined;
  const inv = currentInvocation();
  return {
    taskId: ctx.id,
    task: ctx.task,
    rootId: ctx.rootId,
    attempt: ctx.retries + 1,
    ...(inv?.requestId !== undefined ? { requestId: inv.requestId } : {}),
    ...(inv !== undefined ? { coldStart: inv.coldStart } : {}),
  };
}

/**
 * `logger`, with the running task's id, name, root id and attempt (and the Lambda request id and
 * cold start) on every line written inside a task body or hook. A field the caller passes wins.
 */
export function withTaskFields(logger: Logger): Logger {
  const at =
    (write: Logger['info']): Logger['info'] =>
    (msg, extra) => {
      const fields = taskLogFields();
      write(msg, fields === undefined ? extra : { ...fields, ...extra });
    };
  return {
    debug: at(logger.debug.bind(logger)),
    info: at(logger.info.bind(logger)),
    warn: at(logger.warn.bind(logger)),
    error: at(logger.error.bind(logger)),
  };
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** A dependency-free logger: one JSON line (`level`, `msg`, fields) per entry on the console, from `level` up. */
export function consoleLogger(level: LogLevel = 'info'): Logger {
  const from = LEVELS.indexOf(level);
  const at = (l: LogLevel, write: (line: string) => void) =>
    LEVELS.indexOf(l) < from ? () => {} : (m: string, e?: Record<string, unknown>) => write(JSON.stringify({ level: l, msg: m, ...e }));
  return {
    debug: at('debug', (line) => console.debug(line)),
    info: at('info', (line) => console.info(line)),
    warn: at('warn', (line) => console.warn(line)),
    error: at('error', (line) => console.error(line)),
  };
}

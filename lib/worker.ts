import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { App } from './app';
import { workerSettingsFromEnv } from './config';
import { payloadReadBudget } from './protocol/limits';
import { type FaultHooks, type IncomingMessage, processMessage, WorkerRuntime, type WorkerRuntimeOptions } from './runtime/worker';
import { runInInvocation } from './telemetry/invocation';
import { type TaskMetricsOptions, taskMetrics } from './telemetry/metrics';

export interface WorkerOptions {
  /** Records processed at once within a batch. Default 10. */
  readonly concurrency?: number;
  /** Maps an SQS queue ARN (or name) to the app's logical queue name. Default: the backend's aliases, else the queue name. */
  readonly queueName?: (arn: string) => string;
  /** Fault injection for tests: throwing from a hook simulates a crash there. */
  readonly faults?: FaultHooks;
  /** See {@link WorkerRuntimeOptions.callTimeoutMs}. Default 10 s. */
  readonly callTimeoutMs?: number;
  /**
   * Most bytes of large payloads (README, "Large payloads") one call's arguments may load before
   * its body runs; a call over it is a stored FAILURE `PAYLOAD_OVER_BUDGET`, not an invocation run
   * out of memory. Default: a quarter of the function's memory (`AWS_LAMBDA_FUNCTION_MEMORY_SIZE`),
   * unbounded where that is not set (local modes).
   */
  readonly maxPayloadReadBytes?: number;
  /**
   * Task metrics as EMF lines on stdout ({@link taskMetrics}), or `false` for none. Default: on
   * when the function's environment names a namespace (`CELERIAC_METRICS_NAMESPACE`, which the
   * stack sets), off otherwise (local mode, tests).
   */
  readonly metrics?: TaskMetricsOptions | false;
}

/** The Lambda context fields the worker uses. */
export interface LambdaContextLike {
  getRemainingTimeInMillis?(): number;
  /** The invocation's request id: on every log line written inside a task. */
  readonly awsRequestId?: string;
}

/**
 * The SQS-triggered Lambda handler for an app: decodes each record, runs it, and reports only
 * the records SQS should redeliver (partial batch response; `reportBatchItemFailures` on).
 * One bad record never fails its neighbours.
 *
 * @example
 * ```ts
 * // src/worker.ts
 * import { createWorker } from 'celeriac';
 * import { app } from './app.js';
 * export const handler = createWorker(app);
 * ```
 */
export function createWorker(
  app: App,
  options: WorkerOptions = {},
): (event: SQSEvent, context?: LambdaContextLike) => Promise<SQSBatchResponse> {
  const concurrency = Math.max(1, options.concurrency ?? 10);
  const { metricsNamespace: namespace, memoryMb } = workerSettingsFromEnv(process.env);
  const runtimeOptions = {
    ...(options.callTimeoutMs !== undefined ? { callTimeoutMs: options.callTimeoutMs } : {}),
    maxPayloadReadBytes: options.maxPayloadReadBytes ?? payloadReadBudget(memoryMb),
  };
  const metrics = options.metrics ?? (namespace !== undefined ? { namespace } : false);
  if (metrics !== false) taskMetrics(app, metrics);
  let coldStart = true;
  let runtime: Promise<WorkerRuntime> | undefined;
  const getRuntime = () => {
    runtime ??= app.backend().then((b) => new WorkerRuntime(app, b, options.faults, runtimeOptions));
    runtime.catch(() => {
      runtime = undefined;
    });
    return runtime;
  };

  const handle = async (event: SQSEvent, context: LambdaContextLike | undefined): Promise<SQSBatchResponse> => {
    const rt = await getRuntime();
    const remaining = context?.getRemainingTimeInMillis?.();
    const inv = { deadline: remaining === undefined ? Number.POSITIVE_INFINITY : rt.backend.clock.now() + remaining };
    const records = event.Records ?? [];
    const failures: { itemIdentifier: string }[] = [];
    const aliases = rt.backend.queueAliases;
    // A batch comes from one queue: its name is worked out once per ARN seen, not per record.
    let lastArn: string | undefined;
    let lastQueue = '';
    const queueOf = (r: SQSRecord): string => {
      const arn = r.eventSourceARN;
      if (arn === lastArn) return lastQueue;
      const physical = arn.slice(arn.lastIndexOf(':') + 1);
      lastQueue = options.queueName ? options.queueName(arn) : (aliases?.get(physical) ?? physical);
      lastArn = arn;
      return lastQueue;
    };
    let next = 0;
    const workerLoop = async () => {
      while (next < records.length) {
        const r = records[next++] as SQSRecord;
        const attrs = r.attributes;
        const msg: IncomingMessage = {
          body: r.body,
          messageId: r.messageId,
          receiveCount: Number(attrs?.ApproximateReceiveCount ?? '1'),
          queue: queueOf(r),
          sentAt: sentAtOf(attrs?.SentTimestamp),
          awsTraceHeader: attrs?.AWSTraceHeader,
        };
        const d = await processMessage(rt, msg, inv);
        if (d === 'retry') failures.push({ itemIdentifier: r.messageId });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, records.length) }, workerLoop));
    // A throw here is a crash of the whole invocation: SQS redelivers every record of the batch.
    options.faults?.beforeResponse?.(failures.map((f) => f.itemIdentifier));
    return { batchItemFailures: failures };
  };
  return (event, context) => {
    const facts = { requestId: context?.awsRequestId, coldStart };
    coldStart = false;
    return runInInvocation(facts, () => handle(event, context));
  };
}

/** The record's SentTimestamp (epoch ms), where SQS (or local mode's poller) gave one. */
function sentAtOf(attr: string | undefined): number | undefined {
  const sentAt = Number(attr);
  return Number.isFinite(sentAt) && sentAt > 0 ? sentAt : undefined;
}

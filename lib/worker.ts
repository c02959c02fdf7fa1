import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { App } from './app';
import { type FaultHooks, type IncomingMessage, processMessage, WorkerRuntime, type WorkerRuntimeOptions } from './runtime/worker';

export interface WorkerOptions {
  /** Records processed at once within a batch. Default 10. */
  readonly concurrency?: number;
  /** Maps an SQS queue ARN (or name) to the app's logical queue name. Default: the backend's aliases, else the queue name. */
  readonly queueName?: (arn: string) => string;
  /** Fault injection for tests: throwing from a hook simulates a crash there. */
  readonly faults?: FaultHooks;
  /** See {@link WorkerRuntimeOptions.callTimeoutMs}. Default 10 s. */
  readonly callTimeoutMs?: number;
}

/** The Lambda context fields the worker uses. */
export interface LambdaContextLike {
  getRemainingTimeInMillis?(): number;
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
  let runtime: Promise<WorkerRuntime> | undefined;
  const getRuntime = () => {
    runtime ??= app
      .backend()
      .then(
        (b) =>
          new WorkerRuntime(app, b, options.faults, options.callTimeoutMs !== undefined ? { callTimeoutMs: options.callTimeoutMs } : {}),
      );
    runtime.catch(() => {
      runtime = undefined;
    });
    return runtime;
  };

  return async (event, context) => {
    const rt = await getRuntime();
    const remaining = context?.getRemainingTimeInMillis?.();
    const deadline = remaining === undefined ? Number.POSITIVE_INFINITY : rt.backend.clock.now() + remaining;
    const records = event.Records ?? [];
    const failures: { itemIdentifier: string }[] = [];
    const aliases = rt.backend.queueAliases;
    const queueOf = (r: SQSRecord): string => {
      if (options.queueName) return options.queueName(r.eventSourceARN);
      const physical = r.eventSourceARN.slice(r.eventSourceARN.lastIndexOf(':') + 1);
      return aliases?.get(physical) ?? physical;
    };
    let next = 0;
    const workerLoop = async () => {
      while (next < records.length) {
        const r = records[next++] as SQSRecord;
        const msg: IncomingMessage = {
          body: r.body,
          messageId: r.messageId,
          receiveCount: Number(r.attributes?.ApproximateReceiveCount ?? '1'),
          queue: queueOf(r),
        };
        const d = await processMessage(rt, msg, { deadline });
        if (d === 'retry') failures.push({ itemIdentifier: r.messageId });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, records.length) }, workerLoop));
    // A throw here is a crash of the whole invocation: SQS redelivers every record of the batch.
    options.faults?.beforeResponse?.(failures.map((f) => f.itemIdentifier));
    return { batchItemFailures: failures };
  };
}

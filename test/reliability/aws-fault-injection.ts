/**
 * AWS faults through the SDK itself: middleware added to the clients the app is given
 * (`awsBackend(config, { clients })`), so the adapters see exactly what AWS would send back.
 *
 * - Refused requests: a fraction of calls (any operation of DynamoDB, SQS, EventBridge) is
 *   answered without reaching the service, with a real error response the SDK deserializes —
 *   `400 ThrottlingException` or `500 InternalServerError`. Never the SDK's last attempt, and no
 *   entry or key more than twice in a row: these faults are within what the retry layers
 *   (SDK, then adapter) absorb. An outage window refuses everything, beyond that budget, so
 *   workers give records up to redelivery.
 * - Ambiguous writes (DynamoDB PutItem/UpdateItem): the request IS applied, then answered with
 *   a 500, as DynamoDB may do ("the request may or may not have succeeded"); the SDK retries it.
 * - Partial batch failures: SendMessageBatch entries are withheld from the request and reported
 *   in `Failed` (SenderFault false), BatchGetItem keys are withheld and reported in
 *   `UnprocessedKeys`; PutEvents entries are failed by the capture endpoint (`eventBridgeFailures`).
 *
 * It also measures backoff: the delay between the answer that failed an attempt and the next
 * attempt — of the same request at the SDK level (by `amz-sdk-invocation-id`, seen on the wire),
 * and of the same entry or key at the adapter level (a new request carrying it, seen as it is issued).
 */
import type { EventBridgeFailures } from '../../lib/local/emulators';
import type { Rng } from './support';

export interface FaultPlan {
  /** Fraction of requests refused (half throttled, half 500). */
  readonly refuse: number;
  /** Fraction of DynamoDB PutItem/UpdateItem calls applied, then answered with a 500. */
  readonly ambiguous: number;
  /** Fraction of SendMessageBatch entries failed. */
  readonly sendEntries: number;
  /** Fraction of PutEvents entries failed (on their first attempt only: a retry gets through). */
  readonly eventEntries: number;
  /** Fraction of BatchGetItem keys returned as unprocessed. */
  readonly unprocessedKeys: number;
  /**
   * An outage: every request of every service is throttled from `afterMs` after the faults go on,
   * for `forMs` — longer than the SDK's retries last, so some requests fail for good and workers
   * give records up to redelivery.
   */
  readonly outage?: { readonly afterMs: number; readonly forMs: number };
}

export type Service = 'dynamodb' | 'sqs' | 'eventbridge';

interface Stack {
  add(mw: unknown, options: { step: string; priority?: string; name: string }): void;
}

type Handler = (args: { input: Record<string, unknown>; request?: { headers: Record<string, string> } }) => Promise<{
  output?: Record<string, unknown>;
  response?: unknown;
}>;
type Middleware = (next: Handler, context: { commandName?: string }) => Handler;

const WRITES = new Set(['PutItemCommand', 'UpdateItemCommand']);

export class FaultInjector {
  readonly stats = {
    requests: { dynamodb: 0, sqs: 0, eventbridge: 0 } as Record<Service, number>,
    throttled: 0,
    serverErrors: 0,
    /** Requests refused during the outage window. */
    outage: 0,
    ambiguous: 0,
    sendEntriesFailed: 0,
    eventEntriesFailed: 0,
    keysUnprocessed: 0,
  };
  /** Delays between a failed attempt and the next attempt of the same request / entry (ms). */
  readonly delays = { sdk: [] as number[], entries: [] as number[] };
  #enabled = true;
  #outage: { from: number; to: number } | undefined;
  readonly #plan: FaultPlan;
  readonly #r: Rng;
  /** Invocation id → time its last attempt failed. */
  readonly #failedAttempt = new Map<string, number>();
  /** Entry key → time it was last failed. */
  readonly #failedEntry = new Map<string, number>();
  /** Entry key → failures in a row (capped, so the adapter's retries always get it through). */
  readonly #streak = new Map<string, number>();

  constructor(plan: FaultPlan, r: Rng) {
    this.#plan = plan;
    this.#r = r;
  }

  /** Faults on or off (off for set-up and for the checks); turning them on starts the outage clock. */
  get enabled(): boolean {
    return this.#enabled;
  }
  set enabled(on: boolean) {
    this.#enabled = on;
    const o = this.#plan.outage;
    if (on && o) this.#outage = { from: Date.now() + o.afterMs, to: Date.now() + o.afterMs + o.forMs };
  }

  total(): number {
    const s = this.stats;
    return s.throttled + s.serverErrors + s.outage + s.ambiguous + s.sendEntriesFailed + s.eventEntriesFailed + s.keysUnprocessed;
  }

  maxDelay(which: 'sdk' | 'entries'): number {
    return this.delays[which].reduce((m, x) => Math.max(m, x), 0);
  }

  /** Adds the fault middleware to a client the app will use. */
  attach(client: { middlewareStack: unknown }, service: Service): void {
    const stack = client.middlewareStack as Stack;
    stack.add(this.#wire(service), { step: 'deserialize', priority: 'low', name: 'reliabilityWireFaults' });
    if (service === 'sqs') stack.add(this.#partialSend(), { step: 'initialize', name: 'reliabilitySendBatchFaults' });
    if (service === 'dynamodb') stack.add(this.#partialGet(), { step: 'initialize', name: 'reliabilityBatchGetFaults' });
    if (service === 'eventbridge') stack.add(this.#watchPutEvents(), { step: 'initialize', name: 'reliabilityPutEventsWatch' });
  }

  /** Per-entry PutEvents failures for the capture endpoint. */
  eventBridgeFailures(): EventBridgeFailures {
    return {
      entry: (_e, { attempt }) => {
        if (!this.#enabled || attempt > 1 || this.#r() >= this.#plan.eventEntries) return undefined;
        this.stats.eventEntriesFailed++;
        return { errorCode: 'InternalFailure', errorMessage: 'injected entry failure' };
      },
    };
  }

  /** Closest to the wire: sees every attempt, answers some with an error response. */
  #wire(service: Service): Middleware {
    return (next, context) => async (args) => {
      const id = args.request?.headers['amz-sdk-invocation-id'];
      const now = Date.now();
      if (id !== undefined) {
        const failedAt = this.#failedAttempt.get(id);
        if (failedAt !== undefined) {
          this.delays.sdk.push(now - failedAt);
          this.#failedAttempt.delete(id);
        }
      }
      if (!this.#enabled) return next(args);
      this.stats.requests[service]++;
      const fail = (status: 400 | 500, type: string) => {
        if (id !== undefined) this.#failedAttempt.set(id, Date.now());
        return { response: errorResponse(service, status, type) };
      };
      if (this.#outage && now >= this.#outage.from && now < this.#outage.to) {
        this.stats.outage++;
        return fail(400, 'ThrottlingException');
      }
      // `amz-sdk-request: attempt=1; max=3`: the SDK's last attempt is let through.
      const [, attempt, max] = /attempt=(\d+); *max=(\d+)/.exec(args.request?.headers['amz-sdk-request'] ?? '') ?? [];
      const lastAttempt = attempt !== undefined && attempt === max;
      if (!lastAttempt && this.#r() < this.#plan.refuse) {
        if (this.#r() < 0.5) {
          this.stats.throttled++;
          return fail(400, 'ThrottlingException');
        }
        this.stats.serverErrors++;
        return fail(500, service === 'dynamodb' ? 'InternalServerError' : 'InternalFailure');
      }
      if (service === 'dynamodb' && WRITES.has(context.commandName ?? '') && this.#r() < this.#plan.ambiguous) {
        await next(args); // applied…
        this.stats.ambiguous++;
        return fail(500, 'InternalServerError'); // …but the answer says it failed
      }
      return next(args);
    };
  }

  /** SendMessageBatch: some entries are not sent and come back in `Failed`. */
  #partialSend(): Middleware {
    return (next, context) => async (args) => {
      if (context.commandName !== 'SendMessageBatchCommand') return next(args);
      const entries = (args.input.Entries ?? []) as { Id: string; MessageBody: string }[];
      for (const e of entries) this.#retried(`sqs\u0000${e.MessageBody}`);
      if (!this.#enabled || this.#plan.sendEntries <= 0) return next(args);
      const keep: typeof entries = [];
      const failed: { Id: string; Code: string; Message: string; SenderFault: boolean }[] = [];
      for (const e of entries) {
        if (this.#mayFail(`sqs\u0000${e.MessageBody}`) && this.#r() < this.#plan.sendEntries) {
          failed.push({ Id: e.Id, Code: 'InternalError', Message: 'injected entry failure', SenderFault: false });
        } else {
          keep.push(e);
          this.#streak.delete(`sqs\u0000${e.MessageBody}`);
        }
      }
      this.stats.sendEntriesFailed += failed.length;
      if (failed.length === 0) return next(args);
      const out =
        keep.length > 0
          ? await next({ ...args, input: { ...args.input, Entries: keep } })
          : { output: { $metadata: { httpStatusCode: 200 }, Successful: [] } };
      const answeredAt = Date.now();
      for (const f of failed) this.#failed(`sqs\u0000${entries.find((e) => e.Id === f.Id)?.MessageBody}`, answeredAt);
      const output = out.output ?? {};
      return { ...out, output: { ...output, Failed: [...((output.Failed as unknown[]) ?? []), ...failed] } };
    };
  }

  /** BatchGetItem: some keys are not read and come back in `UnprocessedKeys`. */
  #partialGet(): Middleware {
    return (next, context) => async (args) => {
      if (context.commandName !== 'BatchGetItemCommand' || !this.#enabled || this.#plan.unprocessedKeys <= 0) return next(args);
      const items = args.input.RequestItems as Record<string, { Keys: { pk: { S: string } }[] } & Record<string, unknown>>;
      const [table, req] = Object.entries(items)[0] ?? [];
      if (table === undefined || req === undefined) return next(args);
      for (const k of req.Keys) this.#retried(`ddb\u0000${k.pk.S}`);
      const keep = req.Keys.filter((k) => !this.#mayFail(`ddb\u0000${k.pk.S}`) || this.#r() >= this.#plan.unprocessedKeys);
      const withheld = req.Keys.filter((k) => !keep.includes(k));
      for (const k of keep) this.#streak.delete(`ddb\u0000${k.pk.S}`);
      if (withheld.length === 0) return next(args);
      this.stats.keysUnprocessed += withheld.length;
      const out =
        keep.length > 0
          ? await next({ ...args, input: { ...args.input, RequestItems: { [table]: { ...req, Keys: keep } } } })
          : { output: { $metadata: { httpStatusCode: 200 }, Responses: { [table]: [] } } };
      const answeredAt = Date.now();
      for (const k of withheld) this.#failed(`ddb\u0000${k.pk.S}`, answeredAt);
      const output = out.output ?? {};
      return { ...out, output: { ...output, UnprocessedKeys: { [table]: { ...req, Keys: withheld } } } };
    };
  }

  /** PutEvents: measures the resend of entries the endpoint failed (the endpoint decides which). */
  #watchPutEvents(): Middleware {
    return (next, context) => async (args) => {
      if (context.commandName !== 'PutEventsCommand') return next(args);
      const entries = (args.input.Entries ?? []) as { Source?: string; DetailType?: string; Detail?: string }[];
      const keys = entries.map((e) => `events\u0000${e.Source}\u0000${e.DetailType}\u0000${e.Detail}`);
      for (const k of keys) this.#retried(k);
      const out = await next(args);
      const answeredAt = Date.now();
      const results = (out.output?.Entries ?? []) as { ErrorCode?: string }[];
      results.forEach((x, i) => {
        if (x.ErrorCode) this.#failedEntry.set(keys[i] as string, answeredAt);
      });
      return out;
    };
  }

  /** Another attempt at an entry: if it was failed before, that is one backoff measured. */
  #retried(key: string): void {
    const failedAt = this.#failedEntry.get(key);
    if (failedAt === undefined) return;
    this.delays.entries.push(Date.now() - failedAt);
    this.#failedEntry.delete(key);
  }

  #mayFail(key: string): boolean {
    return (this.#streak.get(key) ?? 0) < 2;
  }

  #failed(key: string, at: number): void {
    this.#failedEntry.set(key, at);
    this.#streak.set(key, (this.#streak.get(key) ?? 0) + 1);
  }
}

/** An error response as the service sends it (JSON protocols: `__type` in the body). */
function errorResponse(service: Service, statusCode: number, type: string) {
  const contentType = service === 'eventbridge' ? 'application/x-amz-json-1.1' : 'application/x-amz-json-1.0';
  return {
    statusCode,
    reason: statusCode === 400 ? 'Bad Request' : 'Internal Server Error',
    headers: {
      'content-type': contentType,
      'x-amzn-requestid': `injected-${Math.random().toString(36).slice(2)}`,
      ...(service === 'sqs' ? { 'x-amzn-query-error': `${type};${statusCode === 400 ? 'Sender' : 'Receiver'}` } : {}),
    },
    body: new TextEncoder().encode(JSON.stringify({ __type: type, message: `injected ${type}` })),
  };
}

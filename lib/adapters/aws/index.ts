/**
 * AWS adapters: SQS, DynamoDB, EventBridge. The only module that imports `@aws-sdk/*`.
 *
 * Endpoints: every client honours `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` — the SDK
 * reads them itself from `process.env`, and {@link awsBackendFromEnv} also reads them from the env
 * map it is given (service-specific first, as the SDK does). An explicit `endpoint`/`endpoints`
 * option wins over both; injected clients are used as they are (Powertools style).
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { type CeleriacConfig, loadConfig } from '../../config';
import { CeleriacError, ErrorCodes } from '../../errors';
import type { Backend, BusEvent, Clock, EventPublisher, Ids } from '../../ports';
import { randomIds, systemClock } from '../system';
import { DynamoResultStore } from './dynamo-result-store';
import { EventBridgePublisher } from './eventbridge-publisher';
import type { RetryPolicy } from './retry';
import { S3PayloadStore } from './s3-payload-store';
import { SchedulerDelayedSender } from './scheduler-sender';
import { SqsBroker } from './sqs-broker';

export { DynamoFlowControl, type DynamoFlowControlOptions } from './dynamo-flow-control';

import { DynamoFlowControl } from './dynamo-flow-control';

export { DynamoResultStore, type DynamoResultStoreOptions } from './dynamo-result-store';
export { EventBridgePublisher, type EventBridgePublisherOptions } from './eventbridge-publisher';
export { DEFAULT_RETRY, type RetryPolicy } from './retry';
export { S3PayloadStore, type S3PayloadStoreOptions } from './s3-payload-store';
export { SchedulerDelayedSender, type SchedulerSenderOptions } from './scheduler-sender';
export { SqsBroker, type SqsBrokerOptions } from './sqs-broker';

/** Client settings shared by the three clients celeriac creates (ignored for injected clients). */
export type AwsClientConfig = Pick<
  DynamoDBClientConfig,
  'region' | 'credentials' | 'maxAttempts' | 'retryMode' | 'requestHandler' | 'logger' | 'signer'
>;

export interface AwsBackendOptions {
  /** Pre-built clients (tracing, custom middleware, shared connections); others are created. */
  readonly clients?: {
    readonly sqs?: SQSClient;
    readonly dynamodb?: DynamoDBClient;
    readonly eventbridge?: EventBridgeClient;
    readonly scheduler?: SchedulerClient;
    readonly s3?: S3Client;
  };
  readonly clientConfig?: AwsClientConfig;
  /** One endpoint for every service (an emulator, LocalStack). Overrides `config.endpoint`. */
  readonly endpoint?: string;
  /** Per-service endpoints; override `endpoint`. */
  readonly endpoints?: {
    readonly sqs?: string;
    readonly dynamodb?: string;
    readonly eventbridge?: string;
    readonly scheduler?: string;
    readonly s3?: string;
  };
  readonly clock?: Clock;
  readonly ids?: Ids;
  /** Backoff for failed batch entries and unprocessed keys. */
  readonly retry?: Partial<RetryPolicy>;
  /** See {@link SqsBrokerOptions.escapeNonBmpInJson}: on for fauxqs (emulated local mode). */
  readonly escapeNonBmpInJson?: boolean;
  /** For logs and the CLI; default `aws`, or `localstack` when an endpoint is configured. */
  readonly kind?: string;
}

/** A {@link Backend} whose parts are the concrete AWS adapters. */
export interface AwsBackend extends Backend {
  readonly broker: SqsBroker;
  readonly store: DynamoResultStore;
  readonly events: EventPublisher;
  readonly clients: { readonly sqs: SQSClient; readonly dynamodb: DynamoDBClient; readonly eventbridge: EventBridgeClient };
  /** Closes the connections of the clients this backend created (injected ones are left alone). */
  destroy(): void;
}

/**
 * Bounds on every request the clients celeriac creates make (ms): without them a hung connection
 * waits forever (the SDK's default is no timeout), and so would the message it serves. A request
 * that times out is retried by the SDK like any network error. `clientConfig.requestHandler`
 * replaces them.
 */
export const DEFAULT_REQUEST_TIMEOUTS = { connectionTimeout: 3_000, requestTimeout: 10_000 } as const;
/** SQS's own: a long poll (ReceiveMessage) legitimately waits up to 20 s for a message. */
const SQS_REQUEST_TIMEOUTS = { connectionTimeout: 3_000, requestTimeout: 25_000 } as const;

/** Publishes nothing: `CELERIAC_EVENTS=off`. */
const NO_EVENTS: EventPublisher = { publish: async (_events: readonly BusEvent[]) => {} };

/**
 * Builds the AWS backend from a loaded config. `config.table` is required; the bus may be omitted
 * (the default bus), and queues are found through `config.queueUrls` or by name. `config.endpoint`
 * (`AWS_ENDPOINT_URL`) applies to all three clients; {@link awsBackendFromEnv} adds the
 * service-specific variables. `CELERIAC_EVENTS=off` makes `events` a no-op publisher.
 *
 * @example
 * ```ts
 * const backend = awsBackend(loadConfig(process.env), { clients: { dynamodb: tracedClient } });
 * ```
 */
export function awsBackend(config: CeleriacConfig, opts: AwsBackendOptions = {}): AwsBackend {
  if (config.table === undefined || config.table === '') {
    throw new CeleriacError(
      ErrorCodes.NOT_CONFIGURED,
      'no DynamoDB table configured: set CELERIAC_TABLE (the CDK stack sets it on every function)',
    );
  }
  const clock = opts.clock ?? systemClock;
  const endpointFor = (svc: 'sqs' | 'dynamodb' | 'eventbridge' | 'scheduler' | 's3'): string | undefined =>
    opts.endpoints?.[svc] ?? opts.endpoint ?? config.endpoint;
  const base = {
    ...(config.region === undefined ? {} : { region: config.region }),
    requestHandler: { ...DEFAULT_REQUEST_TIMEOUTS },
    ...opts.clientConfig,
  };
  const created: { destroy(): void }[] = [];
  const make = <C extends { destroy(): void }>(injected: C | undefined, build: () => C): C => {
    if (injected !== undefined) return injected;
    const c = build();
    created.push(c);
    return c;
  };
  const sqsEndpoint = endpointFor('sqs');
  const sqs = make(
    opts.clients?.sqs,
    () =>
      new SQSClient({
        ...base,
        ...(opts.clientConfig?.requestHandler === undefined ? { requestHandler: { ...SQS_REQUEST_TIMEOUTS } } : {}),
        ...(sqsEndpoint === undefined ? {} : { endpoint: sqsEndpoint }),
        // Requests go to the client's endpoint, never to the host inside a queue URL: emulators
        // hand out URLs like sqs.us-east-1.localhost that do not resolve, and an endpoint taken
        // from AWS_ENDPOINT_URL_SQS is invisible here. Queues live in the client's region.
        useQueueUrlAsEndpoint: false,
      }),
  );
  const ddbEndpoint = endpointFor('dynamodb');
  const dynamodb = make(
    opts.clients?.dynamodb,
    () => new DynamoDBClient({ ...base, ...(ddbEndpoint === undefined ? {} : { endpoint: ddbEndpoint }) }),
  );
  const ebEndpoint = endpointFor('eventbridge');
  const eventbridge = make(
    opts.clients?.eventbridge,
    () => new EventBridgeClient({ ...base, ...(ebEndpoint === undefined ? {} : { endpoint: ebEndpoint }) }),
  );
  // Only a deployment with a schedule group and role schedules long delays; elsewhere (emulators,
  // a CLI without them) the worker re-delays in 15-minute hops.
  const schedulerEndpoint = endpointFor('scheduler');
  const delayed =
    config.schedulerGroup !== undefined && config.schedulerRoleArn !== undefined
      ? new SchedulerDelayedSender({
          client: make(
            opts.clients?.scheduler,
            () => new SchedulerClient({ ...base, ...(schedulerEndpoint === undefined ? {} : { endpoint: schedulerEndpoint }) }),
          ),
          group: config.schedulerGroup,
          roleArn: config.schedulerRoleArn,
          queueUrls: config.queueUrls,
          ...(config.region === undefined ? {} : { region: config.region }),
        })
      : undefined;
  const retry = opts.retry ?? {};
  // Large payloads go to S3 only where the stack configured a bucket; elsewhere they are refused.
  const s3Endpoint = endpointFor('s3');
  const payloads =
    config.payloadBucket === undefined
      ? undefined
      : new S3PayloadStore({
          client: make(
            opts.clients?.s3,
            // Path-style on a custom endpoint (an emulator, LocalStack): no bucket subdomains there.
            // S3 keeps the SDK's own signer (it signs the payload hash S3 checks), whatever signer the others use.
            () =>
              new S3Client({
                ...base,
                signer: undefined,
                ...(s3Endpoint === undefined ? {} : { endpoint: s3Endpoint, forcePathStyle: true }),
              }),
          ),
          bucket: config.payloadBucket,
          prefix: payloadPrefix(config),
        });
  return {
    kind: opts.kind ?? ((sqsEndpoint ?? ddbEndpoint ?? ebEndpoint) ? 'localstack' : 'aws'),
    broker: new SqsBroker({ client: sqs, queueUrls: config.queueUrls, clock, retry, escapeNonBmpInJson: opts.escapeNonBmpInJson ?? false }),
    store: new DynamoResultStore({ client: dynamodb, table: config.table, ttlSeconds: config.resultTtlSeconds, clock, retry }),
    flow: new DynamoFlowControl({ client: dynamodb, table: config.table }),
    events: config.events
      ? new EventBridgePublisher({ client: eventbridge, ...(config.bus === undefined ? {} : { bus: config.bus }), clock, retry })
      : NO_EVENTS,
    clock,
    ids: opts.ids ?? randomIds,
    pollIntervalMs: 500,
    queueAliases: queueAliases(config.queueUrls),
    ...(delayed === undefined ? {} : { delayed }),
    ...(payloads === undefined ? {} : { payloads }),
    clients: { sqs, dynamodb, eventbridge },
    destroy() {
      for (const c of created) c.destroy();
    },
  };
}

/**
 * Builds the AWS backend from an environment map (`process.env` at a Lambda entry or the CLI):
 * {@link loadConfig} plus the SDK's endpoint variables, service-specific ones first.
 */
export function awsBackendFromEnv(env: Readonly<Record<string, string | undefined>>, opts: AwsBackendOptions = {}): AwsBackend {
  const loaded = loadConfig(env);
  // The SDK's own switch for "ignore endpoint variables": honoured for the ones read here too.
  if (env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS?.toLowerCase() === 'true') return awsBackend({ ...loaded, endpoint: undefined }, opts);
  const config = loaded;
  const pick = (k: string): string | undefined => (env[k] === undefined || env[k] === '' ? undefined : env[k]);
  const endpoints = {
    sqs: opts.endpoints?.sqs ?? pick('AWS_ENDPOINT_URL_SQS'),
    dynamodb: opts.endpoints?.dynamodb ?? pick('AWS_ENDPOINT_URL_DYNAMODB'),
    eventbridge: opts.endpoints?.eventbridge ?? pick('AWS_ENDPOINT_URL_EVENTBRIDGE'),
    scheduler: opts.endpoints?.scheduler ?? pick('AWS_ENDPOINT_URL_SCHEDULER'),
    s3: opts.endpoints?.s3 ?? pick('AWS_ENDPOINT_URL_S3'),
  };
  const defined = Object.fromEntries(Object.entries(endpoints).filter(([, v]) => v !== undefined)) as AwsBackendOptions['endpoints'];
  return awsBackend(config, { ...opts, ...(defined === undefined ? {} : { endpoints: defined }) });
}

/** The key prefix of the app's payloads: its name, which the stack's IAM grant (`<app>/*`) and lifecycle rule match. */
function payloadPrefix(config: CeleriacConfig): string {
  if (config.app === undefined || config.app === '') {
    throw new CeleriacError(
      ErrorCodes.NOT_CONFIGURED,
      'CELERIAC_PAYLOAD_BUCKET is set but CELERIAC_APP is not: payload keys are under the app name (the CDK stack sets both)',
    );
  }
  return config.app;
}

/**
 * Physical queue name (the last segment of its URL, as in the event source ARN a worker sees) →
 * the app's logical queue name. CDK names queues physically (`Stack-QueueDefault-AB12`); tasks
 * and routing speak logical names (`default`).
 */
export function queueAliases(queueUrls: Readonly<Record<string, string>>): ReadonlyMap<string, string> {
  const out = new Map<string, string>();
  for (const [logical, url] of Object.entries(queueUrls)) {
    const physical = url.slice(url.lastIndexOf('/') + 1);
    if (physical) out.set(physical, logical);
  }
  return out;
}

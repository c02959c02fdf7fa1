/**
 * What `emulated` and `localstack` modes share: the code that runs on AWS (the SQS and DynamoDB
 * adapters) against SQS and DynamoDB endpoints, with the topology's queues, dead-letter queues and
 * table created there, and a PutEvents capture endpoint feeding the local bus. A mode says where
 * the endpoints come from ({@link AwsMode}).
 */
import { type AwsBackend, awsBackend } from '../../adapters/aws';
import { loadConfig } from '../../config';
import type { Topology } from '../../routing';
import {
  EMULATOR_CLIENT_CONFIG,
  type EventBridgeEndpoint,
  ensureBucket,
  ensureQueue,
  ensureTable,
  FAST_EMULATOR_CLIENT_CONFIG,
  startEventBridgeEndpoint,
} from '../emulators';
import { dlqNameOf, type LocalQueue, localQueueSettings } from '../queues';
import { runStopSequence, stopStep } from '../stop';
import type { LocalResources } from '../types';
import type { BackendContext, LocalBackend } from './backend';

/** The SQS and DynamoDB endpoints an AWS-protocol mode runs on. */
export interface AwsServices {
  readonly sqs: string;
  readonly dynamodb: string;
  /** An S3 endpoint for large payloads (fauxqs serves one next to SQS; LocalStack on its edge port); absent: payloads are not offloaded. */
  readonly s3?: string;
  /** Stops them, when this run started them (emulators); absent for a server that outlives the run. */
  readonly stop?: () => Promise<void>;
}

/** An AWS-protocol local mode: where its services come from, and what it does once connected. */
export interface AwsMode {
  readonly kind: 'emulated' | 'localstack';
  /** Starts or finds the services; if it fails, it has stopped what it had started. */
  startServices(ctx: BackendContext): Promise<AwsServices>;
  /** Runs once the queues exist and the adapters are connected, before the backend is handed out. */
  prepare?(ctx: BackendContext, aws: AwsBackend, queues: readonly LocalQueue[]): Promise<void>;
}

type Endpoints = { readonly eventbridge: string; readonly dynamodb: string; readonly sqs: string; readonly s3?: string };

/** The bucket of large payloads on a local S3 endpoint; one for every app, each under its own `<app>/` prefix as on AWS. */
export const LOCAL_PAYLOAD_BUCKET = 'celeriac-payloads';

/** Starts an AWS-protocol backend for `mode`; a failed start stops what it had started. */
export async function startAwsBackend(ctx: BackendContext, mode: AwsMode): Promise<LocalBackend> {
  let capture: EventBridgeEndpoint | undefined;
  let services: AwsServices | undefined;
  let aws: AwsBackend | undefined;
  // Clients first, so none is left talking to a stopped server; then the services; the capture
  // endpoint, started first, stops last.
  const stop = (): Promise<void> =>
    runStopSequence(
      [
        stopStep('AWS clients', aws, (a) => a.destroy()),
        stopStep(`${mode.kind} services`, services?.stop, (s) => s()),
        stopStep('PutEvents endpoint', capture, (c) => c.stop()),
      ],
      ctx.onStopError,
    );
  try {
    capture = await startCapture(ctx);
    services = await mode.startServices(ctx);
    const endpoints: Endpoints = {
      eventbridge: capture.endpoint,
      dynamodb: services.dynamodb,
      sqs: services.sqs,
      ...(services.s3 !== undefined ? { s3: services.s3 } : {}),
    };
    const { queues, resources } = await createResources(ctx, endpoints);
    aws = connect(ctx, mode.kind, resources, endpoints);
    await mode.prepare?.(ctx, aws, queues);
    // Local reads cost nothing: poll results often so `get()` returns promptly.
    const ports = {
      store: aws.store,
      events: aws.events,
      ids: aws.ids,
      pollIntervalMs: 20,
      ...(aws.flow ? { flow: aws.flow } : {}),
      ...(aws.payloads ? { payloads: aws.payloads } : {}),
    };
    return { inner: aws.broker, ports, queues, resources, endpoints, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/**
 * Events go to the capture endpoint, which hands each accepted entry to the bus before answering
 * PutEvents — so a worker's publish has reached the bus when it returns.
 */
function startCapture(ctx: BackendContext): Promise<EventBridgeEndpoint> {
  return startEventBridgeEndpoint({
    onEvents: (captured) =>
      ctx.onEvents(
        captured.map((c) => ({
          id: c.EventId,
          source: c.Source,
          detailType: c.DetailType,
          detail: JSON.parse(c.Detail) as Record<string, unknown>,
          time: c.Time === undefined ? ctx.time.now() : c.Time * 1000,
          ...(c.Resources === undefined ? {} : { resources: c.Resources }),
        })),
      ),
  });
}

/** Creates the table and every queue with its DLQ (`<app>-<queue>`, so one endpoint can hold many apps). */
async function createResources(ctx: BackendContext, endpoints: Endpoints): Promise<{ queues: LocalQueue[]; resources: LocalResources }> {
  const { topology } = ctx;
  const table = `celeriac-${topology.app}`;
  const [, , ...urls] = await Promise.all([
    ensureTable(endpoints.dynamodb, table),
    endpoints.s3 === undefined ? undefined : ensureBucket(endpoints.s3, LOCAL_PAYLOAD_BUCKET),
    ...topology.queues.map((q) =>
      ensureQueue(endpoints.sqs, physicalName(topology, q.name), {
        dlqName: dlqNameOf(topology.app, q.name),
        maxReceiveCount: q.maxReceiveCount,
        visibilityTimeoutSeconds: q.visibilityTimeoutSeconds,
      }),
    ),
  ]);
  const created = urls as { url: string; dlqUrl?: string }[];
  const queues = topology.queues.map((q, i) => ({
    name: q.name,
    physical: physicalName(topology, q.name),
    dlqRef: created[i]?.dlqUrl as string,
    dlqName: dlqNameOf(topology.app, q.name),
    settings: localQueueSettings(q, ctx.options),
  }));
  const resources: LocalResources = {
    app: topology.app,
    table,
    bus: `celeriac-${topology.app}`,
    queueUrls: Object.fromEntries(queues.map((q, i) => [q.name, created[i]?.url as string])),
    dlqUrls: Object.fromEntries(queues.map((q, i) => [q.name, created[i]?.dlqUrl as string])),
  };
  return { queues, resources };
}

/** A queue's name on the service. */
function physicalName(topology: Topology, queue: string): string {
  return `${topology.app}-${queue}`;
}

/** The AWS adapters, configured as a deployed function is (the stack's environment), on these endpoints. */
function connect(ctx: BackendContext, kind: AwsMode['kind'], resources: LocalResources, endpoints: Endpoints): AwsBackend {
  const config = loadConfig({
    CELERIAC_APP: resources.app,
    CELERIAC_TABLE: resources.table,
    CELERIAC_BUS: resources.bus,
    CELERIAC_QUEUE_URLS: JSON.stringify(resources.queueUrls),
    CELERIAC_DLQ_URLS: JSON.stringify(resources.dlqUrls),
    // The emulator helpers create the table and queues in this region; `region` only names ARNs and events.
    AWS_REGION: EMULATOR_CLIENT_CONFIG.region,
    ...(endpoints.s3 !== undefined ? { CELERIAC_PAYLOAD_BUCKET: LOCAL_PAYLOAD_BUCKET } : {}),
  });
  return awsBackend(config, {
    endpoints: {
      sqs: endpoints.sqs,
      dynamodb: endpoints.dynamodb,
      eventbridge: endpoints.eventbridge,
      ...(endpoints.s3 !== undefined ? { s3: endpoints.s3 } : {}),
    },
    // dynalite and fauxqs check no signature; LocalStack may, so it keeps the real signer.
    clientConfig: kind === 'emulated' ? FAST_EMULATOR_CLIENT_CONFIG : EMULATOR_CLIENT_CONFIG,
    clock: ctx.time,
    kind,
  });
}

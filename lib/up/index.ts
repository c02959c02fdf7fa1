/**
 * `celeriac up`: runs a synthesized stack — the template `cdk synth` wrote and its bundled assets —
 * on the local emulators of emulated mode (fauxqs — SQS and S3 —, dynalite, the PutEvents endpoint), the way AWS
 * would run the deployment: queues and tables with the template's settings, each function from its
 * bundle in its own execution environments, event source mappings as pollers, rules and schedules
 * delivering to their targets as synthesized. {@link startStack} composes the pieces of this folder.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import {
  createQueueNamed,
  createTableFrom,
  EMULATOR_CLIENT_CONFIG,
  emulatorSqs,
  ensureBucket,
  setQueueAttributes,
  sweepExpired,
} from '../adapters/aws/provision';
import { type Emulator, type EventBridgeEndpoint, startDynalite, startEventBridgeEndpoint, startFauxqs } from '../local/emulators';
import { LOCAL_ACCOUNT, QueuePoller } from '../local/poller';
import { type AssemblyStack, functionAssetDir, readAssembly } from './assembly';
import { LocalEvents, type LocalRule, ruleFromTemplate, TargetNotFoundError } from './events';
import { startEventsEndpoint } from './events-endpoint';
import { type FunctionSpec, type InvokeOutcome, LocalFunction } from './functions';
import { startGateway } from './gateway';
import { type IamRequest, RolePolicy, rolePolicies } from './iam';
import { type LocalEnv, localIds, physicalName } from './identity';
import { queueAttributes, tableInput } from './provision';
import { resolveTemplate } from './resolve';
import { startSchedulerEndpoint } from './scheduler-endpoint';
import { type LocalSchedule, LocalScheduler, scheduleFromTemplate } from './schedules';
import { type CfnTemplate, resourcesOfType, skippedTypes, TemplateError } from './template';

export { type AssemblyStack, readAssembly } from './assembly';
export type { InvokeOutcome } from './functions';
export { type CfnTemplate, skippedTypes, TemplateError } from './template';

export interface UpOptions {
  /** The cloud assembly directory. Default `cdk.out`. */
  readonly app?: string;
  /** The stack to run, when the assembly holds several. */
  readonly stack?: string;
  /** Where functions' output and `up`'s own notices go. Default: stderr. */
  readonly log?: (line: string) => void;
  /** How often expired TTL items are deleted, ms. Default 60 000. */
  readonly ttlSweepMs?: number;
}

/** A stack running locally. */
export interface RunningStack {
  readonly stackName: string;
  /** The stack's outputs, resolved (`cdk deploy --outputs-file` gives the same per stack). */
  readonly outputs: Readonly<Record<string, string>>;
  /** The emulators' endpoints as `AWS_ENDPOINT_URL_<SERVICE>`, plus `AWS_REGION`. */
  readonly endpoints: Readonly<Record<string, string>>;
  /** Resource types of the template that are not run, with counts. */
  readonly skipped: readonly { readonly type: string; readonly count: number }[];
  /** The functions, by logical id. */
  readonly functions: ReadonlyMap<string, LocalFunction>;
  /** The rules and their deliveries. */
  readonly events: LocalEvents;
  /** The template with every intrinsic resolved. */
  readonly resolved: CfnTemplate;
  stop(): Promise<void>;
}

const REGION = EMULATOR_CLIENT_CONFIG.region;

/** Brings the stack up. On any failure what was started is stopped again and the error thrown. */
export async function startStack(options: UpOptions = {}): Promise<RunningStack> {
  const stack = readAssembly(options.app ?? 'cdk.out', options.stack);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const stops: (() => Promise<void> | void)[] = [];
  const stop = async (): Promise<void> => {
    for (const s of stops.reverse()) await Promise.resolve(s()).catch(() => {});
    stops.length = 0;
  };
  try {
    return await bringUp(stack, log, options, stops, stop);
  } catch (e) {
    await stop();
    throw e;
  }
}

async function bringUp(
  stack: AssemblyStack,
  log: (line: string) => void,
  options: UpOptions,
  stops: (() => Promise<void> | void)[],
  stop: () => Promise<void>,
): Promise<RunningStack> {
  const { template } = stack;
  const env: LocalEnv = { account: LOCAL_ACCOUNT, region: REGION, stackName: stack.name };
  const started = async (e: Promise<Emulator>): Promise<Emulator> => {
    const emulator = await e;
    stops.push(() => emulator.stop());
    return emulator;
  };
  let events: LocalEvents | undefined;
  const [sqs, dynamodb, eventbridge] = await Promise.all([
    started(startFauxqs()),
    started(startDynalite()),
    started(startEventBridgeEndpoint({ onEvents: (es) => events?.ingest(es) })) as Promise<EventBridgeEndpoint>,
  ]);
  // Clients reach EventBridge through the rule-aware endpoint; it passes PutEvents on to the capture endpoint.
  const eventsFront = await started(
    startEventsEndpoint({ events: () => events, capture: eventbridge.endpoint, region: REGION, account: LOCAL_ACCOUNT }),
  );
  const endpoints: Record<string, string> = {
    AWS_ENDPOINT_URL_SQS: sqs.endpoint,
    // fauxqs serves S3 on its SQS endpoint.
    AWS_ENDPOINT_URL_S3: sqs.endpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
    AWS_ENDPOINT_URL_EVENTBRIDGE: eventsFront.endpoint,
    AWS_REGION: REGION,
  };
  // Schedules (the template's, and those functions create) deliver through `deliver`, defined below.
  let deliver: (arn: string, body: string) => Promise<void> = async () => {};
  let sendTo: (arn: string, body: string) => Promise<void> = async () => {};
  const scheduler = new LocalScheduler([], async (sch: LocalSchedule) => {
    for (let attempt = 0; attempt <= sch.maxRetries; attempt++) {
      try {
        return await deliver(sch.targetArn, sch.input);
      } catch (e) {
        if (attempt === sch.maxRetries) {
          log(`up: schedule ${sch.name} → ${sch.targetArn}: undeliverable: ${String(e)}`);
          if (sch.dlqArn !== undefined) await sendTo(sch.dlqArn, sch.input).catch(() => {});
        }
      }
    }
  });
  stops.push(() => scheduler.stop());
  const groups = new Set([
    'default',
    ...resourcesOfType(template, 'AWS::Scheduler::ScheduleGroup').map((g) => physicalName(env, g, template)),
  ]);
  const schedulerEndpoint = await started(startSchedulerEndpoint({ scheduler, groups, region: REGION, account: LOCAL_ACCOUNT }));
  endpoints.AWS_ENDPOINT_URL_SCHEDULER = schedulerEndpoint.endpoint;

  // Queues first by name: their URLs are what Ref returns, and a redrive policy needs its DLQ.
  const queueIds = resourcesOfType(template, 'AWS::SQS::Queue');
  const urls = new Map<string, string>();
  await Promise.all(
    queueIds.map(async (id) => {
      const name = physicalName(env, id, template);
      urls.set(id, await createQueueNamed(sqs.endpoint, name, template.Resources[id]?.Properties?.FifoQueue === true));
    }),
  );
  const ids = localIds(env, template, urls);
  const resolved = resolveTemplate(template, ids);
  const props = (id: string): Record<string, unknown> => resolved.Resources[id]?.Properties ?? {};
  const arnOf = (id: string): string => ids.attributes[id]?.Arn as string;
  for (const id of queueIds) await setQueueAttributes(sqs.endpoint, urls.get(id) as string, queueAttributes(props(id)));

  for (const id of resourcesOfType(template, 'AWS::DynamoDB::Table')) {
    const name = physicalName(env, id, template);
    const input = tableInput(id, name, props(id));
    await createTableFrom(dynamodb.endpoint, input);
    const ttl = props(id).TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
    if (ttl?.Enabled === true && ttl.AttributeName !== undefined) {
      const key = input.KeySchema.map((k) => k.AttributeName);
      const attr = ttl.AttributeName;
      const timer = setInterval(() => {
        sweepExpired(dynamodb.endpoint, name, key, attr, Math.floor(Date.now() / 1000)).catch((e: unknown) =>
          log(`up: TTL sweep of ${name} failed: ${String(e)}`),
        );
      }, options.ttlSweepMs ?? 60_000);
      timer.unref();
      stops.push(() => clearInterval(timer));
    }
  }

  // Buckets: created empty. Their lifecycle rules are not applied (the emulators keep everything in
  // memory, so objects go when `up` stops, and the shortest S3 expiry is a day).
  for (const id of resourcesOfType(template, 'AWS::S3::Bucket')) await ensureBucket(sqs.endpoint, physicalName(env, id, template));

  // Queues by ARN, for targets, DLQs and event source mappings.
  const sqsClient = emulatorSqs(sqs.endpoint);
  stops.push(() => sqsClient.destroy());
  const queues = new Map<string, { name: string; url: string }>();
  for (const id of queueIds) queues.set(arnOf(id), { name: physicalName(env, id, template), url: urls.get(id) as string });
  const sendWith = async (arn: string, body: string, attributes?: Record<string, string>): Promise<void> => {
    // A queue made at run time (a client's subscription, as `events --follow` makes) is found by name.
    const runtime = /^arn:aws:sqs:[^:]+:\d+:(.+)$/.exec(arn)?.[1];
    const q =
      queues.get(arn) ?? (runtime === undefined ? undefined : { name: runtime, url: `${sqs.endpoint}/${LOCAL_ACCOUNT}/${runtime}` });
    if (q === undefined) throw new TargetNotFoundError(`no queue ${arn} in this stack`);
    await sqsClient.send(q.url, body, attributes);
  };

  // Functions.
  const functions = new Map<string, LocalFunction>();
  const functionsByArn = new Map<string, LocalFunction>();
  for (const id of resourcesOfType(template, 'AWS::Lambda::Function')) {
    let spec = functionSpec(stack, env, id, props(id), arnOf(id), endpoints);
    const role = spec.roleLogicalId;
    if (role === undefined) {
      log(`up: ${spec.name}: its role is not a resource of this stack, so its calls are not checked against IAM`);
    } else {
      // Every SDK call of the function goes through its gateway, which checks it against the role.
      const { policies, managedArns } = rolePolicies(resolved, role, physicalName(env, role, template));
      if (managedArns.length > 0)
        log(
          `up: ${spec.name}: managed policies are not evaluated (${managedArns.join(', ')}); only the template's own statements allow calls`,
        );
      const gateway = await started(
        startGateway({
          ...env,
          functionName: spec.name,
          roleArn: arnOf(role),
          policy: new RolePolicy(policies),
          upstream: {
            sqs: sqs.endpoint,
            dynamodb: dynamodb.endpoint,
            events: eventbridge.endpoint,
            scheduler: endpoints.AWS_ENDPOINT_URL_SCHEDULER as string,
            s3: sqs.endpoint,
          },
          onDenied: (d) => log(iamDeniedLine(spec.name, role, d)),
        }),
      );
      spec = {
        ...spec,
        environment: {
          ...spec.environment,
          AWS_ENDPOINT_URL_SQS: gateway.endpoint,
          AWS_ENDPOINT_URL_DYNAMODB: gateway.endpoint,
          AWS_ENDPOINT_URL_EVENTBRIDGE: gateway.endpoint,
          AWS_ENDPOINT_URL_SCHEDULER: gateway.endpoint,
          AWS_ENDPOINT_URL_S3: gateway.endpoint,
        },
      };
    }
    const fn = new LocalFunction(spec, { log });
    functions.set(id, fn);
    functionsByArn.set(fn.spec.arn, fn);
    functionsByArn.set(fn.spec.name, fn);
    stops.push(() => fn.stop());
  }
  const invokeConfig = (fn: LocalFunction): { retries: number; dlqArn?: string } => {
    const cfgId = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').find(
      (c) => functionsByArn.get(String(props(c).FunctionName)) === fn,
    );
    const cfg = cfgId === undefined ? {} : props(cfgId);
    const onFailure = (cfg.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined)?.OnFailure?.Destination;
    const dlq = onFailure ?? (props(fn.spec.logicalId).DeadLetterConfig as { TargetArn?: string } | undefined)?.TargetArn;
    return {
      retries: typeof cfg.MaximumRetryAttempts === 'number' ? cfg.MaximumRetryAttempts : 2,
      ...(dlq === undefined ? {} : { dlqArn: dlq }),
    };
  };
  /** An asynchronous invocation (EventBridge, Scheduler): Lambda retries it, then sends it to the function's DLQ. */
  const invokeAsync = (fn: LocalFunction, body: string): void => {
    const { retries, dlqArn } = invokeConfig(fn);
    void (async () => {
      let outcome: InvokeOutcome = { ok: false, error: { errorType: 'None', errorMessage: '' } };
      for (let attempt = 0; attempt <= retries; attempt++) {
        outcome = await fn.invoke(JSON.parse(body));
        if (outcome.ok) return;
      }
      const error = outcome.ok ? undefined : outcome.error;
      log(`up: ${fn.spec.name} failed ${retries + 1} asynchronous attempts: ${error?.errorType}: ${error?.errorMessage}`);
      if (dlqArn !== undefined) {
        await sendWith(dlqArn, body, { ErrorCode: '200', ErrorMessage: error?.errorMessage ?? '' }).catch((e: unknown) =>
          log(`up: ${fn.spec.name}: its DLQ refused the event: ${String(e)}`),
        );
      }
    })();
  };
  sendTo = (arn, body) => sendWith(arn, body);
  deliver = async (arn: string, body: string): Promise<void> => {
    if (arn.startsWith('arn:aws:sqs:')) return sendWith(arn, body);
    const fn = functionsByArn.get(arn);
    if (fn !== undefined) return invokeAsync(fn, body);
    throw new TargetNotFoundError(`target ${arn} is not a queue or function of this stack`);
  };

  // Rules and schedules.
  const rules: LocalRule[] = [];
  for (const id of resourcesOfType(template, 'AWS::Events::Rule')) {
    const rule = ruleFromTemplate(id, physicalName(env, id, template), arnOf(id), props(id));
    if (rule !== undefined) rules.push(rule);
  }
  events = new LocalEvents(
    rules,
    {
      deliver,
      deadLetter: (dlq, body) => sendTo(dlq, body),
      onError: (m, e) => log(`up: ${m}: ${e instanceof Error ? e.message : String(e)}`),
    },
    REGION,
  );
  for (const id of resourcesOfType(template, 'AWS::Scheduler::Schedule')) {
    const sch = scheduleFromTemplate(id, physicalName(env, id, template), props(id), Date.now());
    if (sch !== undefined) scheduler.add(sch);
  }

  // Event source mappings.
  for (const id of resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')) {
    const p = props(id);
    if (p.Enabled === false) continue;
    const queue = queues.get(String(p.EventSourceArn));
    if (queue === undefined)
      throw new TemplateError(id, `event source ${String(p.EventSourceArn)} is not a queue of this stack (only SQS mappings are run)`);
    const fn = functionsByArn.get(String(p.FunctionName));
    if (fn === undefined) throw new TemplateError(id, `function ${String(p.FunctionName)} is not a function of this stack`);
    const reports = Array.isArray(p.FunctionResponseTypes) && p.FunctionResponseTypes.includes('ReportBatchItemFailures');
    const consumer = sqsClient.broker({ [queue.name]: queue.url });
    const visibility = Number(props(queueIds.find((q) => urls.get(q) === queue.url) as string).VisibilityTimeout ?? 30);
    if (visibility < fn.spec.timeoutSeconds) {
      throw new TemplateError(
        id,
        `the visibility timeout of queue ${queue.name} (${visibility} s) is less than the timeout of function ${fn.spec.name} (${fn.spec.timeoutSeconds} s); CloudFormation refuses this mapping`,
      );
    }
    const poller = new QueuePoller({
      queue: queue.name,
      consumer,
      region: REGION,
      handler: async (event: SQSEvent) => {
        const outcome = await fn.invoke(event);
        if (!outcome.ok)
          throw Object.assign(new Error(`${outcome.error.errorType}: ${outcome.error.errorMessage}`), { name: outcome.error.errorType });
        // Without ReportBatchItemFailures Lambda ignores the response: a returned function is a whole success.
        return reports ? (outcome.result as SQSBatchResponse | undefined) : undefined;
      },
      settings: {
        batchSize: typeof p.BatchSize === 'number' ? p.BatchSize : 10,
        maxBatchingWindowSeconds: typeof p.MaximumBatchingWindowInSeconds === 'number' ? p.MaximumBatchingWindowInSeconds : 0,
        maxConcurrency: (p.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency ?? 5,
        visibilityTimeoutSeconds: visibility,
        functionTimeoutSeconds: fn.spec.timeoutSeconds,
      },
      // AWS's timing: a failed record comes back when its visibility timeout ends.
      failedItemVisibilitySeconds: visibility,
      onError: (m, e) => log(`up: ${m}${e === undefined ? '' : `: ${e instanceof Error ? e.message : String(e)}`}`),
    });
    poller.start();
    stops.push(async () => {
      await poller.stop();
      await poller.closed();
    });
  }

  const outputs: Record<string, string> = {};
  for (const [key, o] of Object.entries(resolved.Outputs ?? {}))
    outputs[key] = typeof o.Value === 'string' ? o.Value : JSON.stringify(o.Value);
  return { stackName: stack.name, outputs, endpoints, skipped: skippedTypes(template), functions, events, resolved, stop };
}

/** A function's spec from its resolved properties: code, handler, runtime, limits and its whole environment. */
function functionSpec(
  stack: AssemblyStack,
  env: LocalEnv,
  id: string,
  p: Readonly<Record<string, unknown>>,
  arn: string,
  endpoints: Readonly<Record<string, string>>,
): FunctionSpec {
  const name = physicalName(env, id, stack.template);
  const variables = ((p.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {}) as Record<string, unknown>;
  const memoryMb = typeof p.MemorySize === 'number' ? p.MemorySize : 128;
  const timeoutSeconds = typeof p.Timeout === 'number' ? p.Timeout : 3;
  const runtime = String(p.Runtime ?? '');
  const logGroup = (p.LoggingConfig as { LogGroup?: string } | undefined)?.LogGroup ?? `/aws/lambda/${name}`;
  const codeDir = functionAssetDir(stack, id);
  const roleArn = typeof p.Role === 'string' ? p.Role : undefined;
  const roleLogicalId =
    roleArn === undefined
      ? undefined
      : Object.keys(stack.template.Resources).find((r) => roleArn.endsWith(`:role/${physicalName(env, r, stack.template)}`));
  return {
    logicalId: id,
    name,
    arn,
    codeDir,
    handler: String(p.Handler ?? 'index.handler'),
    runtime,
    timeoutSeconds,
    memoryMb,
    logGroupName: logGroup,
    ...(roleLogicalId === undefined ? {} : { roleLogicalId }),
    environment: {
      // Lambda's own variables, then the template's (which cannot override the reserved ones on AWS).
      ...Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, String(v)])),
      ...endpoints,
      AWS_DEFAULT_REGION: env.region,
      AWS_ACCESS_KEY_ID: EMULATOR_CLIENT_CONFIG.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CLIENT_CONFIG.credentials.secretAccessKey,
      AWS_SESSION_TOKEN: 'local',
      AWS_LAMBDA_FUNCTION_NAME: name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: logGroup,
      AWS_EXECUTION_ENV: `AWS_Lambda_${runtime}`,
      LAMBDA_TASK_ROOT: codeDir,
      _HANDLER: String(p.Handler ?? 'index.handler'),
      TZ: ':UTC',
    },
  };
}

/**
 * The line `up` prints when IAM refuses a function's call: the action, the resource, the role, and
 * the statement its policy lacks.
 */
export function iamDeniedLine(functionName: string, roleLogicalId: string, denied: IamRequest): string {
  const statement = JSON.stringify({ Effect: 'Allow', Action: denied.action, Resource: denied.resource });
  return `up: IAM: AccessDenied: ${functionName} called ${denied.action} on ${denied.resource}, which no statement of role ${roleLogicalId}'s policies allows; the deployed function would fail the same way. Missing statement: ${statement}`;
}

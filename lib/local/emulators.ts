/**
 * Real-protocol emulators, in-process on loopback: dynalite (DynamoDB), fauxqs (SQS) and a
 * capture endpoint for EventBridge PutEvents. Local mode and the contract tests point the AWS
 * adapters at these, so the code that runs locally is the code that runs on AWS.
 *
 * Every server listens on 127.0.0.1 port 0 (a free port) and `stop()` closes it and its open
 * connections, so neither tests nor `celeriac dev` hang on exit.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { CeleriacError, ErrorCodes } from '../errors';
import { close, listen, readBody } from './http';

// Provisioning goes through the AWS adapter (the only code that imports the SDK).
export {
  EMULATOR_CLIENT_CONFIG,
  type EnsureQueueOptions,
  emulatorS3Config,
  ensureBucket,
  ensureQueue,
  ensureTable,
} from '../adapters/aws/provision';

/** A running emulator. */
export interface Emulator {
  /** `http://127.0.0.1:<port>`: pass as the client endpoint (or `AWS_ENDPOINT_URL_<SERVICE>`). */
  readonly endpoint: string;
  stop(): Promise<void>;
}

// ── DynamoDB: dynalite ───────────────────────────────────────────────────────────────────────

export interface DynaliteOptions {
  /** LevelDB directory to persist to; in memory when omitted. */
  readonly path?: string;
  /** Port to listen on; 0 (default) picks a free one. */
  readonly port?: number;
}

type DynaliteFactory = (opts: Record<string, unknown>) => Server;

/**
 * Starts dynalite in this process. Tables become ACTIVE at once (dynalite's default is a 500 ms
 * CREATING phase, which only slows tests down).
 */
export async function startDynalite(opts: DynaliteOptions = {}): Promise<Emulator> {
  // dynalite is CommonJS without type declarations.
  const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(opts.path === undefined ? {} : { path: opts.path }),
  });
  const port = await listen(server, opts.port ?? 0);
  return { endpoint: `http://127.0.0.1:${port}`, stop: () => close(server) };
}

// ── SQS: fauxqs ──────────────────────────────────────────────────────────────────────────────

export interface FauxqsOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  readonly port?: number;
  /** Log every request (default false). */
  readonly logger?: boolean;
}

/** Starts fauxqs (SQS emulator; needs Node ≥ 22.5) in this process. */
export async function startFauxqs(opts: FauxqsOptions = {}): Promise<Emulator> {
  // fauxqs stores queues in node:sqlite: on an older Node say which version is needed, in one
  // line, rather than fail on a missing built-in deep inside the emulator.
  if (!hasNodeSqlite()) {
    throw new CeleriacError(
      ErrorCodes.BACKEND_UNAVAILABLE,
      `emulated local mode needs Node.js >= 22.5 (its SQS emulator, fauxqs, uses node:sqlite); this is Node.js ${process.versions.node}: upgrade Node, or use mode 'memory'`,
      { retryable: false },
    );
  }
  const { startFauxqs: start } = await import('fauxqs');
  const server = await start({ port: opts.port ?? 0, logger: opts.logger ?? false });
  return { endpoint: `http://127.0.0.1:${server.port}`, stop: () => server.stop() };
}

function hasNodeSqlite(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return major > 22 || (major === 22 && minor >= 5);
}

// ── EventBridge: PutEvents capture endpoint ──────────────────────────────────────────────────

/** One PutEvents entry as received (the JSON 1.1 wire shape). */
export interface CapturedEvent {
  readonly Source: string;
  readonly DetailType: string;
  /** The detail JSON string, as sent. */
  readonly Detail: string;
  /** Epoch seconds, when the sender set Time. */
  readonly Time?: number;
  readonly Resources?: readonly string[];
  readonly EventBusName?: string;
  /** Assigned by this endpoint for accepted entries. */
  readonly EventId: string;
}

/** Whole-request failures: `throttle` answers 400 ThrottlingException, `server` 500 InternalException. */
export type RequestFailure = 'throttle' | 'server';

/** Failure injection, consulted for every request and every entry. */
export interface EventBridgeFailures {
  /** `request` counts PutEvents requests from 1. Return a failure to refuse the whole request. */
  readonly request?: (request: number) => RequestFailure | undefined;
  /** `attempt` counts how often an identical entry has been seen, from 1. Return an error to fail it. */
  readonly entry?: (
    entry: Omit<CapturedEvent, 'EventId'>,
    ctx: { readonly request: number; readonly attempt: number },
  ) => { readonly errorCode: string; readonly errorMessage?: string } | undefined;
}

export interface EventBridgeEndpoint extends Emulator {
  /** Every accepted entry, in arrival order. */
  readonly events: CapturedEvent[];
  /** PutEvents requests received (failed ones included). */
  readonly requests: number;
  /** Replaces the failure injection (undefined: accept everything). */
  setFailures(fail: EventBridgeFailures | undefined): void;
}

export interface EventBridgeEndpointOptions {
  /** Called with the accepted entries of each request, before the reply is sent. */
  readonly onEvents?: (events: readonly CapturedEvent[]) => void | Promise<void>;
  readonly fail?: EventBridgeFailures;
  readonly port?: number;
}

/**
 * A minimal EventBridge endpoint speaking the JSON 1.1 protocol for PutEvents, the one call
 * celeriac makes. No EventBridge emulator exists on npm; local mode uses this to capture events
 * (and feed its in-process bus), tests use it to inject partial and whole-request failures.
 */
export async function startEventBridgeEndpoint(opts: EventBridgeEndpointOptions = {}): Promise<EventBridgeEndpoint> {
  const events: CapturedEvent[] = [];
  const seen = new Map<string, number>();
  let requests = 0;
  let seq = 0;
  let fail = opts.fail;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = (await readBody(req)).toString('utf8');
    const target = req.headers['x-amz-target'];
    if (req.method !== 'POST' || target !== 'AWSEvents.PutEvents') {
      return reply(res, 400, { __type: 'UnknownOperationException', message: `unsupported operation ${String(target)}` });
    }
    const n = ++requests;
    let input: { Entries?: Omit<CapturedEvent, 'EventId'>[] };
    try {
      input = JSON.parse(raw) as typeof input;
    } catch {
      return reply(res, 400, { __type: 'SerializationException', message: 'body is not JSON' });
    }
    const failure = fail?.request?.(n);
    if (failure === 'throttle') return reply(res, 400, { __type: 'ThrottlingException', message: 'Rate exceeded' });
    if (failure === 'server') return reply(res, 500, { __type: 'InternalException', message: 'injected failure' });
    const entries = input.Entries ?? [];
    if (entries.length < 1 || entries.length > 10) {
      return reply(res, 400, { __type: 'ValidationException', message: `1 to 10 entries per request, got ${entries.length}` });
    }
    const accepted: CapturedEvent[] = [];
    const out: ({ EventId: string } | { ErrorCode: string; ErrorMessage: string })[] = [];
    const failEntry = fail?.entry;
    for (const e of entries) {
      let err: ReturnType<NonNullable<EventBridgeFailures['entry']>>;
      // Attempts are only counted while entry failures are injected, so a long local run
      // does not remember every event it ever saw.
      if (failEntry !== undefined) {
        const key = `${e.Source}\u0000${e.DetailType}\u0000${e.Detail}`;
        const attempt = (seen.get(key) ?? 0) + 1;
        seen.set(key, attempt);
        err = failEntry(e, { request: n, attempt });
      }
      if (err !== undefined) {
        out.push({ ErrorCode: err.errorCode, ErrorMessage: err.errorMessage ?? 'injected failure' });
        continue;
      }
      const captured: CapturedEvent = { ...e, EventId: `evt-${++seq}` };
      accepted.push(captured);
      out.push({ EventId: captured.EventId });
    }
    events.push(...accepted);
    if (accepted.length > 0) await opts.onEvents?.(accepted);
    reply(res, 200, { FailedEntryCount: entries.length - accepted.length, Entries: out });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => reply(res, 500, { __type: 'InternalException', message: String(e) }));
  });
  const port = await listen(server, opts.port ?? 0);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    events,
    get requests() {
      return requests;
    },
    setFailures(f) {
      fail = f;
    },
    stop: () => close(server),
  };
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.1',
    'content-length': Buffer.byteLength(json),
    'x-amzn-requestid': `req-${Date.now()}`,
  });
  res.end(json);
}

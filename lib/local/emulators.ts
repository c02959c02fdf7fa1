/**
 * Real-protocol emulators on loopback: dynalite (DynamoDB), fauxqs (SQS, and S3 on the same
 * port) and a capture endpoint for EventBridge PutEvents. Local mode and the contract tests point
 * the AWS adapters at these, so the code that runs locally is the code that runs on AWS.
 *
 * dynalite and fauxqs run either in this thread ({@link startDynalite}, {@link startFauxqs}: the
 * contract tests, `celeriac up`) or in a worker thread of their own ({@link startEmulatorThread}:
 * emulated local mode, so the emulators get the second core). Every server listens on 127.0.0.1
 * port 0 (a free port) and `stop()` closes it and its open connections, so neither tests nor
 * `celeriac dev` hang on exit.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { CeleriacError, ErrorCodes } from '../errors';
import { serveDynalite, serveFauxqs } from './emulator-servers';
import type { EmulatorThreadData, EmulatorThreadMessage } from './emulator-thread';
import { close, listen, readBody } from './http';

// Provisioning goes through the AWS adapter (the only code that imports the SDK).
export {
  EMULATOR_CLIENT_CONFIG,
  type EnsureQueueOptions,
  emulatorS3Config,
  ensureBucket,
  ensureQueue,
  ensureTable,
  FAST_EMULATOR_CLIENT_CONFIG,
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

/** Starts dynalite in this thread. Tables become ACTIVE at once. */
export async function startDynalite(opts: DynaliteOptions = {}): Promise<Emulator> {
  return onLoopback(await serveDynalite(opts));
}

// ── SQS: fauxqs ──────────────────────────────────────────────────────────────────────────────

export interface FauxqsOptions {
  /** Port to listen on; 0 (default) picks a free one. */
  readonly port?: number;
  /** Log every request (default false). */
  readonly logger?: boolean;
}

/** Starts fauxqs (SQS and S3 emulator; needs Node ≥ 22.5) in this thread. */
export async function startFauxqs(opts: FauxqsOptions = {}): Promise<Emulator> {
  requireNodeSqlite();
  return onLoopback(await serveFauxqs(opts));
}

function onLoopback(s: { readonly port: number; stop(): Promise<void> }): Emulator {
  return { endpoint: `http://127.0.0.1:${s.port}`, stop: () => s.stop() };
}

/**
 * fauxqs stores queues in node:sqlite: on an older Node say which version is needed, in one line,
 * rather than fail on a missing built-in deep inside the emulator.
 */
function requireNodeSqlite(): void {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  if (major > 22 || (major === 22 && minor >= 5)) return;
  throw new CeleriacError(
    ErrorCodes.BACKEND_UNAVAILABLE,
    `emulated local mode needs Node.js >= 22.5 (its SQS emulator, fauxqs, uses node:sqlite); this is Node.js ${process.versions.node}: upgrade Node, or use mode 'memory'`,
    { retryable: false },
  );
}

// ── dynalite and fauxqs in a thread of their own ─────────────────────────────────────────────

/** dynalite and fauxqs serving from their own thread. */
export interface EmulatorThread {
  /** dynalite's endpoint. */
  readonly dynamodb: string;
  /** fauxqs's endpoint. */
  readonly sqs: string;
  /** fauxqs serves S3 on its SQS port: the same endpoint (path-style addressing). */
  readonly s3: string;
  /** Closes both servers and ends the thread; rejects if closing failed (the thread is ended anyway). */
  stop(): Promise<void>;
}

export interface EmulatorThreadOptions extends EmulatorThreadData {
  /** Called if the thread fails after it started (its endpoints then refuse connections). */
  readonly onCrash?: (error: unknown) => void;
  /** How long `stop()` waits for the servers to close before it ends the thread anyway (ms). Default 5000. */
  readonly stopTimeoutMs?: number;
}

/**
 * Starts dynalite and fauxqs in a worker thread (lib/local/emulator-thread.ts). Emulated local mode
 * runs them there because a round trip costs the emulator about as much CPU as the SDK call that
 * makes it: on their own event loop they use the second core instead of queueing behind the
 * worker. A thread, not a child process, so they end with this process however it ends (a crash,
 * SIGKILL): nothing is left listening. The thread loads only the two emulators, not celeriac.
 */
export async function startEmulatorThread(opts: EmulatorThreadOptions = {}): Promise<EmulatorThread> {
  requireNodeSqlite();
  const data: EmulatorThreadData = { dynamodbPort: opts.dynamodbPort, sqsPort: opts.sqsPort };
  const worker = new Worker(threadEntry(), { ...threadOptions(), workerData: data });
  let ready = false;
  let exited = false;
  let failure: unknown;
  let stopping: Promise<void> | undefined;
  const exit = new Promise<number>((resolve) =>
    worker.once('exit', (code) => {
      exited = true;
      resolve(code);
    }),
  );
  worker.on('error', (e) => {
    failure ??= e;
    if (ready && !stopping) opts.onCrash?.(e);
  });
  void exit.then((code) => {
    if (ready && !stopping && failure === undefined) opts.onCrash?.(new Error(`the emulator thread ended (exit code ${code})`));
  });
  const m = await Promise.race([
    new Promise<EmulatorThreadMessage>((resolve) => worker.once('message', resolve)),
    exit.then((code): never => {
      throw failure ?? new Error(`the emulator thread ended before its emulators started (exit code ${code})`);
    }),
  ]);
  ready = true;
  const at = (port: number) => `http://127.0.0.1:${port}`;
  return {
    dynamodb: at(m.dynamodbPort),
    sqs: at(m.sqsPort),
    s3: at(m.sqsPort),
    stop() {
      const before = failure;
      stopping ??= (async () => {
        if (!exited) {
          worker.postMessage({ type: 'stop' });
          const timer = setTimeout(() => void worker.terminate(), opts.stopTimeoutMs ?? 5_000);
          await exit;
          clearTimeout(timer);
        }
        // A failure reported through onCrash before stop() is not reported again.
        if (failure !== undefined && failure !== before) throw failure;
      })();
      return stopping;
    },
  };
}

/** Where the thread's entry is: the built file next to this one, or the source under tsx / vitest. */
function threadEntry(): URL {
  return new URL(FROM_SOURCE ? './emulator-thread.ts' : './emulator-thread.js', import.meta.url);
}

const FROM_SOURCE = import.meta.url.endsWith('.ts');

/**
 * The thread's Node options: this process's (loaders, conditions), minus the ones about this
 * process's own entry (`-e`, `--input-type`: a Worker given those refuses to start). Running from
 * source (this repository's tests and benches), the thread needs tsx to load TypeScript, unless
 * this process already runs under it.
 */
function threadOptions(): { execArgv: string[] } {
  const execArgv: string[] = [];
  const own = process.execArgv;
  for (let i = 0; i < own.length; i++) {
    const a = own[i] as string;
    if (EVAL_FLAGS.has(a)) {
      i++; // and its value
    } else if (![...EVAL_FLAGS].some((f) => a.startsWith(`${f}=`))) {
      execArgv.push(a);
    }
  }
  if (FROM_SOURCE && !execArgv.some((a) => a.includes('tsx'))) {
    execArgv.push('--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href);
  }
  return { execArgv };
}

const EVAL_FLAGS = new Set(['-e', '--eval', '-p', '--print', '--input-type']);

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
  /** Assigned by this endpoint for accepted entries: a version 4 UUID, as EventBridge's event `id`. */
  readonly EventId: string;
}

/** The ErrorMessage of an entry refused for its reserved source. */
const RESERVED_SOURCE_MESSAGE = 'Not authorized for the source: sources beginning with "aws." are reserved for AWS services';

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
 * As EventBridge, it gives each accepted event a version 4 UUID as its id, and fails an entry whose
 * Source begins with "aws." (NotAuthorizedForSourceException), accepting the rest of the request.
 */
export async function startEventBridgeEndpoint(opts: EventBridgeEndpointOptions = {}): Promise<EventBridgeEndpoint> {
  const events: CapturedEvent[] = [];
  const seen = new Map<string, number>();
  let requests = 0;
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
      // EventBridge reserves sources beginning with "aws." for AWS services' own events and fails
      // such an entry on its own; taking it here would let local runs pass what AWS refuses.
      if (typeof e.Source === 'string' && e.Source.startsWith('aws.')) {
        out.push({ ErrorCode: 'NotAuthorizedForSourceException', ErrorMessage: RESERVED_SOURCE_MESSAGE });
        continue;
      }
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
      // A version 4 UUID, as EventBridge's event `id`: what reads ids sees the shape AWS gives.
      const captured: CapturedEvent = { ...e, EventId: randomUUID() };
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

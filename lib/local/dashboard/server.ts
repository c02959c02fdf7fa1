/**
 * The dashboard server (Flower for celeriac): one node:http server that serves the page and the
 * small JSON API the page and the CLI use against a running `celeriac dev`.
 *
 * Everything it shows is read through the ports (ResultStore, QueueAdmin, the event bus) plus
 * the in-memory {@link TaskFeed}, so it works the same over the memory adapters and over the
 * emulators. It binds to loopback only.
 *
 * API (all JSON; errors are `{ error: { code, message } }` with a 4xx/5xx status):
 * - `GET  /api/info`                   app, mode, tasks, queues
 * - `GET  /api/tasks?limit=n`          recent tasks, newest first
 * - `GET  /api/tasks/:id`              one task: stored record merged with the feed (404: unknown)
 * - `GET  /api/workflow/:rootId`       the workflow graph (404: unknown)
 * - `GET  /api/queues`                 queue and DLQ depths (`deadlineChecks`: how many of the
 *                                      delayed messages are chord deadline checks)
 * - `GET  /api/events?limit=n`         recent lifecycle events, oldest first
 * - `GET  /api/stream`                 Server-Sent Events: `tasks` (changed rows), `bus` (lifecycle events)
 * - `POST /api/call`                   `{ task, args?, countdown?, idempotencyKey? }` → `{ id, task }`, or
 *                                      `{ canvas, countdown? }` (lib/canvas/json.ts) → `{ id, kind, members? }`
 * - `POST /api/queues/:name/purge`     → `{ queue }` (`?dlq=1`: its dead-letter queue)
 * - `POST /api/queues/:name/redrive`   DLQ → queue, → `{ queue, dlq, moved }`
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { App } from '../../app';
import { type AppliedCanvas, applyCanvasJson, requestCallOptions } from '../../canvas/json';
import { isCeleriacError } from '../../errors';
import type { Backend, Broker, BusEvent, QueueAdmin, QueueConsumer, ResultRecord } from '../../ports';
import { decodePlan } from '../../protocol/envelope';
import type { Json } from '../../protocol/json';
import { isReady } from '../../results/states';
import { DEFAULT_DASHBOARD_PORT } from './defaults';
import type { FeedChange, TaskFeed, TaskRow } from './feed';
import { type TaskStatus, workflowGraph } from './graph';
import { type QueueRef, queueDepths, redrive } from './ops';

/** Subscribes to the local event bus; returns the unsubscribe function. */
export type EventSource = (listener: (events: readonly BusEvent[]) => void) => () => void;

export interface DashboardOptions {
  readonly app: App;
  readonly backend: Backend;
  readonly feed: TaskFeed;
  /** The app's queues (logical names) and their DLQs. */
  readonly queues: readonly QueueRef[];
  /** Queue depths and purge. */
  readonly admin: QueueAdmin;
  /** Receives from DLQs for redrive (with `backend.broker` sending back). Without it, redrive answers 501. */
  readonly consumer?: QueueConsumer;
  /** Port to listen on (default 8787; 0 = any free port). Always on 127.0.0.1. */
  readonly port?: number;
  /** Shown on the page and in `/api/info`: `memory`, `emulated`… */
  readonly mode?: string;
}

/** A running dashboard. */
export interface Dashboard {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Closes the server and every open stream. */
  close(): Promise<void>;
}

/** The port is taken by another process. */
export class PortInUseError extends Error {
  readonly port: number;
  constructor(port: number) {
    super(`port ${port} is already in use`);
    this.name = 'PortInUseError';
    this.port = port;
  }
}

export { DEFAULT_DASHBOARD_PORT };

/** Request bodies over this are refused: the API only takes small call requests. */
const MAX_BODY_BYTES = 1_048_576;
/** Changed rows are batched per stream for this long: a busy run must not send one frame per signal. */
const STREAM_FLUSH_MS = 150;
/** A stream's batch larger than this is replaced by a "reload" hint. */
const STREAM_MAX_ROWS = 200;
/** Keeps idle streams alive through proxies and lets clients notice a dead server. */
const STREAM_HEARTBEAT_MS = 15_000;

class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Starts the dashboard server.
 *
 * @throws {PortInUseError} when the port is taken.
 * @example
 * ```ts
 * const feed = new TaskFeed({ store: backend.store });
 * feed.attach(app);
 * const dash = await startDashboard({ app, backend, feed, queues: [{ name: 'default' }], admin: broker, port: 0 });
 * console.log(dash.url);
 * ```
 */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const page = await readFile(new URL('./page.html', import.meta.url), 'utf8');
  const streams = new Set<ServerResponse>();
  const startedAt = Date.now();
  let port = opts.port ?? DEFAULT_DASHBOARD_PORT;

  const route = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    if (!hostAllowed(req.headers.host, port))
      throw new HttpError(403, 'FORBIDDEN_HOST', 'the dashboard answers on 127.0.0.1/localhost only');
    if (method === 'POST') {
      // A web page can POST text/plain to localhost without a CORS preflight; requiring JSON makes
      // the browser ask first, and the server never allows cross-origin requests.
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
        throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'POST bodies must be application/json');
      }
    }
    if (method === 'GET' && (path === '/' || path === '/index.html')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page);
      return;
    }
    if (method === 'GET' && path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (method === 'GET' && path === '/api/info') {
      const topology = opts.app.topology();
      return json(res, 200, {
        app: opts.app.name,
        mode: opts.mode ?? opts.backend.kind,
        backend: opts.backend.kind,
        pid: process.pid,
        startedAt,
        tasks: topology.tasks.map((t) => ({ name: t.name, queue: t.queue })),
        queues: opts.queues,
      });
    }
    if (method === 'GET' && path === '/api/tasks') {
      return json(res, 200, { version: opts.feed.version, tasks: opts.feed.tasks(limitOf(url, 1_000)) });
    }
    if (method === 'GET' && path.startsWith('/api/tasks/')) {
      const id = decodeURIComponent(path.slice('/api/tasks/'.length));
      const view = await taskView(opts, id);
      if (view === undefined)
        throw new HttpError(404, 'NOT_FOUND', `no task ${id}: nothing is stored under this id and this dev run has not seen it`);
      return json(res, 200, view);
    }
    if (method === 'GET' && path.startsWith('/api/workflow/')) {
      const rootId = decodeURIComponent(path.slice('/api/workflow/'.length));
      const graph = await workflowOf(opts, rootId);
      if (graph.nodes.length === 0) throw new HttpError(404, 'NOT_FOUND', `no workflow ${rootId}`);
      return json(res, 200, graph);
    }
    if (method === 'GET' && path === '/api/queues') {
      const checks = opts.feed.deadlineChecks();
      const queues = (await queueDepths(opts.admin, opts.queues)).map((q) =>
        checks[q.name] === undefined ? q : { ...q, deadlineChecks: checks[q.name] },
      );
      return json(res, 200, { queues });
    }
    if (method === 'GET' && path === '/api/events') {
      return json(res, 200, { events: opts.feed.events(limitOf(url, 1_000)) });
    }
    if (method === 'GET' && path === '/api/stream') {
      openStream(req, res, opts.feed, streams);
      return;
    }
    if (method === 'POST' && path === '/api/call') {
      const body = await readJson(req);
      return json(res, 202, await call(opts.app, body));
    }
    const queueOp = /^\/api\/queues\/([^/]+)\/(purge|redrive)$/.exec(path);
    if (method === 'POST' && queueOp) {
      const name = decodeURIComponent(queueOp[1] as string);
      const q = findQueue(opts.queues, name);
      if (queueOp[2] === 'purge') {
        // `?dlq=1` (or naming the DLQ itself) purges the dead-letter queue.
        const purged = url.searchParams.get('dlq') === '1' || q.name !== name ? q.dlq : q.name;
        if (purged === undefined) throw new HttpError(404, 'NO_DLQ', `queue "${q.name}" has no dead-letter queue`);
        await opts.admin.purge(purged);
        return json(res, 200, { queue: purged });
      }
      if (q.dlq === undefined) throw new HttpError(404, 'NO_DLQ', `queue "${q.name}" has no dead-letter queue`);
      if (opts.consumer === undefined) throw new HttpError(501, 'NOT_SUPPORTED', 'this runtime cannot receive from queues');
      const moved = await redrive(opts.consumer, opts.backend.broker as Broker, q.dlq, q.name);
      return json(res, 200, { queue: q.name, dlq: q.dlq, moved });
    }
    throw new HttpError(404, 'NO_ROUTE', `no route ${method} ${path}`);
  };

  const server: Server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof HttpError) return json(res, e.status, { error: { code: e.code, message: e.message } });
      if (isCeleriacError(e)) return json(res, 400, { error: { code: e.code, message: e.message } });
      // A bad request or a failing adapter must never take `dev` down: answer 500 and go on.
      return json(res, 500, { error: { code: 'INTERNAL', message: e instanceof Error ? e.message : String(e) } });
    });
  });
  // Long-lived SSE connections would otherwise hold `close()` open.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(e.code === 'EADDRINUSE' ? new PortInUseError(port) : e);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, '127.0.0.1');
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of streams) s.end();
        streams.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

// ── handlers ─────────────────────────────────────────────────────────────────────────────────

/** A task as `GET /api/tasks/:id` returns it: the stored record wins, the feed fills in the rest. */
export interface TaskView {
  readonly id: string;
  readonly task?: string;
  readonly state: string;
  readonly ready: boolean;
  readonly result?: Json;
  readonly error?: ResultRecord['error'];
  readonly traceback?: string;
  readonly rootId?: string;
  readonly parentId?: string | null;
  readonly groupId?: string;
  readonly children?: readonly string[];
  readonly retries?: number;
  readonly queue?: string;
  readonly durationMs?: number;
  readonly dateDone?: number;
}

async function taskView(opts: DashboardOptions, id: string): Promise<TaskView | undefined> {
  const [rec, row] = [await opts.backend.store.get(id), opts.feed.get(id)];
  if (rec === undefined && row === undefined) return undefined;
  if (rec !== undefined) opts.feed.applyRecord(rec);
  const state = rec?.state ?? row?.state ?? 'PENDING';
  const pick = <K extends keyof ResultRecord>(k: K) => (rec?.[k] === undefined ? {} : { [k]: rec[k] });
  return {
    id,
    ...((rec?.task ?? row?.task) ? { task: rec?.task ?? row?.task } : {}),
    state,
    ready: isReady(state),
    ...pick('result'),
    ...pick('error'),
    ...pick('traceback'),
    ...pick('children'),
    ...pick('dateDone'),
    rootId: rec?.rootId ?? row?.rootId,
    parentId: rec?.parentId ?? row?.parentId ?? null,
    ...((rec?.groupId ?? row?.groupId) ? { groupId: rec?.groupId ?? row?.groupId } : {}),
    ...((rec?.retries ?? row?.retries) === undefined ? {} : { retries: rec?.retries ?? row?.retries }),
    ...((rec?.queue ?? row?.queue) ? { queue: rec?.queue ?? row?.queue } : {}),
    ...((rec?.durationMs ?? row?.durationMs) === undefined ? {} : { durationMs: rec?.durationMs ?? row?.durationMs }),
  } as TaskView;
}

async function workflowOf(opts: DashboardOptions, rootId: string) {
  const { feed, backend } = opts;
  // Plans with groups or chords (and big ones) travel by reference: read each once from the store.
  // The plan id is the root id for a canvas applied outside a task, so try that too.
  const refs = new Set(feed.planRefsFor(rootId));
  if (feed.plansFor(rootId).length === 0) refs.add(rootId);
  const loaded = await Promise.all([...refs].map((id) => backend.store.getPlan(id)));
  for (const p of loaded) if (p !== undefined) feed.addPlan(decodePlan(p), rootId);
  const plans = feed.plansFor(rootId);
  const rows = feed.tasksOf(rootId);
  const ids = new Set(rows.map((r) => r.id));
  for (const p of plans) for (const n of p.nodes) if (n.kind === 'task') ids.add(n.id);
  if (ids.size === 0) ids.add(rootId);
  const list = [...ids].slice(0, 1_000);
  const records = await backend.store.getMany(list);
  const statuses = new Map<string, TaskStatus>();
  const byId = new Map(rows.map((r) => [r.id, r]));
  list.forEach((id, i) => {
    const rec = records[i];
    const row = byId.get(id);
    if (rec !== undefined) {
      statuses.set(id, {
        state: rec.state,
        ...(rec.task === undefined ? {} : { task: rec.task }),
        ...((rec.durationMs ?? row?.durationMs) === undefined ? {} : { durationMs: rec.durationMs ?? row?.durationMs }),
        ...(rec.error === undefined ? {} : { error: { type: rec.error.type, message: rec.error.message, code: rec.error.code } }),
        ...(rec.parentId === undefined ? {} : { parentId: rec.parentId }),
      } as TaskStatus);
    } else if (row !== undefined) {
      statuses.set(id, row);
    }
  });
  // A lone stored task the feed never saw (an id from another process) is still a one-node workflow.
  const extra: TaskRow[] = [];
  if (rows.length === 0 && plans.length === 0 && records[0] !== undefined) {
    const r = records[0];
    extra.push({
      id: r.id,
      task: r.task ?? '?',
      state: r.state,
      rootId: r.rootId ?? r.id,
      parentId: r.parentId ?? null,
      retries: 0,
      updatedAt: 0,
    });
  }
  return workflowGraph(rootId, plans, [...rows, ...extra], statuses);
}

async function call(app: App, body: unknown): Promise<{ id: string; task: string } | AppliedCanvas> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError(400, 'BAD_REQUEST', 'expected a JSON object { task, args? } or { canvas }');
  const {
    task,
    args = [],
    countdown,
    idempotencyKey,
    canvas,
  } = body as {
    task?: unknown;
    args?: unknown;
    countdown?: unknown;
    idempotencyKey?: unknown;
    canvas?: unknown;
  };
  if (countdown !== undefined && (typeof countdown !== 'number' || !Number.isFinite(countdown) || countdown < 0)) {
    throw new HttpError(400, 'BAD_REQUEST', '"countdown" must be a non-negative number of seconds');
  }
  // Its length and characters are checked where every call's key is: by applyAsync (a 400 INVALID_OPTIONS).
  if (idempotencyKey !== undefined && typeof idempotencyKey !== 'string') {
    throw new HttpError(400, 'BAD_REQUEST', '"idempotencyKey" must be a string');
  }
  const options = requestCallOptions({
    ...(countdown === undefined ? {} : { countdown }),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  });
  if (canvas !== undefined) {
    if (task !== undefined || (body as { args?: unknown }).args !== undefined) {
      throw new HttpError(400, 'BAD_REQUEST', 'give either { task, args } or { canvas }, not both');
    }
    return applyCanvasJson(app, canvas, options);
  }
  if (typeof task !== 'string' || task === '') throw new HttpError(400, 'BAD_REQUEST', '"task" must be a task name');
  if (!Array.isArray(args)) throw new HttpError(400, 'BAD_REQUEST', '"args" must be an array');
  if (!app.taskNames().includes(task)) {
    throw new HttpError(404, 'UNKNOWN_TASK', `app "${app.name}" has no task "${task}"; its tasks are: ${app.taskNames().join(', ')}`);
  }
  const r = await app.sendTask(task, args, options);
  return { id: r.id, task };
}

function findQueue(queues: readonly QueueRef[], name: string): QueueRef {
  const q = queues.find((x) => x.name === name || x.dlq === name);
  if (q === undefined) {
    throw new HttpError(404, 'UNKNOWN_QUEUE', `no queue "${name}"; queues are: ${queues.map((x) => x.name).join(', ')}`);
  }
  return q;
}

function openStream(req: IncomingMessage, res: ServerResponse, feed: TaskFeed, streams: Set<ServerResponse>): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
  res.write(`retry: 1000\nevent: hello\ndata: ${JSON.stringify({ version: feed.version })}\n\n`);
  streams.add(res);
  let rows = new Map<string, TaskRow>();
  let bus: BusEvent[] = [];
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (rows.size > STREAM_MAX_ROWS) res.write(`event: reload\ndata: ${JSON.stringify({ version: feed.version })}\n\n`);
    else if (rows.size > 0) res.write(`event: tasks\ndata: ${JSON.stringify([...rows.values()])}\n\n`);
    for (const e of bus) res.write(`event: bus\ndata: ${JSON.stringify(e)}\n\n`);
    rows = new Map();
    bus = [];
  };
  const off = feed.onChange((c: FeedChange) => {
    if (c.kind === 'task') rows.set(c.row.id, c.row);
    else bus.push(c.event);
    timer ??= setTimeout(flush, STREAM_FLUSH_MS);
  });
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), STREAM_HEARTBEAT_MS);
  const done = () => {
    off();
    clearInterval(heartbeat);
    if (timer !== undefined) clearTimeout(timer);
    streams.delete(res);
  };
  req.on('close', done);
  res.on('close', done);
}

// ── helpers ──────────────────────────────────────────────────────────────────────────────────

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

function limitOf(url: URL, max: number): number {
  const n = Number(url.searchParams.get('limit') ?? max);
  return Number.isInteger(n) && n > 0 ? Math.min(n, max) : max;
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return text === '' ? {} : JSON.parse(text);
  } catch {
    throw new HttpError(400, 'BAD_JSON', 'request body is not JSON');
  }
}

/** Only loopback names: a DNS-rebinding page cannot reach the API under its own host name. */
function hostAllowed(host: string | undefined, port: number): boolean {
  if (host === undefined) return true;
  return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, '127.0.0.1', 'localhost'].includes(host.toLowerCase());
}

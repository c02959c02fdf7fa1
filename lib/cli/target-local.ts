/** The {@link Target} of a running `celeriac dev`: its dashboard's JSON API over loopback HTTP. */
import type { BusEvent } from '../ports';
import type { DevState } from './dev-state';
import { CliError, ExitCodes, notFound, usage } from './errors';
import type { AppliedCanvas, ApplyRequest, CallRequest, FollowOptions, QueueDepth, Target, TaskRow, TaskView } from './target';

/** How long a request to the local server may take before the dev run counts as unreachable. */
const REQUEST_TIMEOUT_MS = 10_000;

interface ApiError {
  readonly error?: { readonly code?: string; readonly message?: string };
}

/** Maps the server's error codes to exit codes: what the user got wrong vs. what is not there. */
const CODE_EXIT: Readonly<Record<string, (m: string) => CliError>> = {
  UNKNOWN_TASK: usage,
  BAD_REQUEST: usage,
  BAD_JSON: usage,
  NOT_FOUND: notFound,
  UNKNOWN_QUEUE: notFound,
  NO_DLQ: notFound,
};

export class LocalTarget implements Target {
  readonly kind = 'local' as const;
  readonly label: string;
  readonly pollMs = 50;
  readonly #url: string;

  constructor(url: string, state?: DevState) {
    this.#url = url.replace(/\/+$/, '');
    this.label = state ? `local dev ${this.#url} (app ${state.app}, ${state.mode}, pid ${state.pid})` : `local dev ${this.#url}`;
  }

  /** Checks that the server answers; resolves its `/api/info`. */
  async probe(timeoutMs = 1_500): Promise<{ app: string; mode: string }> {
    return (await this.#request('GET', '/api/info', undefined, timeoutMs)) as { app: string; mode: string };
  }

  async call(req: CallRequest): Promise<{ id: string; task: string }> {
    return (await this.#request('POST', '/api/call', req)) as { id: string; task: string };
  }

  async apply(req: ApplyRequest): Promise<AppliedCanvas> {
    return (await this.#request('POST', '/api/call', req)) as AppliedCanvas;
  }

  async result(id: string): Promise<TaskView | undefined> {
    try {
      return (await this.#request('GET', `/api/tasks/${encodeURIComponent(id)}`)) as TaskView;
    } catch (e) {
      if (e instanceof CliError && e.exitCode === ExitCodes.NOT_FOUND) return undefined;
      throw e;
    }
  }

  async queues(): Promise<QueueDepth[]> {
    return ((await this.#request('GET', '/api/queues')) as { queues: QueueDepth[] }).queues;
  }

  async recentTasks(limit: number): Promise<TaskRow[]> {
    return ((await this.#request('GET', `/api/tasks?limit=${limit}`)) as { tasks: TaskRow[] }).tasks;
  }

  async purge(queue: string, dlq: boolean): Promise<string> {
    const r = (await this.#request('POST', `/api/queues/${encodeURIComponent(queue)}/purge${dlq ? '?dlq=1' : ''}`, {})) as {
      queue: string;
    };
    return r.queue;
  }

  async redrive(queue: string): Promise<{ queue: string; dlq: string; moved: number }> {
    return (await this.#request('POST', `/api/queues/${encodeURIComponent(queue)}/redrive`, {})) as {
      queue: string;
      dlq: string;
      moved: number;
    };
  }

  async recentEvents(limit: number): Promise<BusEvent[]> {
    return ((await this.#request('GET', `/api/events?limit=${limit}`)) as { events: BusEvent[] }).events;
  }

  /** Reads the server's SSE stream and hands on its `bus` events. */
  async follow(opts: FollowOptions): Promise<void> {
    let res: Response;
    try {
      res = await fetch(`${this.#url}/api/stream`, { signal: opts.signal, headers: { accept: 'text/event-stream' } });
    } catch (e) {
      if (opts.signal.aborted) return;
      throw this.#unreachable(e);
    }
    if (!res.ok || res.body === null) throw notFound(`the dev server at ${this.#url} refused the event stream (HTTP ${res.status})`);
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = frame
            .split('\n')
            .filter((l) => l.startsWith('data: '))
            .map((l) => l.slice(6))
            .join('\n');
          if (event === 'hello') opts.onReady?.();
          else if (event === 'bus' && data !== '') opts.onEvent(JSON.parse(data) as BusEvent);
          if (opts.signal.aborted) return;
        }
      }
    } catch (e) {
      if (opts.signal.aborted) return;
      throw notFound(`lost the event stream of the dev server at ${this.#url}: ${(e as Error).message}`);
    }
    if (!opts.signal.aborted) throw notFound(`the dev server at ${this.#url} stopped`);
  }

  async close(): Promise<void> {}

  async #request(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.#url}${path}`, {
        method,
        signal: AbortSignal.timeout(timeoutMs),
        headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (e) {
      throw this.#unreachable(e);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw notFound(`${this.#url} does not look like a celeriac dev server (answered ${res.status} with non-JSON)`);
    }
    if (res.ok) return parsed;
    const err = (parsed as ApiError).error;
    const message = err?.message ?? `HTTP ${res.status}`;
    const make = err?.code === undefined ? undefined : CODE_EXIT[err.code];
    if (make !== undefined) throw make(message);
    // Errors the app raised for the call (invalid args, too large…) are the caller's to fix.
    if (res.status === 400) throw usage(message);
    throw new CliError(ExitCodes.TASK_FAILED, `the dev server failed: ${message}`);
  }

  #unreachable(e: unknown): CliError {
    const why = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
    return notFound(`the celeriac dev server at ${this.#url} is not reachable (${why}); start it with \`celeriac dev\``);
  }
}

/**
 * The {@link Target} of a deployed stack (AWS or LocalStack): the AWS adapters, configured from
 * the stack's outputs — the lib/config.ts environment keys, or `--outputs cdk-outputs.json`.
 */
import { type AwsBackend, awsBackendFromEnv } from '../adapters/aws';
import { tailAwsEvents } from '../adapters/aws/event-tail';
import { EMULATOR_CLIENT_CONFIG } from '../adapters/aws/provision';
import { type App, createApp } from '../app';
import { applyCanvasJson, type JsonCanvasHost, requestCallOptions } from '../canvas/json';
import { type CeleriacConfig, ENV, loadConfig } from '../config';
import { isCeleriacError } from '../errors';
import { queueDepths, redrive } from '../local/dashboard/ops';
import type { BusEvent } from '../ports';
import { isReady } from '../results/states';
import { notFound, usage } from './errors';
import type { AppliedCanvas, ApplyRequest, CallRequest, FollowOptions, QueueDepth, Target, TaskRow, TaskView } from './target';

const missing = (key: string, what: string): Error =>
  notFound(`missing stack output: ${key} (${what}) is not set; export it or pass --outputs cdk-outputs.json`);

export class AwsTarget implements Target {
  readonly kind = 'aws' as const;
  readonly label: string;
  readonly pollMs = 500;
  readonly #config: CeleriacConfig;
  readonly #backend: AwsBackend;
  readonly #app: App;
  /** Whether the app's own module was loaded (so its task names and queues are known). */
  readonly #appLoaded: boolean;

  /**
   * @param env process.env merged with the stack's outputs.
   * @param app the app module's app, if one was loaded (task names and queues); else a bare one.
   */
  constructor(env: Readonly<Record<string, string | undefined>>, app: App | undefined) {
    let config: CeleriacConfig;
    try {
      config = loadConfig(env);
    } catch (e) {
      throw usage(isCeleriacError(e) ? e.message : String(e));
    }
    if (config.table === undefined || config.table === '') throw missing(ENV.table, 'the results table');
    this.#config = config;
    this.#backend = awsBackendFromEnv(env, upStackWithoutCredentials(env) ? { clientConfig: EMULATOR_CLIENT_CONFIG } : {});
    this.#appLoaded = app !== undefined;
    this.#app = app ?? createApp({ name: config.app ?? 'celeriac', logger: { debug() {}, info() {}, warn() {}, error() {} } });
    this.#app.use(this.#backend);
    this.label = `${this.#backend.kind} stack (table ${config.table}${config.endpoint ? `, endpoint ${config.endpoint}` : ''})`;
  }

  async call(req: CallRequest): Promise<{ id: string; task: string }> {
    if (this.#appLoaded && !this.#app.taskNames().includes(req.task)) {
      throw usage(`app "${this.#app.name}" has no task "${req.task}"; its tasks are: ${this.#app.taskNames().join(', ')}`);
    }
    const queue = this.#app.queueOf(req.task);
    const urls = this.#config.queueUrls;
    if (Object.keys(urls).length === 0) throw missing(ENV.queueUrls, 'queue name → URL');
    if (urls[queue] === undefined) {
      throw notFound(
        `missing stack output: ${ENV.queueUrls} has no queue "${queue}" (it has: ${Object.keys(urls).join(', ')}); redeploy the stack`,
      );
    }
    const r = await this.#app.sendTask(req.task, req.args, requestCallOptions(req));
    return { id: r.id, task: req.task };
  }

  async apply(req: ApplyRequest): Promise<AppliedCanvas> {
    if (Object.keys(this.#config.queueUrls).length === 0) throw missing(ENV.queueUrls, 'queue name → URL');
    // Without the app module this target knows no task names: it sends by name, as sendTask does.
    const app = this.#app;
    const host: JsonCanvasHost = this.#appLoaded
      ? app
      : { name: app.name, applyCanvas: (canvas, args, options) => app.applyCanvas(canvas, args, options) };
    return applyCanvasJson(host, req.canvas, requestCallOptions(req));
  }

  async result(id: string): Promise<TaskView | undefined> {
    const rec = await this.#backend.store.get(id);
    if (rec === undefined) return undefined;
    const { cont: _c, lease: _l, kwargs: _k, meta: _m, revokedBy: _r, startedAt: _s, args: _a, ...rest } = rec;
    return { ...rest, ready: isReady(rec.state) };
  }

  async queues(): Promise<QueueDepth[]> {
    const refs = this.#queueRefs();
    const depths = await queueDepths(this.#backend.broker, refs);
    // Show DLQs by name, not URL.
    return depths.map((d) => (d.dlq === undefined ? d : { ...d, dlq: { ...d.dlq, name: nameOfUrl(d.dlq.name) } }));
  }

  async recentTasks(): Promise<TaskRow[] | undefined> {
    return undefined;
  }

  async purge(queue: string, dlq: boolean): Promise<string> {
    const ref = this.#queue(queue);
    if (dlq) {
      if (ref.dlq === undefined) throw missing(ENV.dlqUrls, `the dead-letter queue of "${queue}"`);
      await this.#backend.broker.purge(ref.dlq);
      return nameOfUrl(ref.dlq);
    }
    await this.#backend.broker.purge(queue);
    return queue;
  }

  async redrive(queue: string): Promise<{ queue: string; dlq: string; moved: number }> {
    const ref = this.#queue(queue);
    if (ref.dlq === undefined) throw missing(ENV.dlqUrls, `the dead-letter queue of "${queue}"`);
    const moved = await redrive(this.#backend.broker, this.#backend.broker, ref.dlq, queue);
    return { queue, dlq: nameOfUrl(ref.dlq), moved };
  }

  async recentEvents(): Promise<BusEvent[]> {
    throw usage('EventBridge keeps no event history; use `celeriac events --follow` to see events from now on');
  }

  follow(opts: FollowOptions): Promise<void> {
    return tailAwsEvents(this.#backend, this.#config.app ?? this.#app.name, this.#config.bus, opts);
  }

  async close(): Promise<void> {
    this.#backend.destroy();
  }

  #queueRefs(): { name: string; dlq?: string }[] {
    const urls = this.#config.queueUrls;
    if (Object.keys(urls).length === 0) throw missing(ENV.queueUrls, 'queue name → URL');
    return Object.keys(urls).map((name) => {
      const dlq = this.#config.dlqUrls[name];
      return dlq === undefined ? { name } : { name, dlq };
    });
  }

  #queue(name: string): { name: string; dlq?: string } {
    const refs = this.#queueRefs();
    const ref = refs.find((r) => r.name === name);
    if (ref === undefined) throw notFound(`no queue "${name}" in the stack outputs (queues: ${refs.map((r) => r.name).join(', ')})`);
    return ref;
  }
}

function nameOfUrl(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/**
 * True for a stack run by `celeriac up` (its outputs point every service at loopback) when no AWS
 * credentials are set: the emulators take any, so the CLI signs with the emulators' own.
 */
function upStackWithoutCredentials(env: Readonly<Record<string, string | undefined>>): boolean {
  const endpoints = ['AWS_ENDPOINT_URL_SQS', 'AWS_ENDPOINT_URL_DYNAMODB'].map((k) => env[k]);
  const loopback = endpoints.every((e) => e !== undefined && /^http:\/\/127\.0\.0\.1:\d+$/.test(e));
  return loopback && !env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE;
}

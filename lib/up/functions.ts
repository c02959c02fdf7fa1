/**
 * Local Lambda functions: each `AWS::Lambda::Function` of the template runs its bundled asset in
 * worker threads, one execution environment per concurrent invocation — each with its own
 * environment variables (the template's, resolved) and its own module instance, as on Lambda. An
 * environment handles one invocation at a time and is reused (a warm start); one that times out,
 * runs out of memory or crashes is ended and replaced by a cold one.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { BOOTSTRAP } from './function-runtime';
import { TemplateError } from './template';

/** What a function is built from: the template's properties, resolved, plus where its code is. */
export interface FunctionSpec {
  readonly logicalId: string;
  readonly name: string;
  readonly arn: string;
  /** The asset directory (LAMBDA_TASK_ROOT). */
  readonly codeDir: string;
  /** `file.export`, as in the template. */
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** The whole environment of the function: the template's variables plus Lambda's own. */
  readonly environment: Readonly<Record<string, string>>;
  /** The role's logical id (for the IAM check). */
  readonly roleLogicalId?: string;
  readonly logGroupName: string;
}

/** An invocation's outcome, as Lambda reports it: the JSON result, or the function error. */
export type InvokeOutcome =
  | { readonly ok: true; readonly result: unknown }
  | {
      readonly ok: false;
      readonly error: { readonly errorType: string; readonly errorMessage: string; readonly trace?: readonly string[] };
    };

/** The Lambda runtimes the local host runs: Node.js ones (the bundle runs on this process's Node). */
const NODE_RUNTIME = /^nodejs(\d+)\.x$/;
/** Extensions the Lambda Node.js runtime looks for, in its order. */
const HANDLER_EXTENSIONS = ['.js', '.mjs', '.cjs'];

/**
 * Checks the template's function properties and finds the handler's file. Throws a
 * {@link TemplateError} for a runtime other than Node.js, a handler that names no file of the
 * asset, or a missing asset.
 */
export function handlerEntry(logicalId: string, codeDir: string, handler: string, runtime: string): { entry: string; exportName: string } {
  if (!NODE_RUNTIME.test(runtime))
    throw new TemplateError(logicalId, `runtime ${runtime} is not run by \`celeriac up\` (Node.js runtimes only)`);
  const dot = handler.lastIndexOf('.');
  if (dot <= 0) throw new TemplateError(logicalId, `handler "${handler}" is not of the form file.export`);
  const base = handler.slice(0, dot);
  const exportName = handler.slice(dot + 1);
  for (const ext of HANDLER_EXTENSIONS) {
    const entry = join(codeDir, base + ext);
    if (existsSync(entry)) return { entry, exportName };
  }
  throw new TemplateError(logicalId, `handler "${handler}": no ${base}.js, ${base}.mjs or ${base}.cjs in its asset ${codeDir}`);
}

interface Environment {
  readonly worker: Worker;
  busy: boolean;
  /** Settles the invocation in flight when the environment dies under it. */
  fail?: (error: { errorType: string; errorMessage: string }) => void;
}

export interface LocalFunctionOptions {
  /** Where the function's log lines go, prefixed by its name. */
  readonly log: (line: string) => void;
}

/** One function's execution environments. */
export class LocalFunction {
  readonly spec: FunctionSpec;
  readonly #entry: { entry: string; exportName: string };
  readonly #envs = new Set<Environment>();
  readonly #log: (line: string) => void;
  #invocations = 0;
  #coldStarts = 0;
  #stopped = false;

  constructor(spec: FunctionSpec, options: LocalFunctionOptions) {
    this.spec = spec;
    this.#entry = handlerEntry(spec.logicalId, spec.codeDir, spec.handler, spec.runtime);
    this.#log = options.log;
  }

  /** Invocations so far. */
  get invocations(): number {
    return this.#invocations;
  }

  /** Execution environments started so far (cold starts). */
  get coldStarts(): number {
    return this.#coldStarts;
  }

  /**
   * Invokes the function with `event` (synchronously, as the SQS poller and EventBridge's
   * asynchronous invoke both wait for the outcome). Never rejects: a function error, a crash, a
   * timeout (`Sandbox.Timedout`) or running out of memory is the outcome.
   */
  invoke(event: unknown): Promise<InvokeOutcome> {
    if (this.#stopped) return Promise.resolve(failure('Runtime.Stopped', `${this.spec.name} is stopped`));
    this.#invocations++;
    const env = this.#idle() ?? this.#start();
    env.busy = true;
    const requestId = randomUUID();
    const timeoutMs = this.spec.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    return new Promise<InvokeOutcome>((resolve) => {
      let settled = false;
      const settle = (outcome: InvokeOutcome, reusable: boolean): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        env.worker.off('message', onMessage);
        env.fail = undefined;
        env.busy = false;
        if (!reusable) this.#end(env);
        resolve(outcome);
      };
      const onMessage = (m: { id: string; ok: boolean; result?: string; error?: { errorType: string; errorMessage: string } }): void => {
        if (m.id !== requestId) return;
        settle(
          m.ok
            ? { ok: true, result: m.result === undefined ? undefined : JSON.parse(m.result) }
            : { ok: false, error: m.error ?? { errorType: 'Error', errorMessage: 'unknown' } },
          true,
        );
      };
      // Lambda ends the environment at the timeout: nothing of the invocation runs on.
      const timer = setTimeout(
        () => settle(failure('Sandbox.Timedout', `Task timed out after ${this.spec.timeoutSeconds.toFixed(2)} seconds`), false),
        timeoutMs,
      );
      env.fail = (error) => settle({ ok: false, error }, false);
      env.worker.on('message', onMessage);
      env.worker.postMessage({ id: requestId, requestId, event, deadline });
    });
  }

  /** Ends every execution environment. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.allSettled([...this.#envs].map((e) => this.#end(e)));
  }

  #idle(): Environment | undefined {
    for (const e of this.#envs) if (!e.busy) return e;
    return undefined;
  }

  #start(): Environment {
    this.#coldStarts++;
    const s = this.spec;
    const worker = new Worker(BOOTSTRAP, {
      eval: true,
      // Its own copy of the environment: nothing of this process's leaks in, nothing leaks out.
      env: { ...s.environment },
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: s.memoryMb },
      workerData: {
        entry: this.#entry.entry,
        exportName: this.#entry.exportName,
        handler: s.handler,
        functionName: s.name,
        functionArn: s.arn,
        memoryMb: s.memoryMb,
        logGroupName: s.logGroupName,
        logStreamName: `local/[$LATEST]${randomUUID().replaceAll('-', '')}`,
        sourceMaps: (s.environment.NODE_OPTIONS ?? '').includes('--enable-source-maps'),
      },
    });
    const env: Environment = { worker, busy: false };
    this.#pipe(worker.stdout);
    this.#pipe(worker.stderr);
    worker.on('error', (e: Error & { code?: string }) => {
      const oom = e.code === 'ERR_WORKER_OUT_OF_MEMORY';
      env.fail?.(
        oom
          ? { errorType: 'Runtime.OutOfMemory', errorMessage: `Runtime exited with error: the function ran out of its ${s.memoryMb} MB` }
          : { errorType: e.name || 'Runtime.ExitError', errorMessage: e.message },
      );
      this.#envs.delete(env);
    });
    worker.on('exit', (code) => {
      env.fail?.({ errorType: 'Runtime.ExitError', errorMessage: `Runtime exited with error: exit status ${code}` });
      this.#envs.delete(env);
    });
    this.#envs.add(env);
    return env;
  }

  async #end(env: Environment): Promise<void> {
    this.#envs.delete(env);
    await env.worker.terminate().catch(() => {});
  }

  #pipe(stream: NodeJS.ReadableStream): void {
    let rest = '';
    stream.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) this.#log(`${this.spec.name} | ${line}`);
    });
  }
}

function failure(errorType: string, errorMessage: string): InvokeOutcome {
  return { ok: false, error: { errorType, errorMessage } };
}

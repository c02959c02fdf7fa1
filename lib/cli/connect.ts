/**
 * Picks the {@link Target} a command acts on: `--target local|aws`, or (default `auto`) the
 * `celeriac dev` recorded in `.celeriac/dev.json` when it answers, else the stack named by the
 * environment or `--outputs`.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ENV } from '../config';
import { DEFAULT_APP_MODULE, loadApp } from './app-module';
import { readDevState } from './dev-state';
import { notFound, usage } from './errors';
import { envFromOutputs } from './outputs';
import type { Target } from './target';
import { LocalTarget } from './target-local';

/** The options every client command takes. */
export interface TargetOptions {
  readonly target?: string;
  /** A dev server URL: skips `.celeriac/dev.json`. */
  readonly devUrl?: string;
  readonly outputs?: string;
  readonly stack?: string;
  /** App module for the AWS target (task names and queues). */
  readonly app?: string;
}

/**
 * Opens the target. The caller closes it.
 *
 * @param env process.env at the edge (handed to lib/config.ts, the one env reader).
 */
export async function openTarget(
  o: TargetOptions,
  env: Readonly<Record<string, string | undefined>>,
  cwd = process.cwd(),
): Promise<Target> {
  const where = o.target ?? 'auto';
  if (where !== 'auto' && where !== 'local' && where !== 'aws') throw usage(`--target must be local, aws or auto, got "${where}"`);

  if (where !== 'aws') {
    const state = o.devUrl === undefined ? readDevState(cwd) : undefined;
    const url = o.devUrl ?? state?.url;
    if (url !== undefined) {
      const local = new LocalTarget(url, state);
      try {
        await local.probe();
        return local;
      } catch (e) {
        if (where === 'local' || o.devUrl !== undefined) {
          throw notFound(
            `the celeriac dev server at ${url} is not reachable${state ? ' (stale .celeriac/dev.json?)' : ''}; start it with \`celeriac dev\``,
          );
        }
        if (!stackConfigured(o, env)) {
          throw notFound(
            `the celeriac dev server recorded in .celeriac/dev.json (${url}) is not reachable; start it with \`celeriac dev\`, or point at a stack with --outputs cdk-outputs.json`,
          );
        }
        void e;
      }
    } else if (where === 'local') {
      throw notFound('no celeriac dev is running here (.celeriac/dev.json not found); start one with `celeriac dev`');
    }
  }

  const merged = o.outputs === undefined ? env : { ...env, ...envFromOutputs(resolve(cwd, o.outputs), o.stack) };
  if (!hasStackConfig(merged)) {
    throw notFound(
      where === 'aws'
        ? 'missing stack output: CELERIAC_TABLE is not set; export the stack outputs (CELERIAC_TABLE, CELERIAC_QUEUE_URLS, …) or pass --outputs cdk-outputs.json'
        : 'nothing to talk to: no `celeriac dev` is running here and no stack is configured; start `celeriac dev`, or pass --outputs cdk-outputs.json (or set CELERIAC_TABLE, CELERIAC_QUEUE_URLS, …)',
    );
  }
  const appPath = o.app ?? (existsSync(resolve(cwd, DEFAULT_APP_MODULE)) ? DEFAULT_APP_MODULE : undefined);
  const app = appPath === undefined ? undefined : await loadApp(appPath, cwd);
  // Loaded on demand: the AWS SDK takes a quarter of a second to import, which local commands never need.
  const { AwsTarget } = await import('./target-aws');
  return new AwsTarget(merged, app);
}

/** True when the environment names a stack (at least its table). */
function hasStackConfig(env: Readonly<Record<string, string | undefined>>): boolean {
  return (env[ENV.table] ?? '') !== '';
}

function stackConfigured(o: TargetOptions, env: Readonly<Record<string, string | undefined>>): boolean {
  return o.outputs !== undefined || hasStackConfig(env);
}

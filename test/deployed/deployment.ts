/**
 * The deployment the deployed suite talks to, chosen by ONE variable:
 *
 *   CELERIAC_DEPLOYED_OUTPUTS=cdk-outputs.local.json   a real deployment (LocalStack or AWS)
 *   (unset)                                            the synthesized example stack under `celeriac up`
 *
 * A real deployment is known only through its `cdk deploy --outputs-file` file and the usual AWS
 * environment: AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> (LocalStack; unset for AWS), region
 * and credentials. With an endpoint and no credentials in the environment, LocalStack's `test`
 * credentials and region us-east-1 are used.
 *
 * Otherwise the example stack is synthesized (cached: ./shop-assembly.ts) and run by the CLI's
 * `celeriac up` in a child process: the template, its bundles and its settings, on the local
 * emulators. Its outputs file (the `cdk deploy` shape plus the local endpoints) is what the suite
 * reads. It is stopped by {@link Deployment.close} — or exits by itself when this process dies
 * (`--until-stdin-closes`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AwsClientConfig } from '../../lib/adapters/aws';
import { EMULATOR_CLIENT_CONFIG } from '../../lib/adapters/aws/provision';
import { UP_READY } from '../../lib/cli/commands/up';
import { envFromOutputs } from '../../lib/cli/outputs';
import { ensureShopAssembly } from './shop-assembly';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = fileURLToPath(new URL('../../bin/celeriac.mjs', import.meta.url));
/** `up`'s start-up budget: tsx compile of the CLI, emulators, the stack's resources. */
const UP_START_MS = 30_000;

export interface Deployment {
  readonly kind: 'deployed' | 'up';
  /** What the suite runs against, for test names. */
  readonly label: string;
  /** The environment the AWS backend is built from: AWS settings plus the stack's CELERIAC_* outputs. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Client settings (credentials, region) that do not come from `env`. */
  readonly clientConfig: AwsClientConfig;
  /** The outputs file the suite read. */
  readonly outputsFile: string;
  /** `celeriac up`'s recent output, to explain a failure (empty for a real deployment). */
  logs(): string;
  /** Stops `celeriac up` (a real deployment is left alone). */
  close(): Promise<void>;
}

/** The outputs file of the real deployment to test, if one is named (`CELERIAC_DEPLOYED_OUTPUTS`). */
export function deployedOutputsFile(env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  const file = env.CELERIAC_DEPLOYED_OUTPUTS?.trim();
  return file ? resolve(file) : undefined;
}

/** The deployment named by `CELERIAC_DEPLOYED_OUTPUTS` (`CELERIAC_DEPLOYED_STACK` picks a stack), or the example stack under `celeriac up`. */
export async function openDeployment(env: Readonly<Record<string, string | undefined>> = process.env): Promise<Deployment> {
  const file = deployedOutputsFile(env);
  return file === undefined ? up(ensureShopAssembly()) : deployed(file, env);
}

function deployed(file: string, env: Readonly<Record<string, string | undefined>>): Deployment {
  const fromOutputs = envFromOutputs(file, env.CELERIAC_DEPLOYED_STACK || undefined);
  const endpoint = env.AWS_ENDPOINT_URL || env.AWS_ENDPOINT_URL_SQS || env.AWS_ENDPOINT_URL_DYNAMODB;
  const hasCredentials = Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE);
  const clientConfig: AwsClientConfig =
    endpoint !== undefined && !hasCredentials ? { credentials: { accessKeyId: 'test', secretAccessKey: 'test' } } : {};
  return {
    kind: 'deployed',
    label: `deployment ${file}${endpoint ? ` at ${endpoint}` : ' on AWS'}`,
    env: {
      ...env,
      ...(endpoint !== undefined && !env.AWS_REGION && !env.AWS_DEFAULT_REGION ? { AWS_REGION: 'us-east-1' } : {}),
      ...fromOutputs,
    },
    clientConfig,
    outputsFile: file,
    logs: () => '',
    close: async () => {},
  };
}

/** Runs `celeriac up --app <assembly>` in a child process and reads its outputs file. */
export async function up(assembly: string): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-up-'));
  const outputsFile = join(dir, 'cdk-outputs.json');
  // Nothing of this machine's stack configuration reaches `up`.
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CELERIAC_') && !k.startsWith('AWS_')) childEnv[k] = v;
  // process.execPath is the node the tests run on (the project's Node 24 under npm scripts).
  const child = spawn(process.execPath, [CLI, 'up', '--app', assembly, '--outputs-file', outputsFile, '--until-stdin-closes'], {
    cwd: ROOT,
    env: { ...childEnv, NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer): void => {
    // Only the tail: the functions log every task.
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await ready(child, () => output);
  } catch (e) {
    await close();
    throw e;
  }
  return {
    kind: 'up',
    label: `the synthesized example stack under celeriac up (${assembly})`,
    env: envFromOutputs(outputsFile),
    clientConfig: EMULATOR_CLIENT_CONFIG,
    outputsFile,
    logs: () => output,
    close,
  };
}

function ready(child: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolveReady, reject) => {
    const check = (): void => {
      if (output().includes(UP_READY)) done();
    };
    const onExit = (code: number | null): void => done(new Error(`celeriac up exited (${code}) before it was ready:\n${output()}`));
    const timer = setTimeout(() => done(new Error(`celeriac up was not ready after ${UP_START_MS} ms:\n${output()}`)), UP_START_MS);
    const done = (error?: Error): void => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolveReady();
    };
    child.stdout?.on('data', check);
    child.once('exit', onExit);
    check();
  });
}

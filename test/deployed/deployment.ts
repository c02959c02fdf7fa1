/**
 * The deployment the deployed suite talks to, chosen by ONE variable:
 *
 *   CELERIAC_DEPLOYED_OUTPUTS=cdk-outputs.local.json   a real deployment (LocalStack or AWS)
 *   (unset)                                            a stand-in deployment started here
 *
 * A real deployment is known only through its `cdk deploy --outputs-file` file and the usual AWS
 * environment: AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> (LocalStack; unset for AWS), region
 * and credentials. With an endpoint and no credentials in the environment, LocalStack's `test`
 * credentials and region us-east-1 are used.
 *
 * The stand-in is test/deployed/stand-in.ts in a child process (node + tsx, as the project runs
 * TypeScript): the example app under local mode, `emulated`. It hands over the same outputs file
 * plus a small endpoints file, and is killed by {@link Deployment.close} — or exits by itself
 * when this process dies (its stdin closes).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AwsClientConfig } from '../../lib/adapters/aws';
import { envFromOutputs } from '../../lib/cli/outputs';
import { EMULATOR_CLIENT_CONFIG } from '../../lib/local';
import { ENDPOINTS_FILE, OUTPUTS_FILE, READY } from './stand-in';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STAND_IN = fileURLToPath(new URL('./stand-in.ts', import.meta.url));
/** The stand-in's start-up budget: tsx compile, emulators, queues and table. */
const STAND_IN_START_MS = 30_000;

export interface Deployment {
  readonly kind: 'deployed' | 'stand-in';
  /** What the suite runs against, for test names. */
  readonly label: string;
  /** The environment the AWS backend is built from: AWS settings plus the stack's CELERIAC_* outputs. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Client settings (credentials, region) that do not come from `env`. */
  readonly clientConfig: AwsClientConfig;
  /** The stand-in's recent output, to explain a failure (empty for a real deployment). */
  logs(): string;
  /** Stops the stand-in (a real deployment is left alone). */
  close(): Promise<void>;
}

/** The outputs file of the real deployment to test, if one is named (`CELERIAC_DEPLOYED_OUTPUTS`). */
export function deployedOutputsFile(env: Readonly<Record<string, string | undefined>> = process.env): string | undefined {
  const file = env.CELERIAC_DEPLOYED_OUTPUTS?.trim();
  return file ? resolve(file) : undefined;
}

/** The deployment named by `CELERIAC_DEPLOYED_OUTPUTS` (`CELERIAC_DEPLOYED_STACK` picks a stack), or a fresh stand-in. */
export async function openDeployment(env: Readonly<Record<string, string | undefined>> = process.env): Promise<Deployment> {
  const file = deployedOutputsFile(env);
  return file === undefined ? standIn() : deployed(file, env);
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
    logs: () => '',
    close: async () => {},
  };
}

async function standIn(): Promise<Deployment> {
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-stand-in-'));
  // Nothing of this machine's stack configuration reaches the stand-in.
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CELERIAC_') && !k.startsWith('AWS_')) childEnv[k] = v;
  // process.execPath is the node the tests run on (the project's Node 24 under npm scripts).
  const child = spawn(process.execPath, ['--import', 'tsx', STAND_IN, dir], {
    cwd: ROOT,
    env: { ...childEnv, NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (d: Buffer): void => {
    // Only the tail: the example app's subscriber logs every lifecycle event.
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
  const fromOutputs = envFromOutputs(join(dir, OUTPUTS_FILE));
  const endpoints = JSON.parse(readFileSync(join(dir, ENDPOINTS_FILE), 'utf8')) as Record<string, string>;
  return {
    kind: 'stand-in',
    label: 'the stand-in deployment (local mode, emulated, in a child process)',
    env: { ...endpoints, ...fromOutputs },
    clientConfig: EMULATOR_CLIENT_CONFIG,
    logs: () => output,
    close,
  };
}

function ready(child: ChildProcess, output: () => string): Promise<void> {
  return new Promise((resolveReady, reject) => {
    const check = (): void => {
      if (output().includes(READY)) done();
    };
    const onExit = (code: number | null): void =>
      done(new Error(`the stand-in deployment exited (${code}) before it was ready:\n${output()}`));
    const timer = setTimeout(
      () => done(new Error(`the stand-in deployment was not ready after ${STAND_IN_START_MS} ms:\n${output()}`)),
      STAND_IN_START_MS,
    );
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

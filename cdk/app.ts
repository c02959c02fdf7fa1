/**
 * The CDK app deploying the example app (functions/app.ts): `npx cdk synth`, `npx cdk deploy`.
 * cdk.json runs this file with tsx.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { App, type AppProps, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { AppTopologyInput } from '../lib/routing';
import { CeleriacStack, type CeleriacStackProps } from './stack';

/** The module exporting the app to deploy (it exports `app` with `topology()`). */
export const APP_MODULE = new URL('../functions/app.ts', import.meta.url);

/**
 * Reads the topology of the app exported by `module` — the one place cdk/ touches the app's code.
 * The import is dynamic so that synthesising a literal topology (tests) never loads it.
 */
export async function loadAppTopology(module: URL = APP_MODULE): Promise<AppTopologyInput> {
  const mod = (await import(module.href)) as { app?: { topology?: () => AppTopologyInput } };
  if (typeof mod.app?.topology !== 'function') {
    throw new Error(`${fileURLToPath(module)} must export \`app\` (createApp(...)), whose topology() the stack deploys`);
  }
  return mod.app.topology();
}

export interface CreateCdkAppOptions {
  readonly appProps?: AppProps;
  /** @default `celeriac-<app name>` */
  readonly stackName?: string;
  readonly runner?: CeleriacStackProps['runner'];
}

/**
 * Builds the CDK app for a topology, with cdk-nag's AWS Solutions checks registered so that
 * synthesis fails on any unacknowledged finding.
 */
export function createCdkApp(topology: AppTopologyInput, options: CreateCdkAppOptions = {}): { app: App; stack: CeleriacStack } {
  const app = new App(options.appProps);
  const destroy = app.node.tryGetContext('celeriac:removalPolicy') === 'destroy';
  const stack = new CeleriacStack(app, options.stackName ?? `celeriac-${topology.app.replace(/_/g, '-')}`, {
    topology,
    description: `celeriac app ${topology.app}`,
    runner: { ...(destroy ? { removalPolicy: RemovalPolicy.DESTROY } : {}), ...options.runner },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

const isMain = process.argv[1] !== undefined && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url;
if (isMain) {
  const { app } = createCdkApp(await loadAppTopology());
  app.synth();
}

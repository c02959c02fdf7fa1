/**
 * The shop's deployment: a {@link CeleriacStack} of the shop's topology, with cdk-nag's AWS
 * Solutions checks registered so that synthesis fails on any unacknowledged finding. A module of
 * its own (infra/app.ts runs it) so tests can build the stack from a literal topology.
 */
import { fileURLToPath } from 'node:url';
import { App, type AppProps, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { AppTopologyInput } from 'celeriac';
import { CeleriacStack, type CeleriacStackProps } from 'celeriac/cdk';

/**
 * The shop's project root: the folder of its package.json and lock file, which entries
 * (`src/worker.ts`, the subscribers' `entry`) are relative to. Given explicitly, so the stack is
 * the same whichever directory `cdk synth` runs in.
 */
export const SHOP_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface CreateShopCdkAppOptions {
  readonly appProps?: AppProps;
  /** @default `celeriac-<app name>` */
  readonly stackName?: string;
  /** Merged over the shop's runner props (project root, worker entry, removal policy). */
  readonly runner?: CeleriacStackProps['runner'];
}

/**
 * Builds the CDK app deploying `topology`. Context `celeriac:removalPolicy=destroy` (set in
 * cdk.json: an example should tear down cleanly) makes the stateful resources deletable.
 */
export function createShopCdkApp(topology: AppTopologyInput, options: CreateShopCdkAppOptions = {}): { app: App; stack: CeleriacStack } {
  const app = new App(options.appProps);
  const destroy = app.node.tryGetContext('celeriac:removalPolicy') === 'destroy';
  const stack = new CeleriacStack(app, options.stackName ?? `celeriac-${topology.app.replace(/_/g, '-')}`, {
    topology,
    description: `celeriac app ${topology.app}`,
    runner: {
      projectRoot: SHOP_ROOT,
      // Prebuilt code (tests) replaces the entry: the construct takes one or the other.
      ...(options.runner?.workerCode ? {} : { workerEntry: 'src/worker.ts' }),
      ...(destroy ? { removalPolicy: RemovalPolicy.DESTROY } : {}),
      ...options.runner,
    },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}

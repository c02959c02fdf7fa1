import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** What every celeriac function (worker or subscriber) is built with, whoever builds it. */
export interface CeleriacFunctionOptions {
  /** The description, also the role's: `celeriac <app>: <what>`. */
  readonly description: string;
  /** The environment the function gets. */
  readonly environment: Readonly<Record<string, string>>;
  /** esbuild options, merged over the defaults (ESM, minified, source maps, SDK bundled). */
  readonly bundling?: nodejs.BundlingOptions;
  /** Retention of the function's log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Removal policy of the log group. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The props {@link celeriacFunctionProps} sets: a function's settings that celeriac owns. */
export type CeleriacFunctionDefaults = Required<
  Pick<nodejs.NodejsFunctionProps, 'runtime' | 'architecture' | 'role' | 'logGroup' | 'environment' | 'bundling' | 'description'>
>;

/**
 * Creates a function's role (`Role`) and log group (`Logs`) in `scope` and returns the props
 * every celeriac function shares: one place for the runtime, the architecture, least-privilege
 * logging and the bundling defaults, used by workers and subscribers alike.
 */
export function celeriacFunctionProps(scope: Construct, options: CeleriacFunctionOptions): CeleriacFunctionDefaults {
  const role = new iam.Role(scope, 'Role', {
    description: options.description,
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
  });
  const logGroup = new logs.LogGroup(scope, 'Logs', {
    retention: options.logRetention ?? logs.RetentionDays.ONE_MONTH,
    removalPolicy: options.removalPolicy ?? RemovalPolicy.RETAIN,
  });
  // Instead of the AWSLambdaBasicExecutionRole managed policy: write to this group only.
  logGroup.grantWrite(role);
  return {
    // nodejs24.x: the newest Node runtime this CDK knows, pinned (not NODEJS_LATEST) so a CDK
    // upgrade never changes the runtime of a deployed worker unannounced.
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    role,
    logGroup,
    environment: { ...options.environment },
    description: options.description,
    bundling: {
      // ESM, as the sources are ("type": "module", import.meta); preferring dependencies' ESM
      // builds lets esbuild tree-shake them.
      format: nodejs.OutputFormat.ESM,
      mainFields: ['module', 'main'],
      // An ES module has no `require`, but bundled CommonJS dependencies still call it.
      banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
      minify: true,
      sourceMap: true,
      // SDK choice: bundle the AWS SDK v3 clients rather than use the runtime's copy. The
      // runtime's SDK version moves with Lambda's releases, not our lockfile, so tests and
      // production would run different clients (endpoint and checksum defaults have changed
      // between minor versions); minified and tree-shaken, the three clients add little to
      // cold start.
      bundleAwsSDK: true,
      ...options.bundling,
    },
  };
}

/**
 * Where a function's code comes from: an entry of the user's project bundled by esbuild, or
 * prebuilt code (handler `index.handler`).
 */
export type FunctionCodeSource =
  | { readonly entry: string; readonly projectRoot: string; readonly depsLockFilePath?: string }
  | { readonly code: lambda.Code };

/** The NodejsFunction props of a code source. */
export function codeProps(
  source: FunctionCodeSource,
): Pick<nodejs.NodejsFunctionProps, 'entry' | 'code' | 'handler' | 'projectRoot' | 'depsLockFilePath'> {
  if ('code' in source) return { code: source.code, handler: 'index.handler' };
  return {
    entry: source.entry,
    handler: 'handler',
    projectRoot: source.projectRoot,
    ...(source.depsLockFilePath ? { depsLockFilePath: source.depsLockFilePath } : {}),
  };
}

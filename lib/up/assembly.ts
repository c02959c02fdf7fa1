/**
 * Reading a cloud assembly (`cdk.out`) with the CDK's own library: which stacks it holds, the
 * template of the one to run, and where each function's bundled asset lies.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CloudAssembly } from '@aws-cdk/cloud-assembly-api';
import { CeleriacError, ErrorCodes } from '../errors';
import { type CfnTemplate, TemplateError } from './template';

/** One stack of an assembly, ready to run. */
export interface AssemblyStack {
  /** The stack name (`cdk deploy` keys its outputs by it). */
  readonly name: string;
  /** The assembly directory, absolute. */
  readonly dir: string;
  readonly template: CfnTemplate;
}

/**
 * Opens the assembly in `dir` and returns the stack named `stackName`, or its only stack. Throws a
 * `CONFIG_INVALID` error naming the stacks when the choice is ambiguous or the name unknown.
 */
export function readAssembly(dir: string, stackName?: string): AssemblyStack {
  const abs = resolve(dir);
  if (!existsSync(join(abs, 'manifest.json'))) {
    throw new CeleriacError(ErrorCodes.CONFIG_INVALID, `${abs} is not a cloud assembly (no manifest.json): run \`npx cdk synth\` first`);
  }
  let assembly: CloudAssembly;
  try {
    assembly = new CloudAssembly(abs, { skipVersionCheck: true, topoSort: false });
  } catch (e) {
    throw new CeleriacError(ErrorCodes.CONFIG_INVALID, `cannot read the cloud assembly in ${abs}: ${(e as Error).message}`, { cause: e });
  }
  // Nested stage assemblies hold stacks too: `cdk synth` of a pipeline app puts them there.
  const stacks = assembly.stacksRecursively;
  const names = stacks.map((s) => s.stackName);
  const pick =
    stackName === undefined
      ? stacks.length === 1
        ? stacks[0]
        : undefined
      : stacks.find((s) => s.stackName === stackName || s.hierarchicalId === stackName);
  if (pick === undefined) {
    throw new CeleriacError(
      ErrorCodes.CONFIG_INVALID,
      stackName === undefined
        ? `the assembly in ${abs} holds ${stacks.length} stacks (${names.join(', ') || 'none'}): pick one with --stack`
        : `the assembly in ${abs} has no stack "${stackName}" (it has: ${names.join(', ') || 'none'})`,
    );
  }
  return { name: pick.stackName, dir: pick.assembly.directory, template: pick.template as CfnTemplate };
}

/**
 * The directory of a function's bundled code: the `aws:asset:path` metadata CDK writes on the
 * resource, or the file asset of the assets manifest whose hash is the function's `S3Key`.
 */
export function functionAssetDir(stack: AssemblyStack, logicalId: string): string {
  const resource = stack.template.Resources[logicalId];
  const meta = resource?.Metadata?.['aws:asset:path'];
  if (typeof meta === 'string') {
    const dir = resolve(stack.dir, meta);
    if (!existsSync(dir))
      throw new TemplateError(logicalId, `its code asset ${dir} is missing from the assembly: run \`npx cdk synth\` again`);
    return dir;
  }
  const key = (resource?.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key;
  const hash = typeof key === 'string' ? key.replace(/\.zip$/, '') : undefined;
  const source = hash === undefined ? undefined : assetSource(stack, hash);
  if (source === undefined) {
    throw new TemplateError(
      logicalId,
      'its code is not a file asset of this assembly (inline code, an image or an S3 object `up` cannot read)',
    );
  }
  return source;
}

function assetSource(stack: AssemblyStack, hash: string): string | undefined {
  const manifest = JSON.parse(readFileSync(join(stack.dir, 'manifest.json'), 'utf8')) as {
    artifacts?: Record<string, { type?: string; properties?: { file?: string } }>;
  };
  for (const a of Object.values(manifest.artifacts ?? {})) {
    if (a.type !== 'cdk:asset-manifest' || a.properties?.file === undefined) continue;
    const assets = JSON.parse(readFileSync(join(stack.dir, a.properties.file), 'utf8')) as {
      files?: Record<string, { source?: { path?: string } }>;
    };
    const path = assets.files?.[hash]?.source?.path;
    if (path !== undefined) return resolve(stack.dir, path);
  }
  return undefined;
}

/**
 * Cloud assemblies for the `celeriac up` specs: a manifest, one stack's template and function
 * assets, written under test-artifacts/ (inside the repository, so an asset's imports of the AWS
 * SDK resolve from the project's node_modules, as a bundle's would from itself).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CfnResource } from '../../lib/up/template';

const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts', import.meta.url));

export interface FixtureAssembly {
  readonly dir: string;
  remove(): void;
}

/**
 * Writes an assembly whose stack `stackName` has `resources` (and `outputs`); `assets` maps an asset
 * directory name to its `index.mjs` source. A function names its asset with the `aws:asset:path`
 * metadata CDK writes: use {@link lambda}.
 */
export function writeAssembly(
  resources: Record<string, CfnResource>,
  opts: { stackName?: string; outputs?: Record<string, { Value: unknown }>; assets?: Record<string, string>; extraStacks?: string[] } = {},
): FixtureAssembly {
  mkdirSync(ARTIFACTS, { recursive: true });
  const dir = mkdtempSync(join(ARTIFACTS, 'up-'));
  const stacks = [opts.stackName ?? 'spec', ...(opts.extraStacks ?? [])];
  const artifacts: Record<string, unknown> = {};
  for (const name of stacks) {
    artifacts[name] = {
      type: 'aws:cloudformation:stack',
      environment: 'aws://unknown-account/unknown-region',
      properties: { templateFile: `${name}.template.json` },
    };
    writeFileSync(join(dir, `${name}.template.json`), JSON.stringify({ Resources: resources, Outputs: opts.outputs ?? {} }));
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ version: '55.0.0', artifacts }));
  for (const [asset, source] of Object.entries(opts.assets ?? {})) {
    mkdirSync(join(dir, asset), { recursive: true });
    writeFileSync(join(dir, asset, 'index.mjs'), source);
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** An `AWS::Lambda::Function` running `asset/index.mjs`'s `handler`. */
export function lambda(asset: string, props: Record<string, unknown> = {}): CfnResource {
  return {
    Type: 'AWS::Lambda::Function',
    Properties: {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Code: { S3Bucket: 'b', S3Key: `${asset}.zip` },
      Role: 'arn:aws:iam::000000000000:role/none',
      ...props,
    },
    Metadata: { 'aws:asset:path': asset, 'aws:asset:property': 'Code' },
  };
}

/** Resolves once `check` returns a value (not undefined), or rejects after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

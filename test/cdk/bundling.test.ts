import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { TaskRunner } from '../../cdk/task-runner';
import type { AppTopologyInput } from '../../lib/routing';

const topology: AppTopologyInput = {
  app: 'bundled',
  tasks: [{ name: 'ping', queue: 'default', events: true }],
  links: [],
  subscribers: [],
  periodic: [],
  queues: [],
};

describe('worker bundling (local esbuild, no Docker)', () => {
  it('bundles the entry into a minified ESM index.mjs with a source map and the AWS SDK inside, which runs', async () => {
    const app = new App();
    const stack = new Stack(app, 'Bundled');
    const runner = new TaskRunner(stack, 'Runner', {
      topology,
      projectRoot: fileURLToPath(new URL('../..', import.meta.url)),
      workerEntry: 'test/cdk/fixtures/worker.ts',
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', { Handler: 'index.handler', Runtime: 'nodejs24.x', Architectures: ['arm64'] });

    const assembly = app.synth();
    const artifact = assembly.getStackByName(stack.stackName);
    const fn = artifact.template.Resources[stack.getLogicalId(runner.worker('default').node.defaultChild as never)];
    const hash = (fn.Properties.Code.S3Key as string).replace(/\.zip$/, '');
    const manifest = JSON.parse(fs.readFileSync(path.join(assembly.directory, `${stack.artifactId}.assets.json`), 'utf8')) as {
      files: Record<string, { source: { path: string } }>;
    };
    const dir = path.join(assembly.directory, manifest.files[hash]?.source.path as string);
    expect(fs.readdirSync(dir).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    const bundle = fs.readFileSync(path.join(dir, 'index.mjs'), 'utf8');
    // The banner restores `require` for CommonJS dependencies inside the ESM bundle.
    expect(bundle.startsWith("import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);")).toBe(true);
    expect(bundle).toMatch(/sourceMappingURL=index\.mjs\.map\s*$/);
    // The SDK client is bundled, not left for the runtime to provide.
    expect(bundle).not.toMatch(/from\s*["']@aws-sdk\//);
    expect(bundle).toContain('CELERIAC_QUEUE_URLS');
    // Minified: long lines (thousands of characters on average), not one statement per line.
    expect(bundle.length / bundle.split('\n').length).toBeGreaterThan(1_000);
    // And it loads as Lambda would load it: an ES module exporting `handler`.
    const mod = (await import(pathToFileURL(path.join(dir, 'index.mjs')).href)) as { handler: () => Promise<unknown> };
    await expect(mod.handler()).resolves.toEqual({ batchItemFailures: [] });
  });
});

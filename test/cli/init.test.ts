/**
 * `celeriac init`: the real CLI writes a project; then, inside this repository (so `celeriac`,
 * `celeriac/local` and `celeriac/cdk` are the repo's sources, as the vitest aliases and tsconfig
 * paths make them), the generated app loads, its own test passes and its CDK app synthesises
 * with a worker bundle holding the generated tasks. The same project installed from the packed
 * tarball is the packaging test's job.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../lib/index';
import { bundledCode, cleanEnv, cli, exec, ROOT, removeDir, repoScratchDir, start, tempDir, typecheck } from './helpers';

const GENERATED = [
  '.gitignore',
  'README.md',
  'cdk.json',
  'infra/app.ts',
  'package.json',
  'src/app.ts',
  'src/subscriber.ts',
  'src/worker.ts',
  'test/app.test.ts',
  'tsconfig.json',
];

const ownVersion = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** Every file under `dir`, relative, sorted. */
function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}

describe('celeriac init <dir>', () => {
  let scratch: string;
  beforeAll(() => {
    scratch = tempDir('celeriac-init-');
  });
  afterAll(() => removeDir(scratch));

  it('writes package.json, tsconfig, the app, worker, subscriber, CDK app, test, .gitignore and README, and prints the next commands', async () => {
    const r = await cli(['init', 'my-app'], { cwd: scratch });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const dir = join(scratch, 'my-app');
    expect(listFiles(dir)).toEqual(GENERATED);
    expect(r.stdout).toContain('Created app "my-app" in my-app (10 files)');
    expect(r.stdout).toMatch(/cd my-app\n\s+npm install\n\s+npm test .*\n\s+npm run dev .*http:\/\/127\.0\.0\.1:8787/);

    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg).toMatchObject({ name: 'my-app', private: true, type: 'module' });
    expect(pkg.scripts).toEqual({
      test: 'vitest run',
      dev: 'celeriac dev src/app.ts',
      synth: 'cdk synth',
      deploy: 'cdk deploy --outputs-file cdk-outputs.json',
    });
    expect(Object.keys(pkg.dependencies)).toEqual(['aws-cdk-lib', 'celeriac', 'constructs']);
    expect(pkg.dependencies.celeriac).toBe(`^${ownVersion}`);
    expect(Object.keys(pkg.devDependencies)).toEqual(['@types/node', 'aws-cdk', 'esbuild', 'tsx', 'typescript', 'vitest']);
    // Every range is one this repository is tested with, never a guess.
    for (const range of [...Object.values(pkg.dependencies), ...Object.values(pkg.devDependencies)]) expect(range).not.toBe('latest');
    expect(pkg.devDependencies['aws-cdk']).toMatch(/^\^2\.(1148|11[5-9]\d|1[2-9]\d\d)\./);

    const tsconfig = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8'));
    expect(tsconfig.compilerOptions).toMatchObject({ module: 'NodeNext', moduleResolution: 'NodeNext', strict: true });
    expect(JSON.parse(readFileSync(join(dir, 'cdk.json'), 'utf8')).app).toBe('npx tsx infra/app.ts');
    expect(readFileSync(join(dir, 'infra/app.ts'), 'utf8')).toContain("import { CeleriacStack } from 'celeriac/cdk';");
    expect(readFileSync(join(dir, '.gitignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['node_modules/', 'cdk.out/']));
  });

  it('--celeriac <spec> and --name <name> go into package.json and the app', async () => {
    const r = await cli(['init', 'other', '--celeriac', 'file:../celeriac-0.1.0.tgz', '--name', 'orders_v2'], { cwd: scratch });
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(scratch, 'other', 'package.json'), 'utf8'));
    expect(pkg.dependencies.celeriac).toBe('file:../celeriac-0.1.0.tgz');
    expect(readFileSync(join(scratch, 'other', 'src/app.ts'), 'utf8')).toContain("createApp({ name: 'orders_v2' })");
    // CloudFormation stack names take no underscore.
    expect(readFileSync(join(scratch, 'other', 'infra/app.ts'), 'utf8')).toContain("'celeriac-orders-v2'");
  });

  it('writes into an existing empty directory', async () => {
    mkdirSync(join(scratch, 'empty'));
    const r = await cli(['init', 'empty'], { cwd: scratch });
    expect(r.code).toBe(0);
    expect(listFiles(join(scratch, 'empty'))).toEqual(GENERATED);
  });

  it('refuses a non-empty directory with one line (exit 2) and writes nothing', async () => {
    const dir = join(scratch, 'taken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const r = await cli(['init', 'taken'], { cwd: scratch });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('celeriac: taken is not empty (notes.txt); init writes a new project only into an empty or new directory\n');
    expect(readdirSync(dir)).toEqual(['notes.txt']);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('refuses a path that is a file, and a directory name that is no app name unless --name is given', async () => {
    writeFileSync(join(scratch, 'a-file'), '');
    const file = await cli(['init', 'a-file'], { cwd: scratch });
    expect(file.code).toBe(2);
    expect(file.stderr).toBe('celeriac: a-file exists and is not a directory; pass a new or empty directory\n');
    const dotted = await cli(['init', 'my.app'], { cwd: scratch });
    expect(dotted.code).toBe(2);
    expect(dotted.stderr).toBe('celeriac: app name "my.app" must be 1-64 letters, digits, "-" or "_"; pass --name <name>\n');
    expect(existsSync(join(scratch, 'my.app'))).toBe(false);
  });
});

describe('the generated project, against the repository sources', () => {
  // Inside the repository (test-artifacts/ is ignored by git and lint) so that the project's
  // imports of vitest, aws-cdk-lib and tsx resolve to this checkout's node_modules.
  let project: string;
  beforeAll(async () => {
    project = join(repoScratchDir('init-'), 'my-app');
    const r = await cli(['init', project], { cwd: ROOT });
    expect(r.code, r.stderr).toBe(0);
    // Resolve `celeriac*` to the repo's sources for tsc, tsx and esbuild (all read tsconfig
    // paths): the project's own tsconfig is kept and extended, with Bundler resolution because
    // the library's sources use extensionless imports. An installed package needs none of this.
    renameSync(join(project, 'tsconfig.json'), join(project, 'tsconfig.project.json'));
    const src = (p: string) => [join(ROOT, p)];
    const overlay = {
      extends: './tsconfig.project.json',
      compilerOptions: {
        module: 'ESNext',
        moduleResolution: 'Bundler',
        paths: {
          celeriac: src('lib/index.ts'),
          'celeriac/local': src('lib/local/index.ts'),
          'celeriac/aws': src('lib/adapters/aws/index.ts'),
          'celeriac/cdk': src('cdk/index.ts'),
        },
      },
    };
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(overlay, null, 2));
  });
  afterAll(() => removeDir(join(project, '..')));

  it('src/app.ts loads with no backend configured (so it calls no task at load time): its tasks, link and subscriber are in the topology', async () => {
    // A call at load time would throw here: no results table is configured in this process.
    expect(process.env.CELERIAC_TABLE).toBeUndefined();
    const { app } = (await import(pathToFileURL(join(project, 'src/app.ts')).href)) as { app: App };
    expect(app.name).toBe('my-app');
    const topology = app.topology();
    expect(topology.tasks.map((t) => t.name).sort()).toEqual(['add', 'notify', 'report', 'sum']);
    expect(topology.links).toEqual([{ from: 'report', to: 'notify', kind: 'success' }]);
    expect(topology.subscribers).toEqual([expect.objectContaining({ name: 'audit', entry: 'src/subscriber.ts' })]);
  });

  it('typechecks (tsc --noEmit: src, infra and test)', async () => {
    const r = await typecheck(project);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 150_000);

  it('its test/app.test.ts passes (vitest, memory mode)', async () => {
    // The repository's vitest config, for its `celeriac*` aliases; --root makes the project the root.
    const r = await exec(
      process.execPath,
      [
        join(ROOT, 'node_modules/vitest/vitest.mjs'),
        'run',
        '--root',
        project,
        '--config',
        join(ROOT, 'vitest.config.ts'),
        '--typecheck.enabled=false',
      ],
      { cwd: project, timeoutMs: 120_000 },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/test\/app\.test\.ts \(4 tests\)/);
    expect(r.stdout).toMatch(/Tests\s+4 passed \(4\)/);
  }, 150_000);

  it('`celeriac dev` with no module argument runs its src/app.ts; `celeriac call` reaches it', async () => {
    const dev = start(['dev', '--mode', 'memory', '--port', '0', '--quiet'], { cwd: project });
    try {
      await dev.waitFor(/Ctrl-C to stop/, 60_000);
      const r = await cli(['call', 'add', '2', '3', '--wait'], { cwd: project });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe('5');
    } finally {
      dev.child.kill('SIGINT');
      await dev.exited();
    }
  }, 90_000);

  it('`cdk synth` (cdk.json, offline) bundles a worker holding the generated tasks, not the shop example’s', async () => {
    // `npm install` would write the lock file the construct bundles with; this stands in for it.
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify({ name: 'my-app', lockfileVersion: 3, requires: true, packages: {} }));
    const bin = join(ROOT, 'node_modules/.bin');
    const env = cleanEnv({ PATH: `${bin}:${process.env.PATH ?? ''}`, CDK_DISABLE_CLI_TELEMETRY: 'true' });
    const r = await exec(join(bin, 'cdk'), ['synth', '--quiet', '--no-notices', '--no-version-reporting'], {
      cwd: project,
      env,
      timeoutMs: 240_000,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const bundleOf = (description: string) => bundledCode(join(project, 'cdk.out'), 'celeriac-my-app', description);
    const worker = bundleOf('celeriac my-app: worker of queue default');
    for (const task of ['add', 'sum', 'report', 'notify']) expect(worker).toMatch(new RegExp(`["'\`]${task}["'\`]`));
    for (const shopTask of ['charge', 'refund']) expect(worker).not.toMatch(new RegExp(`["'\`]${shopTask}["'\`]`));
    expect(bundleOf('celeriac my-app: subscriber audit')).toContain('audit');
  }, 300_000);
});

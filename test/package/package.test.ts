/**
 * celeriac as a user gets it: the packed tarball installed into a scratch project outside the
 * repository, with its peers from the registry, then every route a user takes — tsc (NodeNext and
 * Bundler), plain node (memory and emulated modes), a CommonJS project, the CLI, cdk synth.
 * One scratch project serves every check; the tests run in order.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundledAssetDir, bundledCode } from '../cli/helpers';
import {
  background,
  buildAndPack,
  CONSUMER_FIXTURE,
  installInto,
  newProject,
  ok,
  olderNode,
  olderThan,
  type Packed,
  ROOT,
  run,
  scratchDir,
} from './scratch';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string }; exports: Record<string, unknown> };
const MIN_NODE = pkg.engines.node.replace(/^>=\s*/, '');

let scratch: ReturnType<typeof scratchDir>;
let packed: Packed;
/** The user's project: test/package/consumer plus package.json, celeriac and the peers installed. */
let project: string;

beforeAll(async () => {
  expect(olderThan(process.versions.node, MIN_NODE), `the package test runs on Node >= ${MIN_NODE}`).toBe(false);
  scratch = scratchDir();
  packed = await buildAndPack(scratch.dir);
  project = newProject(scratch.dir, 'consumer', { template: CONSUMER_FIXTURE });
  await installInto(project, packed.tarball);
});

afterAll(() => scratch?.remove());

describe('the tarball', () => {
  it('holds dist, bin, README, LICENSE and package.json only: no sources, tests or benches', () => {
    const top = new Set(packed.files.map((f) => f.split('/')[0]));
    expect([...top].sort()).toEqual(['LICENSE', 'README.md', 'bin', 'dist', 'package.json']);
    for (const entry of ['index', 'local', 'aws', 'cdk', 'cli']) {
      expect(packed.files).toContain(`dist/${entry}.js`);
    }
    for (const entry of ['index', 'local', 'aws', 'cdk']) {
      expect(packed.files).toContain(`dist/${entry}.d.ts`);
      expect(packed.files).toContain(`dist/${entry}.d.ts.map`);
    }
    expect(packed.files).toContain('dist/page.html');
    console.info(`package: ${packed.size} B packed, ${packed.unpackedSize} B unpacked, ${packed.entryCount} files`);
  });

  it('every export has types and import conditions pointing at files in the tarball', () => {
    for (const [name, target] of Object.entries(pkg.exports)) {
      if (name === './package.json') continue;
      const t = target as Record<string, string>;
      expect(Object.keys(t), name).toEqual(['types', 'import', 'default']);
      for (const file of Object.values(t)) expect(packed.files, `${name} → ${file}`).toContain(file.replace(/^\.\//, ''));
    }
  });

  it('npm publish --dry-run is clean (no corrected package.json, no warning but the dry run’s login)', async () => {
    const r = await ok('npm', ['publish', '--dry-run', '--ignore-scripts'], { cwd: ROOT });
    const warnings = r.stderr.split('\n').filter((l) => /npm warn/i.test(l) && !/requires you to be logged in/.test(l));
    expect(warnings).toEqual([]);
  });
});

describe('TypeScript consumers', () => {
  it('tsc under module NodeNext compiles the project (skipLibCheck off: the published .d.ts are checked too)', async () => {
    await ok('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: project });
  });

  it('tsc --noEmit under moduleResolution Bundler (as esbuild, vite, vitest resolve)', async () => {
    await ok('npx', ['tsc', '-p', 'tsconfig.bundler.json'], { cwd: project });
  });
});

describe('compiled JavaScript under plain node', () => {
  for (const mode of ['memory', 'emulated'] as const) {
    it(`${mode} mode: a chain, a chord, a static link, a subscriber and a 200 KB value by reference`, async () => {
      const r = await ok(process.execPath, ['dist/src/run.js', mode], { cwd: project });
      expect(JSON.parse(r.stdout)).toEqual({
        mode,
        chain: 6,
        chord: 6,
        large: 200_000,
        byReference: true,
        link: 'announced 6',
        audited: 1,
      });
    });
  }

  it('a CommonJS project requires the ESM package (require(esm), Node >= 22.12)', async () => {
    const r = await ok(process.execPath, ['consumer.cjs'], { cwd: project });
    expect(JSON.parse(r.stdout)).toEqual({ chain: 4 });
  });
});

describe('the CLI after a real install', () => {
  it('npx celeriac --help runs the compiled CLI', async () => {
    const r = await ok('npx', ['celeriac', '--help'], { cwd: project });
    expect(r.stdout).toMatch(/^Usage: celeriac/);
    expect(readFileSync(join(project, 'node_modules', 'celeriac', 'bin', 'celeriac.mjs'), 'utf8')).toContain('../dist/cli.js');
    expect(readdirSync(join(project, 'node_modules', 'celeriac'))).not.toContain('lib');
  });

  it('npx celeriac call … --wait against npx celeriac dev src/app.ts (the user’s TypeScript, emulated mode)', async () => {
    const dev = background('npx', ['celeriac', 'dev', 'src/app.ts', '--port', '0'], { cwd: project });
    try {
      const banner = await dev.waitFor(/Ctrl-C to stop/);
      expect(banner).toMatch(/app consumer · emulated mode/);
      expect(banner).toMatch(/tasks\s+consumer-plus, consumer-total, consumer-announce/);
      const dashboard = /dashboard\s+(http:\/\/\S+)/.exec(banner)?.[1] as string;
      expect(await (await fetch(dashboard)).text()).toMatch(/<html/i);
      const r = await ok('npx', ['celeriac', 'call', 'consumer-plus', '2', '40', '--wait'], { cwd: project });
      expect(r.stdout.trim()).toBe('42');
    } finally {
      await dev.stop();
    }
  });

  it('a syntax error in the user’s TypeScript module: one line with file, line, column and message; exit 2', async () => {
    writeFileSync(join(project, 'src', 'broken.ts'), "import { app } from './app.js';\nexport { app };\nconst n = (1 + ;\n");
    const r = await run('npx', ['celeriac', 'dev', 'src/broken.ts', '--mode', 'memory'], { cwd: project });
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `celeriac: app module src/broken.ts failed to load: ${join(project, 'src', 'broken.ts')}:3:15: ERROR: Unexpected ";"`,
    );
  });

  it(`on a Node older than ${MIN_NODE}: the CLI says so in one line; emulated local mode refuses with a CeleriacError naming the version`, async () => {
    const old = await olderNode(MIN_NODE, project);
    const cli = await run(old.path, ['node_modules/.bin/celeriac', '--help'], { cwd: project });
    expect(cli.code).toBe(1);
    expect(cli.stderr).toBe(`celeriac: needs Node.js >= ${MIN_NODE}; this is Node.js ${old.version}\n`);
    if (olderThan(old.version, '22.5')) {
      const lib = await ok(old.path, ['dist/src/old-node.js'], { cwd: project });
      expect(JSON.parse(lib.stdout)).toEqual({
        celeriacError: true,
        code: 'BACKEND_UNAVAILABLE',
        message: `emulated local mode needs Node.js >= 22.5 (its SQS emulator, fauxqs, uses node:sqlite); this is Node.js ${old.version}: upgrade Node, or use mode 'memory'`,
      });
    }
  });
});

describe('the construct in the user’s CDK app', () => {
  it('npx cdk synth of infra/app.ts (compiled) bundles the user’s worker: its tasks, not the shop example’s', async () => {
    await ok('npx', ['cdk', 'synth', '--quiet'], { cwd: project, timeoutMs: 300_000 });
    const asset = bundledAssetDir(join(project, 'cdk.out'), 'celeriac-consumer', 'celeriac consumer: worker of queue default');
    const bundle = readFileSync(join(asset, 'index.mjs'), 'utf8');
    for (const task of ['consumer-plus', 'consumer-total', 'consumer-announce']) expect(bundle).toContain(`"${task}"`);
    expect(bundle).not.toMatch(/["'`](charge|refund)["'`]/);
    // And it loads as Lambda loads it, reaching celeriac's worker: without the stack's
    // environment, the first batch asks for the table the construct would have configured.
    const probe =
      "const { handler } = await import('./index.mjs'); await handler({ Records: [] }, {}).then(() => console.log('handled'), (e) => console.log(e.message));";
    const loaded = await ok(process.execPath, ['--input-type=module', '-e', probe], { cwd: asset });
    expect(loaded.stdout.trim()).toBe('no DynamoDB table configured: set CELERIAC_TABLE (the CDK stack sets it on every function)');
  });

  it('npx celeriac up runs that synthesized stack (bundles, template, IAM) and npx celeriac call --outputs reaches it', async () => {
    const up = background('npx', ['celeriac', 'up', '--app', 'cdk.out', '--outputs-file', 'cdk-outputs.up.json'], { cwd: project });
    try {
      const banner = await up.waitFor(/celeriac up: ready/, 120_000);
      expect(banner).toMatch(/stack celeriac-consumer: \d+ function\(s\) running/);
      const r = await ok('npx', ['celeriac', 'call', 'consumer-plus', '2', '40', '--wait', '--outputs', 'cdk-outputs.up.json'], {
        cwd: project,
        timeoutMs: 120_000,
      });
      expect(r.stdout.trim()).toBe('42');
    } finally {
      await up.stop();
    }
  });
});

describe('celeriac init, from the tarball', () => {
  /** The generated project, installed as its README says (`npm install`). */
  let app: string;

  beforeAll(async () => {
    await ok(process.execPath, [join(project, 'node_modules', '.bin', 'celeriac'), 'init', 'my-app', '--celeriac', packed.tarball], {
      cwd: scratch.dir,
    });
    app = join(scratch.dir, 'my-app');
    await ok('npm', ['install', '--no-audit', '--no-fund'], { cwd: app, timeoutMs: 400_000 });
  }, 600_000);

  it('typechecks and its own test passes (the app in local mode)', async () => {
    await ok('npx', ['tsc', '--noEmit', '-p', 'tsconfig.json'], { cwd: app });
    const t = await ok('npm', ['test'], { cwd: app, timeoutMs: 120_000 });
    expect(t.stdout).toMatch(/Tests\s+\d+ passed/);
    expect(t.stdout).not.toMatch(/failed/);
  });

  it('npm run dev serves it; celeriac call add 2 3 --wait prints 5', async () => {
    const dev = background('npx', ['celeriac', 'dev', '--mode', 'memory', '--port', '0'], { cwd: app });
    try {
      const banner = await dev.waitFor(/Ctrl-C to stop/);
      expect(banner).toMatch(/app my-app · memory mode/);
      const r = await ok('npx', ['celeriac', 'call', 'add', '2', '3', '--wait'], { cwd: app });
      expect(r.stdout.trim()).toBe('5');
    } finally {
      await dev.stop();
    }
  });

  it('synthesizes offline: the worker bundle holds its tasks, not the shop example’s', async () => {
    await ok('npx', ['cdk', 'synth', '--quiet'], { cwd: app, timeoutMs: 300_000 });
    const bundle = bundledCode(join(app, 'cdk.out'), 'celeriac-my-app', 'celeriac my-app: worker of queue default');
    for (const task of ['add', 'sum', 'report', 'notify']) expect(bundle).toContain(`"${task}"`);
    expect(bundle).not.toMatch(/["'`](charge|refund)["'`]/);
  });
});

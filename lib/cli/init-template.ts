/**
 * The project `celeriac init` writes, as strings in one module: the CLI ships as code, so the
 * templates travel with it (no template folder to list in the package's `files`, nothing to copy
 * into a build output). `test/cli/init.test.ts` runs what these strings produce: the generated
 * test passes and the generated CDK app synthesises.
 */
import { DEFAULT_DASHBOARD_PORT } from '../local/dashboard/defaults';

/** What the templates are filled with. */
export interface ProjectSpec {
  /** The app's name (`createApp({ name })`): letters, digits, `-`, `_`. */
  readonly app: string;
  /** The npm package name of the project. */
  readonly packageName: string;
  /** The dependency spec of celeriac (`^0.1.0`, a tarball path, `file:../celeriac`). */
  readonly celeriac: string;
  /** Version ranges of the peers and tools, by package name. */
  readonly versions: Readonly<Record<ToolPackage, string>>;
}

/** The packages the project needs besides celeriac, with the role each plays. */
export const TOOL_PACKAGES = {
  'aws-cdk-lib': 'dependencies',
  constructs: 'dependencies',
  'aws-cdk': 'devDependencies',
  esbuild: 'devDependencies',
  typescript: 'devDependencies',
  tsx: 'devDependencies',
  vitest: 'devDependencies',
  '@types/node': 'devDependencies',
} as const;

export type ToolPackage = keyof typeof TOOL_PACKAGES;

/** The files of a new project, by path relative to its directory (POSIX separators). */
export function projectFiles(spec: ProjectSpec): Record<string, string> {
  const stackName = `celeriac-${spec.app.replace(/_/g, '-')}`;
  const deps = (kind: 'dependencies' | 'devDependencies'): Record<string, string> =>
    Object.fromEntries(
      (Object.keys(TOOL_PACKAGES) as ToolPackage[]).filter((p) => TOOL_PACKAGES[p] === kind).map((p) => [p, spec.versions[p]]),
    );
  const pkg = {
    name: spec.packageName,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      test: 'vitest run',
      dev: 'celeriac dev src/app.ts',
      synth: 'cdk synth',
      deploy: 'cdk deploy --outputs-file cdk-outputs.json',
    },
    dependencies: sortKeys({ celeriac: spec.celeriac, ...deps('dependencies') }),
    devDependencies: sortKeys(deps('devDependencies')),
  };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2023',
      lib: ['ES2024'],
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      types: ['node'],
      strict: true,
      skipLibCheck: true,
      verbatimModuleSyntax: true,
      noEmit: true,
    },
    include: ['src', 'infra', 'test'],
  };
  const cdkJson = {
    app: 'npx tsx infra/app.ts',
    watch: { include: ['src/**', 'infra/**'], exclude: ['**/*.test.ts', 'node_modules', 'cdk.out'] },
  };
  return {
    'package.json': json(pkg),
    'tsconfig.json': json(tsconfig),
    'cdk.json': json(cdkJson),
    '.gitignore': ['node_modules/', 'cdk.out/', '.celeriac/', 'cdk-outputs*.json', '*.log', ''].join('\n'),
    'src/app.ts': appModule(spec.app),
    'src/worker.ts': WORKER,
    'src/subscriber.ts': SUBSCRIBER,
    'infra/app.ts': infraApp(stackName),
    'test/app.test.ts': appTest(spec.app),
    'README.md': readme(spec.app, stackName),
  };
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

const appModule = (app: string): string => `/**
 * The app: its tasks, and what happens after them. The worker (src/worker.ts), the CDK app
 * (infra/app.ts) and the tests import this module, so it only declares: no task is called here.
 */
import { chain, chord, createApp, group } from 'celeriac';

export const app = createApp({ name: '${app}' });

export const add = app.task('add', (x: number, y: number) => x + y);

export const sum = app.task('sum', (xs: number[]) => xs.reduce((a, b) => a + b, 0));

export const report = app.task('report', (total: number) => \`total=\${total}\`);

/** Runs whenever \`report\` succeeds, with its result: a static link (an EventBridge rule on AWS). */
export const notify = app.task('notify', (line: string) => \`notified: \${line}\`);

/** A chain: add(x, y) → add(that, 10) → report. Start it with \`await totalOf(2, 3).applyAsync()\`. */
export const totalOf = (x: number, y: number) => chain(add.s(x, y), add.s(10), report.s());

/** A chord: the adds run in parallel, then sum gets their results. */
export const sumOfPairs = (pairs: readonly [number, number][]) => chord(group(...pairs.map(([x, y]) => add.s(x, y))), sum.s());

app.link(report, notify);
// Every lifecycle event of the app goes to this Lambda (an EventBridge rule on the app's bus).
app.subscribe('audit', { entry: 'src/subscriber.ts' });
`;

const WORKER = `/** The SQS-triggered worker Lambda: every queue's function runs this entry. */
import { createWorker } from 'celeriac';
import { app } from './app.js';

export const handler = createWorker(app);
`;

const SUBSCRIBER = `/** The \`audit\` subscriber: an EventBridge-triggered Lambda receiving the app's lifecycle events. */
import { onTaskEvents } from 'celeriac';

export const handler = onTaskEvents(async (e) => {
  console.log(JSON.stringify({ audit: e.task, id: e.id, state: e.state, durationMs: e.durationMs }));
});
`;

const infraApp = (stackName: string): string => `/** The CDK app (cdk.json runs it): \`npm run synth\`, \`npm run deploy\`. */
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { CeleriacStack } from 'celeriac/cdk';
import { app } from '../src/app.js';

const cdkApp = new App();
new CeleriacStack(cdkApp, '${stackName}', {
  topology: app.topology(),
  runner: {
    // The folder of package.json and package-lock.json; the entries below are relative to it.
    projectRoot: fileURLToPath(new URL('..', import.meta.url)),
    workerEntry: 'src/worker.ts',
  },
});
`;

const appTest = (app: string): string => `/** The app in local mode (in-memory queues, results and bus): no AWS account, no emulator. */
import { type LocalRuntime, linkCallId, startLocal } from 'celeriac/local';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { add, app, sumOfPairs, totalOf } from '../src/app.js';

let local: LocalRuntime;
const timeout = { timeoutMs: 5_000 };

beforeAll(async () => {
  local = await startLocal(app, { mode: 'memory' });
});

afterAll(async () => {
  await local.stop();
});

describe('${app}', () => {
  it('runs a task', async () => {
    const r = await add.delay(2, 3);
    expect(await r.get(timeout)).toBe(5);
  });

  it('runs the chain, and the link calls notify with its result', async () => {
    const r = await totalOf(2, 3).applyAsync();
    expect(await r.get(timeout)).toBe('total=15');
    await local.drain();
    expect(await app.asyncResult(linkCallId(r.id, 'notify')).get(timeout)).toBe('notified: total=15');
  });

  it('runs the chord: sum gets the results of the adds', async () => {
    const r = await sumOfPairs([
      [1, 1],
      [2, 2],
      [3, 3],
    ]).applyAsync();
    expect(await r.get(timeout)).toBe(12);
  });

  it('delivers the lifecycle events to the audit subscriber', async () => {
    await local.drain();
    const audit = local.rules().find((rule) => rule.target.kind === 'subscriber');
    expect(audit?.delivered).toBeGreaterThan(0);
  });
});
`;

const readme = (app: string, stackName: string): string => `# ${app}

A [celeriac](https://www.npmjs.com/package/celeriac) app: tasks in \`src/app.ts\`, run by SQS-triggered
Lambda workers on AWS, or locally.

\`\`\`sh
npm install
npm test          # the tasks, the chain, the chord, the link and the subscriber in local mode
npm run dev       # celeriac dev: the app with its dashboard on http://127.0.0.1:${DEFAULT_DASHBOARD_PORT}
\`\`\`

With \`npm run dev\` running, call a task from another terminal in this folder:

\`\`\`sh
npx celeriac call add 2 3 --wait        # 5
npx celeriac inspect                    # queues and recent tasks
\`\`\`

| file | what it is |
|---|---|
| \`src/app.ts\` | the app: tasks, a chain, a chord, a link, a subscriber (declarations only: the worker imports it) |
| \`src/worker.ts\` | the worker Lambda's entry |
| \`src/subscriber.ts\` | the subscriber Lambda's entry |
| \`infra/app.ts\`, \`cdk.json\` | the CDK app: one \`CeleriacStack\` (queues, workers, table, bus, rules) |
| \`test/app.test.ts\` | the app in local mode, with vitest |

## Deploy

With AWS credentials and a bootstrapped CDK environment (\`npx cdk bootstrap\`, once per account and region):

\`\`\`sh
npm run synth     # offline: the CloudFormation template and the bundled worker in cdk.out/
npm run deploy    # stack ${stackName}; its outputs go to cdk-outputs.json
npx celeriac call add 2 3 --wait --outputs cdk-outputs.json
\`\`\`

\`npx cdk destroy\` removes the stack (the results table is retained unless you set \`removalPolicy\`).
`;

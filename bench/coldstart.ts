/**
 * `npm run bench:coldstart`: the worker bundle the CDK stack deploys, its size, and its module init
 * time against a bundle that only imports the three SDK clients.
 *
 * Bundling: the esbuild command aws-cdk-lib's NodejsFunction runs for cdk/task-runner.ts's options
 * (aws-lambda-nodejs/lib/bundling.js, buildEsbuildArgs): `esbuild --bundle <entry>
 * --target=node24` (from Runtime.NODEJS_24_X) `--platform=node --format=esm --outfile=…/index.mjs
 * --minify --sourcemap --banner:js=<createRequire banner> --main-fields=module,main`, and no
 * `--external` (bundleAwsSDK: true). The baseline is built with the very same arguments from an
 * entry that re-exports SQSClient, DynamoDBClient and EventBridgeClient (exported, so they are not
 * tree-shaken away).
 *
 * Init time: a fresh `node` process per sample imports the bundle and reports
 * `performance.now()` around the dynamic import (module load + evaluation, what Lambda's init
 * phase runs for the handler module); bundles alternate, median of RUNS (default 21). Both are
 * measured with the NODE_OPTIONS the stack sets on every function (`--enable-source-maps`) and
 * without. Also the wall time of the whole process (spawn → exit).
 *
 * Goals: bench/goals.ts (coldstartInit, coldstartReady; as deployed). BENCH_QUICK=1: RUNS=3.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { fmtLoad, machine, median, run, settle, sized, waitForQuiet } from './env';
import { goalLine, printResult } from './goals';

const ROOT = resolve(import.meta.dirname, '..');
const RUNS = sized(process.env.RUNS, 21, 3);
const NODE = process.execPath;
const ESBUILD = join(ROOT, 'node_modules/.bin/esbuild');
const BANNER = "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/** cdk/task-runner.ts bundling options, as NodejsFunction turns them into esbuild arguments. */
function cdkEsbuildArgs(outDir: string): string[] {
  return [
    '--target=node24',
    '--platform=node',
    '--format=esm',
    `--outfile=${join(outDir, 'index.mjs')}`,
    '--minify',
    '--sourcemap',
    `--banner:js=${BANNER}`,
    '--main-fields=module,main',
  ];
}

async function bundle(name: string, entry: { file: string } | { stdin: string }, base: string): Promise<string> {
  const out = join(base, name);
  mkdirSync(out, { recursive: true });
  if ('file' in entry) {
    await run(ESBUILD, ['--bundle', entry.file, ...cdkEsbuildArgs(out), '--log-level=warning'], { cwd: ROOT });
  } else {
    // The same arguments, the entry on stdin (esbuild resolves its imports from the working directory: the project).
    await run(ESBUILD, ['--bundle', ...cdkEsbuildArgs(out), '--log-level=warning'], { cwd: ROOT, input: entry.stdin });
  }
  return join(out, 'index.mjs');
}

const SDK_ONLY = `export { SQSClient } from '@aws-sdk/client-sqs';
export { DynamoDBClient } from '@aws-sdk/client-dynamodb';
export { EventBridgeClient } from '@aws-sdk/client-eventbridge';
`;

/** One sample: ms spent in `await import(bundle)` in a fresh process, and the process's wall time. */
async function sample(file: string, nodeOptions: string): Promise<{ importMs: number; readyMs: number; wallMs: number }> {
  // After the import: the worker's first invocation (an empty batch) builds its backend — the SDK
  // clients, which the worker only imports then (lib/index.ts: `await import('./adapters/aws')`);
  // the SDK-only bundle constructs its three clients. Both end "ready to call AWS".
  const script = `const t0 = performance.now();
const m = await import(${JSON.stringify(pathToFileURL(file).href)});
const t1 = performance.now();
if (typeof m.handler === 'function') {
  const r = await m.handler({ Records: [] });
  if (!Array.isArray(r.batchItemFailures)) throw new Error('unexpected handler answer');
} else {
  new m.SQSClient({}); new m.DynamoDBClient({}); new m.EventBridgeClient({});
}
const t2 = performance.now();
console.log(JSON.stringify({ importMs: t1 - t0, readyMs: t2 - t0 }));`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    NODE_OPTIONS: nodeOptions,
    // What a deployed worker has in its environment (values are not used at init).
    AWS_REGION: 'us-east-1',
    CELERIAC_APP: 'shop',
    CELERIAC_TABLE: 'celeriac-shop',
    CELERIAC_BUS: 'celeriac-shop',
    CELERIAC_QUEUE_URLS: '{"default":"https://sqs.us-east-1.amazonaws.com/000000000000/shop-default"}',
  };
  const t0 = performance.now();
  const out = await new Promise<string>((res, rej) => {
    const c = spawn(NODE, ['--input-type=module', '-e', script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let o = '';
    let e = '';
    c.stdout.on('data', (d: Buffer) => {
      o += d.toString();
    });
    c.stderr.on('data', (d: Buffer) => {
      e += d.toString();
    });
    c.on('close', (code) => (code === 0 ? res(o) : rej(new Error(`import of ${file} failed: ${e}`))));
  });
  const wallMs = performance.now() - t0;
  const j = JSON.parse(out.trim()) as { importMs: number; readyMs: number };
  return { ...j, wallMs };
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'celeriac-coldstart-'));
  try {
    const worker = await bundle('worker', { file: join(ROOT, 'examples/shop/src/worker.ts') }, base);
    const sdk = await bundle('sdk-only', { stdin: SDK_ONLY }, base);
    await waitForQuiet();
    console.log(machine());
    console.log(`node ${process.version} runs the samples (Lambda runs nodejs24.x); ${RUNS} samples per bundle and setting, alternating\n`);
    console.log('| bundle | index.mjs | gzipped | index.mjs.map |\n|---|---:|---:|---:|');
    for (const [name, f] of [
      ['worker (examples/shop/src/worker.ts)', worker],
      ['SDK clients only', sdk],
    ] as const) {
      const size = statSync(f).size;
      console.log(`| ${name} | ${kb(size)} (${size} B) | ${kb(gzipSync(readFileSync(f)).length)} | ${kb(statSync(`${f}.map`).size)} |`);
    }
    const loads = [fmtLoad()];
    console.log(
      '\n| NODE_OPTIONS | worker import (ms, median) | SDK-only import (ms, median) | ratio | worker import + first invocation (ms) | SDK-only import + 3 clients constructed (ms) | ratio | worker process wall (ms) | SDK-only process wall (ms) |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    const ratios: Record<string, number> = {};
    for (const opts of ['--enable-source-maps', '']) {
      await settle();
      // Warm the file cache once.
      await sample(worker, opts);
      await sample(sdk, opts);
      const w: Awaited<ReturnType<typeof sample>>[] = [];
      const s: Awaited<ReturnType<typeof sample>>[] = [];
      for (let i = 0; i < RUNS; i++) {
        w.push(await sample(worker, opts));
        s.push(await sample(sdk, opts));
      }
      const wi = median(w.map((x) => x.importMs));
      const si = median(s.map((x) => x.importMs));
      const wr = median(w.map((x) => x.readyMs));
      const sr = median(s.map((x) => x.readyMs));
      ratios[opts || '(none)'] = wi / si;
      ratios[`ready ${opts || '(none)'}`] = wr / sr;
      console.log(
        `| ${opts || '(none)'}${opts ? ' (as deployed)' : ''} | ${wi.toFixed(1)} | ${si.toFixed(1)} | ${(wi / si).toFixed(2)}× | ${wr.toFixed(1)} | ${sr.toFixed(1)} | ${(wr / sr).toFixed(2)}× | ${median(w.map((x) => x.wallMs)).toFixed(0)} | ${median(s.map((x) => x.wallMs)).toFixed(0)} |`,
      );
      loads.push(fmtLoad());
    }
    const deployed = ratios['--enable-source-maps'] as number;
    const ready = ratios['ready --enable-source-maps'] as number;
    console.log('');
    console.log(goalLine('coldstartInit', deployed));
    console.log(goalLine('coldstartReady', ready));
    console.log(
      `(informational) without source maps: module init ${(ratios['(none)'] as number).toFixed(2)}×, ready to call AWS ${(ratios['ready (none)'] as number).toFixed(2)}×`,
    );
    console.log(`load average (1/5/15 min): ${loads.join(' → ')}`);
    printResult('coldstart', {
      coldstartInit: deployed,
      coldstartReady: ready,
      initWithoutSourceMaps: ratios['(none)'] as number,
      readyWithoutSourceMaps: ratios['ready (none)'] as number,
      workerBundleBytes: statSync(worker).size,
    });
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

await main();

/**
 * `celeriac up` from the command line: the example stack runs, its outputs file drives the other
 * commands (`--outputs FILE`) with no AWS settings, and a template it cannot run gets one line.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Deployment, up } from '../deployed/deployment';
import { ensureShopAssembly } from '../deployed/shop-assembly';
import { eventually, writeAssembly } from './assembly-fixture';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../bin/celeriac.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The environment of a shell with no AWS or celeriac settings. */
function bareEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CELERIAC_') && !k.startsWith('AWS_')) env[k] = v;
  return { ...env, NO_COLOR: '1' };
}

describe('celeriac up (the command)', () => {
  let deployment: Deployment;
  let dir: string;

  beforeAll(async () => {
    deployment = await up(ensureShopAssembly());
    dir = mkdtempSync(join(tmpdir(), 'celeriac-up-cli-'));
  }, 240_000);

  afterAll(async () => {
    await deployment?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the resource types it does not run, once, at start', () => {
    expect(deployment.logs().match(/not run: /g)).toHaveLength(1);
    expect(deployment.logs()).toContain('AWS::CloudWatch::Alarm ×6');
  });

  it('writes an outputs file that `celeriac call --wait --outputs FILE` uses as it is', async () => {
    const file = deployment.outputsFile;
    const { stdout } = await run(
      process.execPath,
      [CLI, 'call', 'add', '2', '3', '--wait', '--timeout', '20', '--target', 'aws', '--outputs', file],
      {
        cwd: ROOT,
        env: bareEnv(),
        timeout: 60_000,
      },
    );
    expect(stdout.trim()).toBe('5');
  }, 60_000);

  it('serves `celeriac events --follow --outputs FILE`: its own rule on the bus delivers the next task event', async () => {
    const follow = spawn(
      process.execPath,
      [CLI, 'events', '--follow', '--max', '1', '--timeout', '30', '--json', '--target', 'aws', '--outputs', deployment.outputsFile],
      {
        cwd: ROOT,
        env: bareEnv(),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    follow.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    follow.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((r) => follow.once('exit', r));
    await eventually(() => (stderr.includes('following events') ? true : undefined), 20_000);
    await run(process.execPath, [CLI, 'call', 'add', '20', '22', '--target', 'aws', '--outputs', deployment.outputsFile], {
      cwd: ROOT,
      env: bareEnv(),
      timeout: 30_000,
    });
    expect(await exited).toBe(0);
    const event = JSON.parse(stdout.trim().split('\n')[0] as string) as { source: string };
    expect(event.source).toBe('celeriac.shop');
    expect(JSON.stringify(event)).toContain('"task":"add"');
  }, 60_000);

  it('names the resource of a template it cannot run, in one line, and exits non-zero', async () => {
    const bad = writeAssembly({ Q: { Type: 'AWS::SQS::Queue', Properties: { DelaySeconds: { 'Fn::ImportValue': 'x' } } } });
    try {
      const failed = await run(process.execPath, [CLI, 'up', '--app', bad.dir, '--outputs-file', join(dir, 'never.json')], {
        cwd: ROOT,
        env: bareEnv(),
        timeout: 60_000,
      }).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      );
      expect(failed?.code).not.toBe(0);
      expect(failed?.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(/^celeriac: resource Q: Fn::ImportValue is not supported by `celeriac up`/),
      ]);
    } finally {
      bad.remove();
    }
  }, 60_000);
});

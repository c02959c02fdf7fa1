/**
 * Emulated local mode runs dynalite and fauxqs in a thread of their own (startEmulatorThread): they
 * answer while the app's thread is busy, stop() closes them and ends the thread, a start that fails
 * half-way leaves nothing listening, and nothing outlives the process that started them — not
 * even when that process is killed with SIGKILL.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startEmulatorThread } from '../../lib/local/emulators';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The HTTP status `url` answers with, or the connection error's code. */
async function probe(url: string): Promise<number | string> {
  try {
    const res = await fetch(url, { method: 'POST', body: '{}', signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return res.status;
  } catch (e) {
    return ((e as { cause?: { code?: string } }).cause?.code ?? String(e)) as string;
  }
}

function listening(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

function portOf(s: Server): number {
  return (s.address() as { port: number }).port;
}

async function freePort(): Promise<number> {
  const s = await listening();
  const port = portOf(s);
  await new Promise((r) => s.close(r));
  return port;
}

describe('the emulator thread', () => {
  it('answers while this thread is blocked (its servers run on another event loop)', async () => {
    const emulators = await startEmulatorThread();
    try {
      // execFileSync blocks this thread until the child exits: the child's requests can only be
      // answered by servers that do not run here.
      const statuses = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const s = []; for (const u of process.argv.slice(1)) s.push((await fetch(u, { method: 'POST', body: '{}' })).status); console.log(JSON.stringify(s));`,
          emulators.dynamodb,
          emulators.sqs,
        ],
        { encoding: 'utf8', timeout: 15_000 },
      );
      const [dynamo, sqs] = JSON.parse(statuses) as number[];
      // Any HTTP status: each reply comes from the emulator (an empty POST is not an operation).
      expect(typeof dynamo).toBe('number');
      expect(typeof sqs).toBe('number');
    } finally {
      await emulators.stop();
    }
  });

  it('stop() closes both endpoints (and S3 is fauxqs’s port)', async () => {
    const emulators = await startEmulatorThread();
    expect(emulators.s3).toBe(emulators.sqs);
    expect(typeof (await probe(emulators.dynamodb))).toBe('number');
    await emulators.stop();
    expect(await probe(emulators.dynamodb)).toBe('ECONNREFUSED');
    expect(await probe(emulators.sqs)).toBe('ECONNREFUSED');
    // A second stop() is the first one's.
    await emulators.stop();
  });

  it('a start that fails half-way (fauxqs’s port is taken) rejects with that error and leaves dynalite closed', async () => {
    const taken = await listening();
    const dynamodbPort = await freePort();
    try {
      await expect(startEmulatorThread({ sqsPort: portOf(taken), dynamodbPort })).rejects.toThrow(/EADDRINUSE/);
      expect(await probe(`http://127.0.0.1:${dynamodbPort}`)).toBe('ECONNREFUSED');
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it('does not outlive the process that started it: after SIGKILL of `startLocal`’s process, both endpoints refuse connections', async () => {
    const child: ChildProcess = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        `import { createApp } from './lib/index.ts';
         import { startLocal } from './lib/local/index.ts';
         const app = createApp({ name: 'orphan', logger: { debug() {}, info() {}, warn() {}, error() {} } });
         app.task('add', (x, y) => x + y);
         const local = await startLocal(app, { periodic: false });
         console.log(JSON.stringify(local.endpoints));
         setInterval(() => {}, 1000);`,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const endpoints = await new Promise<{ sqs: string; dynamodb: string }>((resolve, reject) => {
      let out = '';
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const nl = out.indexOf('\n');
        if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)) as { sqs: string; dynamodb: string });
      });
      child.once('exit', (code) => reject(new Error(`the child exited (${code}) before it started local mode`)));
    });
    expect(typeof (await probe(endpoints.dynamodb))).toBe('number');
    expect(typeof (await probe(endpoints.sqs))).toBe('number');
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(await probe(endpoints.dynamodb)).toBe('ECONNREFUSED');
    expect(await probe(endpoints.sqs)).toBe('ECONNREFUSED');
  }, 60_000);
});

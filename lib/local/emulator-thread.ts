/**
 * The emulator thread's entry (a `worker_threads` Worker started by `startEmulatorThread` in
 * lib/local/emulators.ts): serves dynalite and fauxqs on loopback ports, so that their request
 * handling — and the server half of every HTTP round trip — runs on an event loop (and a core) of
 * its own instead of the worker's. A thread, not a child process: it cannot outlive the process
 * that started it, whatever ends that process.
 *
 * Messages: the thread posts `{ type: 'ready', dynamodbPort, sqsPort }` once both listen (a failed
 * start throws, which the parent sees as the Worker's `error`); on `{ type: 'stop' }` it closes
 * both servers and ends.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type ServedEmulator, serveDynalite, serveFauxqs } from './emulator-servers';

/** What the thread is started with (`workerData`). */
export interface EmulatorThreadData {
  /** Ports to listen on; 0 or absent: a free one. */
  readonly dynamodbPort?: number;
  readonly sqsPort?: number;
}

/** What the thread posts to the parent. */
export type EmulatorThreadMessage = { readonly type: 'ready'; readonly dynamodbPort: number; readonly sqsPort: number };

const port = parentPort;
if (port === null) throw new Error('lib/local/emulator-thread.ts runs as a worker thread (startEmulatorThread)');

const data = (workerData ?? {}) as EmulatorThreadData;
const [dynamo, sqs] = await Promise.allSettled([serveDynalite({ port: data.dynamodbPort ?? 0 }), serveFauxqs({ port: data.sqsPort ?? 0 })]);
const started = [sqs, dynamo].flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
const stopAll = async (servers: readonly ServedEmulator[]): Promise<void> => {
  for (const s of servers) await s.stop();
};
if (dynamo.status === 'rejected' || sqs.status === 'rejected') {
  // The one that started is closed before the error ends the thread.
  await stopAll(started);
  throw dynamo.status === 'rejected' ? dynamo.reason : (sqs as PromiseRejectedResult).reason;
}
port.on('message', (m: { type?: string }) => {
  if (m?.type !== 'stop') return;
  // fauxqs first, then dynalite (the order the in-process backend stopped them in); then the
  // thread ends, with whatever timers either left behind.
  // A failed close ends the thread with that error (the parent's stop() rejects with it).
  void stopAll(started).then(
    () => process.exit(0),
    (e: unknown) => {
      throw e;
    },
  );
});
port.postMessage({ type: 'ready', dynamodbPort: dynamo.value.port, sqsPort: sqs.value.port } satisfies EmulatorThreadMessage);

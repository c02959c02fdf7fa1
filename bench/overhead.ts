/**
 * Worker path overhead: no-op tasks through the whole worker path (decode, dedupe read, run,
 * store, continue, publish events) on the memory adapters, in one process on one core.
 *
 *   npm run bench:overhead            (N=200000 by default; N=… to change)
 */
import type { SQSRecord } from 'aws-lambda';
import { memoryBackend } from '../lib/adapters/memory';
import { createApp } from '../lib/app';
import { encodeEnvelope } from '../lib/protocol/envelope';
import { createWorker } from '../lib/worker';

const N = Number(process.env.N ?? 200_000);
const BATCH = 10;

async function main(): Promise<void> {
  const backend = memoryBackend();
  const app = createApp({ name: 'bench', backend, logger: { debug() {}, info() {}, warn() {}, error() {} } });
  app.task('noop', () => null);
  const handler = createWorker(app);
  const records: SQSRecord[][] = [];
  for (let b = 0; b < N / BATCH; b++) {
    const batch: SQSRecord[] = [];
    for (let i = 0; i < BATCH; i++) {
      const id = `t-${b * BATCH + i}`;
      batch.push({
        messageId: id,
        receiptHandle: id,
        body: encodeEnvelope({ v: 1, id, task: 'noop', args: [], headers: { rootId: id, parentId: null, retries: 0, queue: 'default' } }),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:default',
        awsRegion: 'us-east-1',
      });
    }
    records.push(batch);
  }
  // warm up
  for (let i = 0; i < 200; i++) await handler({ Records: records[i] as SQSRecord[] });
  const start = process.hrtime.bigint();
  const cpu0 = process.cpuUsage();
  for (let i = 200; i < records.length; i++) await handler({ Records: records[i] as SQSRecord[] });
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const cpuSecs = (cpu.user + cpu.system) / 1e6;
  const n = (records.length - 200) * BATCH;
  const stored = (await backend.store.get(`t-${N - 1}`))?.state;
  if (stored !== 'SUCCESS') throw new Error(`last task not stored: ${stored}`);
  console.log(`worker path, memory adapters, events on: ${Math.round(n / secs)} tasks/s (${n} tasks in ${secs.toFixed(2)} s)`);
  // On a shared machine the wall clock counts other processes' time too; CPU time (this process,
  // GC threads included) is the steadier figure for comparing two builds.
  console.log(`per CPU-second: ${Math.round(n / cpuSecs)} tasks (${cpuSecs.toFixed(2)} s of CPU)`);
}

await main();

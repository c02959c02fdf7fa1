import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll } from 'vitest';
import { S3PayloadStore } from '../../lib/adapters/aws';
import { MemoryPayloadStore } from '../../lib/adapters/memory';
import { type Emulator, emulatorS3Config, ensureBucket, startFauxqs } from '../../lib/local/emulators';
import type { PayloadStore } from '../../lib/ports';
import { payloadStoreContract } from './payload-store.contract';

// ── memory ───────────────────────────────────────────────────────────────────────────────────

const memory = new Map<PayloadStore, MemoryPayloadStore>();
payloadStoreContract('memory', () => ({
  newStore(prefix) {
    const s = new MemoryPayloadStore({ prefix });
    memory.set(s, s);
    return s;
  },
  async overwrite(store, key, text) {
    // The twin's objects are private: write through a path that lands on the same key.
    await (memory.get(store) as MemoryPayloadStore).put(key.slice(store.prefix.length + 1), text);
  },
}));

// ── S3 on fauxqs ─────────────────────────────────────────────────────────────────────────────

let fauxqs: Emulator | undefined;
const clients: S3Client[] = [];
afterAll(async () => {
  for (const c of clients) c.destroy();
  await fauxqs?.stop();
});

payloadStoreContract('S3 (fauxqs)', async () => {
  fauxqs = await startFauxqs();
  const bucket = 'celeriac-payloads';
  await ensureBucket(fauxqs.endpoint, bucket);
  await ensureBucket(fauxqs.endpoint, bucket); // a second call is a no-op
  const client = new S3Client(emulatorS3Config(fauxqs.endpoint));
  clients.push(client);
  return {
    newStore: (prefix) => new S3PayloadStore({ client, bucket, prefix }),
    async overwrite(_store, key, text) {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text }));
    },
  };
});

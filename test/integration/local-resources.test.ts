/**
 * `LocalRuntime.resources`: the stack outputs of a local runtime (table, bus, queue and DLQ URLs).
 * A client in another process reaches the runtime with them and `endpoints` alone, as it reaches a
 * deployed stack with `cdk deploy --outputs-file` (test/deployed/ relies on it).
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsBackend } from '../../lib/adapters/aws';
import { loadConfig } from '../../lib/config';
import { createApp, States } from '../../lib/index';
import { EMULATOR_CLIENT_CONFIG, type LocalRuntime, startLocal } from '../../lib/local';
import { recordingLogger } from './targets';

function resourceApp(name: string) {
  const logger = recordingLogger();
  const app = createApp({ name, logger });
  app.task('add', (x: number, y: number) => x + y);
  app.task('shout', (s: string) => s.toUpperCase(), { queue: 'loud' });
  return { app, logger };
}

describe('LocalRuntime.resources on emulated', () => {
  const { app, logger } = resourceApp('res-emulated');
  let local: LocalRuntime;

  beforeAll(async () => {
    local = await startLocal(app, { mode: 'emulated' });
  });
  afterAll(async () => {
    await local?.stop();
  });

  it('names the table and the bus celeriac-<app>, and has a queue URL and a DLQ URL per topology queue', () => {
    expect(local.resources.app).toBe('res-emulated');
    expect(local.resources.table).toBe('celeriac-res-emulated');
    expect(local.resources.bus).toBe('celeriac-res-emulated');
    expect(Object.keys(local.resources.queueUrls).sort()).toEqual(['default', 'loud']);
    expect(Object.keys(local.resources.dlqUrls).sort()).toEqual(['default', 'loud']);
    expect(local.resources.queueUrls.loud).toMatch(/\/res-emulated-loud$/);
    expect(local.resources.dlqUrls.loud).toMatch(/\/res-emulated-loud-dlq$/);
  });

  it('a client built only from resources and endpoints sends to each queue URL and reads the result from the table', async () => {
    const client = awsBackend(
      loadConfig({
        CELERIAC_TABLE: local.resources.table,
        CELERIAC_QUEUE_URLS: JSON.stringify(local.resources.queueUrls),
        CELERIAC_EVENTS: 'off',
      }),
      { endpoints: local.endpoints, clientConfig: EMULATOR_CLIENT_CONFIG },
    );
    try {
      const calls = [
        { queue: 'default', body: { task: 'add', args: [2, 3], id: randomUUID() }, result: 5 },
        { queue: 'loud', body: { task: 'shout', args: ['hi'], id: randomUUID() }, result: 'HI' },
      ];
      for (const c of calls) {
        await client.clients.sqs.send(
          new SendMessageCommand({ QueueUrl: local.resources.queueUrls[c.queue], MessageBody: JSON.stringify(c.body) }),
        );
      }
      await local.drain();
      for (const c of calls) {
        expect(await client.store.get(c.body.id)).toMatchObject({ state: States.SUCCESS, result: c.result });
      }
    } finally {
      client.destroy();
    }
  });

  it('the DLQ URL is the dead-letter queue the runtime reports', async () => {
    const client = awsBackend(loadConfig({ CELERIAC_TABLE: local.resources.table }), {
      endpoints: local.endpoints,
      clientConfig: EMULATOR_CLIENT_CONFIG,
    });
    try {
      const body = JSON.stringify({ marker: randomUUID() });
      await client.clients.sqs.send(new SendMessageCommand({ QueueUrl: local.resources.dlqUrls.loud, MessageBody: body }));
      expect(await local.deadLetters('loud')).toContain(body);
    } finally {
      client.destroy();
    }
  });

  it('reported no errors', () => {
    expect(logger.errors).toEqual([]);
  });
});

describe('LocalRuntime.resources on memory', () => {
  it('has no table, and maps each queue to its in-memory name and DLQ name', async () => {
    const { app } = resourceApp('res-memory');
    const local = await startLocal(app, { mode: 'memory' });
    try {
      expect(local.resources).toEqual({
        app: 'res-memory',
        table: undefined,
        bus: 'celeriac-res-memory',
        queueUrls: { default: 'default', loud: 'loud' },
        dlqUrls: { default: 'res-memory-default-dlq', loud: 'res-memory-loud-dlq' },
      });
    } finally {
      await local.stop();
    }
  });
});

describe('dead-letter queue names', () => {
  it('are the same in memory and emulated modes: <app>-<queue>-dlq', async () => {
    const names: Record<string, string[]> = {};
    for (const mode of ['memory', 'emulated'] as const) {
      const { app } = resourceApp('dlqnames');
      const local = await startLocal(app, { mode });
      try {
        names[mode] = (await local.queues()).map((q) => q.deadLetterQueue).sort();
      } finally {
        await local.stop();
      }
    }
    expect(names.memory).toEqual(['dlqnames-default-dlq', 'dlqnames-loud-dlq']);
    expect(names.emulated).toEqual(names.memory);
  });
});

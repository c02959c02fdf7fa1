import type { Backend, OutgoingMessage } from '../ports';
import { encodeEnvelope } from '../protocol/envelope';
import type { RuntimeApp } from './app-port';
import type { Dispatch } from './engine';

/** Publishes dispatches, with `beforeTaskPublish` / `afterTaskPublish` around each (sender = task name). */
export async function publish(app: RuntimeApp, backend: Backend, dispatches: readonly Dispatch[]): Promise<void> {
  if (dispatches.length === 0) return;
  const { beforeTaskPublish, afterTaskPublish } = app.signals;
  const messages: OutgoingMessage[] = new Array(dispatches.length);
  for (let i = 0; i < dispatches.length; i++) {
    const d = dispatches[i] as Dispatch;
    if (beforeTaskPublish.hasReceivers) {
      await beforeTaskPublish.send({ sender: d.envelope.task, body: d.envelope, queue: d.queue, delaySeconds: d.delaySeconds });
    }
    messages[i] = {
      queue: d.queue,
      body: encodeEnvelope(d.envelope),
      id: d.envelope.id,
      ...(d.delaySeconds > 0 ? { delaySeconds: d.delaySeconds } : {}),
    };
  }
  await backend.broker.send(messages);
  if (afterTaskPublish.hasReceivers) {
    for (const d of dispatches) {
      await afterTaskPublish.send({ sender: d.envelope.task, body: d.envelope, queue: d.queue, delaySeconds: d.delaySeconds });
    }
  }
}

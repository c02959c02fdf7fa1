/**
 * `celeriac events --follow` on AWS. EventBridge keeps no history and has no "read" API, so the
 * tail subscribes the way any consumer would: a temporary SQS queue, a rule on the app's bus
 * matching `source: celeriac.<app>` that targets it, then long polls — and removes all three
 * when it ends. It needs sqs:CreateQueue/SetQueueAttributes/DeleteQueue and
 * events:PutRule/PutTargets/RemoveTargets/DeleteRule.
 *
 * This is the one CLI file that speaks the SDK directly: the ports have no "subscribe to the
 * bus", and a tail is an operator tool, not runtime behaviour. It uses the clients of the AWS
 * backend, so endpoints and credentials are the same as every other command's.
 */
import { DeleteRuleCommand, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, SetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { BusEvent } from '../../ports';
import type { JsonObject } from '../../protocol/json';
import { eventSource } from '../../signals/events';
import type { AwsBackend } from './index';
/** How a live event stream is consumed (the CLI's `events --follow`). */
export interface FollowOptions {
  /** Ends the stream (Ctrl-C, `--max` reached, `--timeout`). */
  readonly signal: AbortSignal;
  readonly onEvent: (event: BusEvent) => void;
  /** Called once the stream is listening: events published after this are seen. */
  readonly onReady?: () => void;
}

/** Tails the app's lifecycle events until `opts.signal` aborts; cleans up its queue and rule. */
export async function tailAwsEvents(backend: AwsBackend, app: string, bus: string | undefined, opts: FollowOptions): Promise<void> {
  const { sqs, eventbridge } = backend.clients;
  const name = `celeriac-tail-${app}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`.slice(0, 64);
  const busName = bus ?? 'default';
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { MessageRetentionPeriod: '600' } }));
  const url = created.QueueUrl as string;
  let ruleMade = false;
  try {
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
    const queueArn = attrs.Attributes?.QueueArn as string;
    const rule = await eventbridge.send(
      new PutRuleCommand({
        Name: name,
        EventBusName: busName,
        EventPattern: JSON.stringify({ source: [eventSource(app)] }),
        State: 'ENABLED',
        Description: 'celeriac events --follow (temporary)',
      }),
    );
    ruleMade = true;
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: url,
        Attributes: {
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              {
                Effect: 'Allow',
                Principal: { Service: 'events.amazonaws.com' },
                Action: 'sqs:SendMessage',
                Resource: queueArn,
                Condition: { ArnEquals: { 'aws:SourceArn': rule.RuleArn } },
              },
            ],
          }),
        },
      }),
    );
    await eventbridge.send(new PutTargetsCommand({ Rule: name, EventBusName: busName, Targets: [{ Id: 'tail', Arn: queueArn }] }));
    opts.onReady?.();
    while (!opts.signal.aborted) {
      const msgs = await backend.broker.receive(url, { max: 10, visibilityTimeoutSeconds: 30, waitMs: 2_000 });
      for (const m of msgs) {
        const e = JSON.parse(m.body) as { source: string; 'detail-type': string; detail: JsonObject; time: string; resources?: string[] };
        const event: BusEvent = {
          source: e.source,
          detailType: e['detail-type'],
          detail: e.detail,
          time: Date.parse(e.time),
          ...(e.resources && e.resources.length > 0 ? { resources: e.resources } : {}),
        };
        opts.onEvent(event);
      }
      if (msgs.length > 0)
        await backend.broker.delete(
          url,
          msgs.map((m) => m.receiptHandle),
        );
    }
  } finally {
    // Best effort: a tail must not leave a rule sending to a deleted queue (or a queue behind).
    if (ruleMade) {
      await eventbridge.send(new RemoveTargetsCommand({ Rule: name, EventBusName: busName, Ids: ['tail'] })).catch(() => {});
      await eventbridge.send(new DeleteRuleCommand({ Name: name, EventBusName: busName })).catch(() => {});
    }
    await sqs.send(new DeleteQueueCommand({ QueueUrl: url })).catch(() => {});
  }
}

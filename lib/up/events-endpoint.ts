/**
 * The EventBridge endpoint of a stack under `celeriac up`: PutEvents goes on to the capture
 * endpoint (lib/local/emulators.ts), and the rule API a client uses to subscribe at run time —
 * PutRule, PutTargets, RemoveTargets, DeleteRule, as `celeriac events --follow` does — changes
 * the stack's {@link LocalEvents}.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Emulator } from '../local/emulators';
import { readBody, serveOnLoopback } from '../local/http';
import { busName, type LocalEvents, ruleFromTemplate, ruleTargets } from './events';
import { forward } from './forward';

export interface EventsEndpointOptions {
  readonly events: () => LocalEvents | undefined;
  /** The PutEvents capture endpoint. */
  readonly capture: string;
  readonly region: string;
  readonly account: string;
}

/** Starts the endpoint on a free loopback port. */
export async function startEventsEndpoint(o: EventsEndpointOptions): Promise<Emulator> {
  const server = createServer((req, res) => {
    handle(o, req, res).catch((e: unknown) => reply(res, 500, { __type: 'InternalException', message: String(e) }));
  });
  return serveOnLoopback(server);
}

async function handle(o: EventsEndpointOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const raw = await readBody(req);
  const op = String(req.headers['x-amz-target'] ?? '').replace(/^AWSEvents\./, '');
  const events = o.events();
  if (op === 'PutEvents' || events === undefined) return forward(o.capture, req, res, raw);
  const body = JSON.parse(raw.toString('utf8') || '{}') as Record<string, unknown>;
  const bus = busName(String(body.EventBusName ?? 'default'));
  const name = String(body.Name ?? body.Rule ?? '');
  const arn = `arn:aws:events:${o.region}:${o.account}:rule/${bus === 'default' ? '' : `${bus}/`}${name}`;
  const existing = events.rule(bus, name);
  try {
    switch (op) {
      case 'PutRule': {
        const pattern = typeof body.EventPattern === 'string' ? JSON.parse(body.EventPattern) : undefined;
        const rule = ruleFromTemplate(name, name, arn, {
          EventPattern: pattern,
          EventBusName: bus,
          State: body.State ?? 'ENABLED',
          Targets: [],
        });
        if (rule !== undefined) events.put({ ...rule, targets: existing?.targets ?? [] });
        return reply(res, 200, { RuleArn: arn });
      }
      case 'PutTargets': {
        if (existing === undefined)
          return reply(res, 400, { __type: 'ResourceNotFoundException', message: `Rule ${name} does not exist on EventBus ${bus}.` });
        const added = ruleTargets(body.Targets);
        const ids = new Set(added.map((t) => t.id));
        events.put({ ...existing, targets: [...existing.targets.filter((t) => !ids.has(t.id)), ...added] });
        return reply(res, 200, { FailedEntryCount: 0, FailedEntries: [] });
      }
      case 'RemoveTargets': {
        if (existing === undefined)
          return reply(res, 400, { __type: 'ResourceNotFoundException', message: `Rule ${name} does not exist on EventBus ${bus}.` });
        const ids = new Set((body.Ids as string[] | undefined) ?? []);
        events.put({ ...existing, targets: existing.targets.filter((t) => !ids.has(t.id)) });
        return reply(res, 200, { FailedEntryCount: 0, FailedEntries: [] });
      }
      case 'DeleteRule':
        events.remove(bus, name);
        return reply(res, 200, {});
      default:
        return reply(res, 400, { __type: 'UnknownOperationException', message: `celeriac up does not serve EventBridge ${op}` });
    }
  } catch (e) {
    return reply(res, 400, { __type: 'ValidationException', message: (e as Error).message });
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

/**
 * An EventBridge Scheduler endpoint (its REST-JSON protocol) for the schedules functions create at
 * run time — celeriac's delays past SQS's 15 minutes: CreateSchedule, UpdateSchedule, GetSchedule
 * and DeleteSchedule on the stack's schedule groups, fired by the {@link LocalScheduler}. No
 * Scheduler emulator exists on npm.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Emulator } from '../local/emulators';
import { readBody, serveOnLoopback } from '../local/http';
import { type LocalScheduler, scheduleFromTemplate } from './schedules';

export interface SchedulerEndpointOptions {
  readonly scheduler: LocalScheduler;
  /** The groups that exist (the template's, plus `default`). */
  readonly groups: ReadonlySet<string>;
  readonly region: string;
  readonly account: string;
}

/** Starts the endpoint on a free loopback port. */
export async function startSchedulerEndpoint(o: SchedulerEndpointOptions): Promise<Emulator> {
  const server = createServer((req, res) => {
    handle(o, req, res).catch((e: unknown) => reply(res, 500, { Message: String(e) }, 'InternalServerException'));
  });
  return serveOnLoopback(server);
}

async function handle(o: SchedulerEndpointOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const m = /^\/schedules\/([^/]+)$/.exec(url.pathname);
  if (m === null) return reply(res, 404, { Message: `unsupported operation ${req.method} ${url.pathname}` }, 'ResourceNotFoundException');
  const name = decodeURIComponent(m[1] as string);
  const raw = (await readBody(req)).toString('utf8');
  const body = raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>);
  const group = String(body.GroupName ?? url.searchParams.get('groupName') ?? 'default');
  if (!o.groups.has(group)) return reply(res, 404, { Message: `Schedule group ${group} does not exist.` }, 'ResourceNotFoundException');
  const arn = `arn:aws:scheduler:${o.region}:${o.account}:schedule/${group}/${name}`;
  const existing = o.scheduler.get(group, name);
  switch (req.method) {
    case 'POST':
    case 'PUT': {
      if (req.method === 'POST' && existing !== undefined)
        return reply(res, 409, { Message: `Schedule ${name} already exists.` }, 'ConflictException');
      if (req.method === 'PUT' && existing === undefined)
        return reply(res, 404, { Message: `Schedule ${name} does not exist.` }, 'ResourceNotFoundException');
      let s: ReturnType<typeof scheduleFromTemplate>;
      try {
        s = scheduleFromTemplate(name, name, { ...body, GroupName: group }, Date.now());
      } catch (e) {
        return reply(res, 400, { Message: (e as Error).message }, 'ValidationException');
      }
      if (s !== undefined) o.scheduler.add(s, body.ActionAfterCompletion === 'DELETE');
      return reply(res, 200, { ScheduleArn: arn });
    }
    case 'GET':
      if (existing === undefined) return reply(res, 404, { Message: `Schedule ${name} does not exist.` }, 'ResourceNotFoundException');
      return reply(res, 200, {
        Arn: arn,
        Name: name,
        GroupName: group,
        ScheduleExpression: existing.schedule.expression,
        Target: { Arn: existing.targetArn, Input: existing.input },
      });
    case 'DELETE':
      if (!o.scheduler.remove(group, name))
        return reply(res, 404, { Message: `Schedule ${name} does not exist.` }, 'ResourceNotFoundException');
      return reply(res, 200, {});
    default:
      return reply(res, 405, { Message: `unsupported method ${req.method}` }, 'ValidationException');
  }
}

function reply(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  if (res.headersSent) return;
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(json),
    'x-amzn-requestid': `req-${Date.now()}`,
    ...(errorType === undefined ? {} : { 'x-amzn-errortype': errorType }),
  });
  res.end(json);
}

/**
 * A function's front door to the emulators: every SDK call a function makes goes here (its
 * `AWS_ENDPOINT_URL_<SERVICE>`), is told apart by the service its SigV4 signature names, checked
 * against the function's role ({@link RolePolicy}) and forwarded to the emulator — or refused as
 * AWS refuses it (AccessDenied), with a line naming the missing action and the statement that
 * would allow it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Emulator } from '../local/emulators';
import { readBody, serveOnLoopback } from '../local/http';
import { forward } from './forward';
import { type ArnEnv, type IamRequest, jsonRequests, type RolePolicy, type Service, s3Requests, schedulerRequests } from './iam';

export interface GatewayOptions extends ArnEnv {
  /** The function's name and role ARN, for the refusal's message. */
  readonly functionName: string;
  readonly roleArn: string;
  readonly policy: RolePolicy;
  /** Emulator endpoint of each service. */
  readonly upstream: Readonly<Record<Service, string>>;
  /** Called for every refused request. */
  readonly onDenied: (denied: IamRequest, service: Service) => void;
}

/** Starts a function's gateway on a free loopback port. */
export async function startGateway(o: GatewayOptions): Promise<Emulator> {
  const server = createServer((req, res) => {
    handle(o, req, res).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(e));
    });
  });
  return serveOnLoopback(server);
}

const SERVICES: ReadonlySet<string> = new Set(['sqs', 'dynamodb', 'events', 'scheduler', 's3']);

async function handle(o: GatewayOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readBody(req);
  const scope = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(String(req.headers.authorization ?? ''));
  const service = scope?.[1];
  if (service === undefined || !SERVICES.has(service)) {
    res.writeHead(400, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ __type: 'UnrecognizedClientException', message: `celeriac up: no service ${String(service)} here` }));
    return;
  }
  const svc = service as Service;
  const url = new URL(req.url ?? '/', 'http://localhost');
  const object = svc === 's3' ? s3Object(url) : undefined;
  const requests =
    object === undefined
      ? iamRequests(o, svc, req, url, body)
      : s3Requests(req.method ?? 'GET', object.bucket, object.key, url.searchParams, req.headers, body.toString('utf8'));
  const denied = o.policy.denied(requests);
  if (denied !== undefined) {
    o.onDenied(denied, svc);
    return refuse(res, svc, o, denied, req.method === 'HEAD');
  }
  await forward(o.upstream[svc], req, res, body);
}

/**
 * The bucket and key of an S3 request. Path-style (`/<bucket>/<key>`) only: the gateway's
 * endpoint is an IP address, to which the SDK sends path-style requests even without
 * `forcePathStyle` (a bucket cannot be a subdomain of an address).
 */
function s3Object(url: URL): { bucket: string; key: string } {
  const [bucket = '', ...key] = url.pathname.replace(/^\//, '').split('/');
  return { bucket: decodeURIComponent(bucket), key: decodeURIComponent(key.join('/')) };
}

function iamRequests(o: GatewayOptions, service: Service, req: IncomingMessage, url: URL, body: Buffer): IamRequest[] {
  const parsed = (): Record<string, unknown> => {
    try {
      return body.length === 0 ? {} : (JSON.parse(body.toString('utf8')) as Record<string, unknown>);
    } catch {
      return {};
    }
  };
  if (service === 'scheduler') return schedulerRequests(o, req.method ?? 'GET', url.pathname, url.searchParams, parsed());
  const target = req.headers['x-amz-target'];
  if (typeof target === 'string') return jsonRequests(o, service, target.slice(target.indexOf('.') + 1), parsed());
  // The SQS query protocol (older SDKs): Action and QueueUrl are form fields.
  const form = new URLSearchParams(body.toString('utf8'));
  const fields: Record<string, unknown> = {};
  for (const [k, v] of form) fields[k] = v;
  return jsonRequests(o, service, String(fields.Action ?? 'Unknown'), fields);
}

/** AccessDenied in each service's own error shape. */
function refuse(res: ServerResponse, service: Service, o: GatewayOptions, denied: IamRequest, head: boolean): void {
  const session = o.roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/');
  const message = `User: ${session}/${o.functionName} is not authorized to perform: ${denied.action} on resource: ${denied.resource} because no identity-based policy allows the ${denied.action} action`;
  if (service === 's3') {
    // S3's REST error: XML, status 403 (a HEAD answers with the status alone, as S3 does).
    const escaped = message.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>${escaped}</Message></Error>`;
    res.writeHead(403, { 'content-type': 'application/xml', 'content-length': head ? 0 : Buffer.byteLength(xml) });
    res.end(head ? undefined : xml);
    return;
  }
  if (service === 'scheduler') {
    const json = JSON.stringify({ Message: message });
    res.writeHead(403, {
      'content-type': 'application/json',
      'x-amzn-errortype': 'AccessDeniedException',
      'content-length': Buffer.byteLength(json),
    });
    res.end(json);
    return;
  }
  const type = service === 'sqs' ? 'com.amazonaws.sqs#AccessDenied' : 'AccessDeniedException';
  const json = JSON.stringify({ __type: type, message });
  res.writeHead(service === 'sqs' ? 403 : 400, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(json),
    ...(service === 'sqs' ? { 'x-amzn-query-error': 'AccessDenied;Sender' } : {}),
  });
  res.end(json);
}

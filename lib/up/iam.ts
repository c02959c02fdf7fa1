/**
 * IAM for the functions `up` runs: the identity policies the template attaches to each function's
 * role, and the IAM actions and resource ARNs an SQS, DynamoDB, EventBridge, Scheduler or S3
 * request asks for. Policies are evaluated with pbac, a kept evaluator of the AWS policy language (explicit
 * deny over allow, wildcards, condition operators).
 */
import { createRequire } from 'node:module';
import type { CfnTemplate } from './template';

/** An identity policy document, as the template has it (resolved). */
export interface PolicyDocument {
  readonly Version?: string;
  readonly Statement: readonly Record<string, unknown>[] | Record<string, unknown>;
}

/** One thing a request asks IAM for. */
export interface IamRequest {
  readonly action: string;
  readonly resource: string;
}

/** A request's service, as SigV4 names it in the credential scope. */
export type Service = 'sqs' | 'dynamodb' | 'events' | 'scheduler' | 's3';

/** The identity policies of a role: its inline `Policies`, and every `AWS::IAM::Policy` or `ManagedPolicy` naming it. */
export function rolePolicies(
  resolved: CfnTemplate,
  roleLogicalId: string,
  roleName: string,
): { policies: PolicyDocument[]; managedArns: string[] } {
  const role = resolved.Resources[roleLogicalId]?.Properties ?? {};
  const policies: PolicyDocument[] = [];
  for (const p of (role.Policies as { PolicyDocument?: PolicyDocument }[] | undefined) ?? [])
    if (p.PolicyDocument) policies.push(p.PolicyDocument);
  for (const r of Object.values(resolved.Resources)) {
    if (r.Type !== 'AWS::IAM::Policy' && r.Type !== 'AWS::IAM::ManagedPolicy') continue;
    const roles = (r.Properties?.Roles as unknown[] | undefined) ?? [];
    if (roles.includes(roleName) && r.Properties?.PolicyDocument) policies.push(r.Properties.PolicyDocument as PolicyDocument);
  }
  return { policies, managedArns: ((role.ManagedPolicyArns as string[] | undefined) ?? []).map(String) };
}

interface Pbac {
  evaluate(params: { action: string; resource: string; context?: Record<string, unknown> }): boolean;
}

/** A role's policies, ready to evaluate. */
export class RolePolicy {
  readonly #pbac: Pbac;

  constructor(policies: readonly PolicyDocument[]) {
    const PBAC = createRequire(import.meta.url)('pbac') as new (p: unknown[], o?: unknown) => Pbac;
    // pbac takes the policy language in its array form only; a lone string means a one-element list.
    const list = (v: unknown): unknown => (v === undefined ? undefined : Array.isArray(v) ? v : [v]);
    const normal = policies.map((p) => ({
      Version: p.Version ?? '2012-10-17',
      Statement: (Array.isArray(p.Statement) ? p.Statement : [p.Statement]).map((s) => {
        const out: Record<string, unknown> = { Effect: s.Effect };
        for (const k of ['Action', 'NotAction', 'Resource', 'NotResource'] as const) if (s[k] !== undefined) out[k] = list(s[k]);
        if (s.Sid !== undefined) out.Sid = s.Sid;
        if (s.Condition !== undefined) out.Condition = s.Condition;
        return out;
      }),
    }));
    this.#pbac = new PBAC(normal, { validateSchema: false, validateConditionNames: false });
  }

  /** The first request the policies do not allow, or undefined when all are allowed. */
  denied(requests: readonly IamRequest[]): IamRequest | undefined {
    return requests.find((r) => !this.#pbac.evaluate({ action: r.action, resource: r.resource }));
  }
}

/** The request's account and region, for the ARNs it names. */
export interface ArnEnv {
  readonly region: string;
  readonly account: string;
}

const sqsArn = (e: ArnEnv, urlOrName: string): string =>
  `arn:aws:sqs:${e.region}:${e.account}:${urlOrName.split('/').filter(Boolean).pop() ?? urlOrName}`;
const tableArn = (e: ArnEnv, table: string, index?: string): string =>
  table.startsWith('arn:')
    ? table
    : `arn:aws:dynamodb:${e.region}:${e.account}:table/${table}${index === undefined ? '' : `/index/${index}`}`;

/** SQS batch operations are authorized as the single operation. */
const SQS_BATCH: Readonly<Record<string, string>> = {
  SendMessageBatch: 'SendMessage',
  DeleteMessageBatch: 'DeleteMessage',
  ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
};

/**
 * What a JSON-protocol request (`X-Amz-Target: <prefix>.<Operation>`; SQS, DynamoDB, EventBridge)
 * asks IAM for. Unknown shapes ask for the operation on `*`.
 */
export function jsonRequests(e: ArnEnv, service: Service, operation: string, body: Record<string, unknown>): IamRequest[] {
  if (service === 'sqs') {
    const action = `sqs:${SQS_BATCH[operation] ?? operation}`;
    const q = body.QueueUrl ?? body.QueueName;
    return [{ action, resource: typeof q === 'string' ? sqsArn(e, q) : '*' }];
  }
  if (service === 'dynamodb') {
    const per = (op: string, table: unknown, index?: unknown): IamRequest => ({
      action: `dynamodb:${op}`,
      resource: typeof table === 'string' ? tableArn(e, table, typeof index === 'string' ? index : undefined) : '*',
    });
    if (operation === 'BatchWriteItem' || operation === 'BatchGetItem') {
      return Object.keys((body.RequestItems as Record<string, unknown>) ?? {}).map((t) => per(operation, t));
    }
    if (operation === 'TransactWriteItems' || operation === 'TransactGetItems') {
      const kinds: Record<string, string> = {
        Put: 'PutItem',
        Update: 'UpdateItem',
        Delete: 'DeleteItem',
        ConditionCheck: 'ConditionCheckItem',
        Get: 'GetItem',
      };
      return ((body.TransactItems as Record<string, { TableName?: string }>[]) ?? []).flatMap((item) =>
        Object.entries(item).map(([kind, v]) => per(kinds[kind] ?? kind, v.TableName)),
      );
    }
    return [per(operation, body.TableName, body.IndexName)];
  }
  if (service === 'events' && operation === 'PutEvents') {
    const buses = new Set(((body.Entries as { EventBusName?: string }[]) ?? []).map((x) => x.EventBusName ?? 'default'));
    return [...buses].map((b) => ({
      action: 'events:PutEvents',
      resource: b.startsWith('arn:') ? b : `arn:aws:events:${e.region}:${e.account}:event-bus/${b}`,
    }));
  }
  return [{ action: `${service}:${operation}`, resource: '*' }];
}

/** What a Scheduler REST request asks IAM for (CreateSchedule and UpdateSchedule also pass the target's role). */
export function schedulerRequests(
  e: ArnEnv,
  method: string,
  path: string,
  query: URLSearchParams,
  body: Record<string, unknown>,
): IamRequest[] {
  const m = /^\/schedules\/([^/]+)$/.exec(path);
  if (m === null) return [{ action: 'scheduler:*', resource: '*' }];
  const name = decodeURIComponent(m[1] as string);
  const group = String(body.GroupName ?? query.get('groupName') ?? 'default');
  const op =
    method === 'POST' ? 'CreateSchedule' : method === 'PUT' ? 'UpdateSchedule' : method === 'DELETE' ? 'DeleteSchedule' : 'GetSchedule';
  const out: IamRequest[] = [
    { action: `scheduler:${op}`, resource: `arn:aws:scheduler:${e.region}:${e.account}:schedule/${group}/${name}` },
  ];
  const role = (body.Target as { RoleArn?: unknown } | undefined)?.RoleArn;
  if ((op === 'CreateSchedule' || op === 'UpdateSchedule') && typeof role === 'string')
    out.push({ action: 'iam:PassRole', resource: role });
  return out;
}

/** Bucket subresources whose action is not `s3:<Get|Put|Delete>Bucket<Subresource>`. */
const S3_BUCKET_ACTIONS: Readonly<Record<string, string>> = {
  'GET uploads': 's3:ListBucketMultipartUploads',
  'GET versions': 's3:ListBucketVersions',
  'GET lifecycle': 's3:GetLifecycleConfiguration',
  'PUT lifecycle': 's3:PutLifecycleConfiguration',
  'DELETE lifecycle': 's3:PutLifecycleConfiguration',
  'GET cors': 's3:GetBucketCORS',
  'PUT cors': 's3:PutBucketCORS',
};
/** Object subresources, by method, and the action each asks for. */
const S3_OBJECT_SUBRESOURCES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  GET: {
    tagging: 's3:GetObjectTagging',
    acl: 's3:GetObjectAcl',
    attributes: 's3:GetObjectAttributes',
    uploadId: 's3:ListMultipartUploadParts',
  },
  PUT: { tagging: 's3:PutObjectTagging', acl: 's3:PutObjectAcl' },
  DELETE: { tagging: 's3:DeleteObjectTagging', uploadId: 's3:AbortMultipartUpload' },
};

/**
 * What an S3 REST request asks IAM for: the object actions on `arn:aws:s3:::<bucket>/<key>`
 * (GetObject, PutObject — multipart parts and copies included —, DeleteObject per key of a
 * DeleteObjects body), the bucket actions on `arn:aws:s3:::<bucket>` (ListBucket for a listing or
 * HeadBucket, CreateBucket, `s3:GetBucket<Sub>` for a subresource). `key` is the decoded key, or
 * empty for a bucket request.
 */
export function s3Requests(
  method: string,
  bucket: string,
  key: string,
  query: URLSearchParams,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
): IamRequest[] {
  if (bucket === '') return [{ action: 's3:ListAllMyBuckets', resource: '*' }];
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const m = method === 'HEAD' ? 'GET' : method;
  if (key === '') {
    if (m === 'POST' && query.has('delete')) {
      const keys = [...body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((k) => xmlText(k[1] as string));
      return keys.map((k) => ({ action: 's3:DeleteObject', resource: `${bucketArn}/${k}` }));
    }
    const sub = [...query.keys()].find((k) => !LISTING_PARAMS.has(k));
    if (sub === undefined) {
      const plain: Record<string, string> = { GET: 's3:ListBucket', PUT: 's3:CreateBucket', DELETE: 's3:DeleteBucket' };
      return [{ action: plain[m] ?? `s3:${m}Bucket`, resource: bucketArn }];
    }
    const verb = m === 'GET' ? 'Get' : m === 'PUT' ? 'Put' : m === 'DELETE' ? 'Delete' : m;
    const action = S3_BUCKET_ACTIONS[`${m} ${sub}`] ?? `s3:${verb}Bucket${sub.charAt(0).toUpperCase()}${sub.slice(1)}`;
    return [{ action, resource: bucketArn }];
  }
  const resource = `${bucketArn}/${key}`;
  const sub = Object.keys(S3_OBJECT_SUBRESOURCES[m] ?? {}).find((k) => query.has(k));
  if (sub !== undefined) return [{ action: S3_OBJECT_SUBRESOURCES[m]?.[sub] as string, resource }];
  const version = query.has('versionId') ? 'Version' : '';
  if (m === 'GET') return [{ action: `s3:GetObject${version}`, resource }];
  if (m === 'DELETE') return [{ action: `s3:DeleteObject${version}`, resource }];
  // PUT (an object, a part, a copy) and POST (starting or completing a multipart upload) write the object.
  const out: IamRequest[] = [{ action: 's3:PutObject', resource }];
  const source = headers['x-amz-copy-source'];
  if (typeof source === 'string') {
    const [path = '', q = ''] = decodeURIComponent(source).replace(/^\//, '').split('?');
    out.push({ action: `s3:GetObject${q.includes('versionId=') ? 'Version' : ''}`, resource: `arn:aws:s3:::${path}` });
  }
  return out;
}

/** Query parameters of a bucket listing (ListObjects V1/V2), which are not subresources. */
const LISTING_PARAMS: ReadonlySet<string> = new Set([
  'list-type',
  'prefix',
  'delimiter',
  'max-keys',
  'marker',
  'continuation-token',
  'start-after',
  'encoding-type',
  'fetch-owner',
  'x-id',
]);

function xmlText(s: string): string {
  return s.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e] as string);
}

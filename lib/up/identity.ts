/**
 * The local identity of each template resource: its physical name, what `Ref` returns and the
 * attributes `Fn::GetAtt` reads, in the account and region of the local emulators. Names follow
 * CloudFormation's rule — the name property when the template sets one, else one derived from
 * the stack and the logical id (CloudFormation adds a random suffix; locally it is left out so
 * names stay stable between runs).
 */
import type { ResolvedIds } from './resolve';
import { type CfnTemplate, TemplateError } from './template';

/** Account and region of every local ARN (the emulators' convention). */
export interface LocalEnv {
  readonly account: string;
  readonly region: string;
  readonly stackName: string;
}

/** The name property of each type CloudFormation lets a template name, and the longest name it allows. */
const NAME_PROPERTY: Readonly<Record<string, readonly [string, number]>> = {
  'AWS::SQS::Queue': ['QueueName', 80],
  'AWS::DynamoDB::Table': ['TableName', 255],
  'AWS::S3::Bucket': ['BucketName', 63],
  'AWS::Events::EventBus': ['Name', 256],
  'AWS::Events::Rule': ['Name', 64],
  'AWS::Lambda::Function': ['FunctionName', 64],
  'AWS::IAM::Role': ['RoleName', 64],
  'AWS::IAM::Policy': ['PolicyName', 128],
  'AWS::Scheduler::ScheduleGroup': ['Name', 64],
  'AWS::Scheduler::Schedule': ['Name', 64],
  'AWS::Logs::LogGroup': ['LogGroupName', 512],
};

/** The physical name of a resource (a string name property, or `<stack>-<logicalId>` cut to the type's limit). */
export function physicalName(env: LocalEnv, logicalId: string, template: CfnTemplate): string {
  const r = template.Resources[logicalId];
  if (r === undefined) throw new TemplateError(logicalId, 'no such resource');
  const [prop, max] = NAME_PROPERTY[r.Type] ?? ['', 255];
  const given = prop === '' ? undefined : r.Properties?.[prop];
  if (given !== undefined && typeof given !== 'string') {
    throw new TemplateError(logicalId, `its ${prop} is computed (${JSON.stringify(given)}); \`celeriac up\` needs a literal name or none`);
  }
  if (typeof given === 'string') return given;
  const fifo = r.Type === 'AWS::SQS::Queue' && r.Properties?.FifoQueue === true ? '.fifo' : '';
  const derived = `${env.stackName}-${logicalId}`.slice(0, max - fifo.length) + fifo;
  // Bucket names are lowercase (CloudFormation lowercases the names it derives for buckets).
  return r.Type === 'AWS::S3::Bucket' ? derived.toLowerCase() : derived;
}

/**
 * Ref values and attributes of every resource, pseudo parameters and parameter defaults. `queueUrls`
 * maps a queue's logical id to the URL the SQS emulator gave it.
 */
export function localIds(env: LocalEnv, template: CfnTemplate, queueUrls: ReadonlyMap<string, string>): ResolvedIds {
  const { account: a, region: r } = env;
  const refs: Record<string, string> = {
    'AWS::Region': r,
    'AWS::AccountId': a,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': env.stackName,
    'AWS::StackId': `arn:aws:cloudformation:${r}:${a}:stack/${env.stackName}/local`,
  };
  for (const [name, p] of Object.entries(template.Parameters ?? {})) {
    if (p.Default !== undefined) refs[name] = String(p.Default);
  }
  const attributes: Record<string, Record<string, string>> = {};
  for (const [id, res] of Object.entries(template.Resources)) {
    const name = physicalName(env, id, template);
    const props = res.Properties ?? {};
    switch (res.Type) {
      case 'AWS::SQS::Queue': {
        const url = queueUrls.get(id) ?? `http://sqs.${r}.localhost/${a}/${name}`;
        refs[id] = url;
        attributes[id] = { Arn: `arn:aws:sqs:${r}:${a}:${name}`, QueueName: name, QueueUrl: url };
        break;
      }
      case 'AWS::DynamoDB::Table':
        refs[id] = name;
        attributes[id] = { Arn: `arn:aws:dynamodb:${r}:${a}:table/${name}` };
        break;
      case 'AWS::S3::Bucket':
        refs[id] = name;
        attributes[id] = {
          Arn: `arn:aws:s3:::${name}`,
          DomainName: `${name}.s3.amazonaws.com`,
          RegionalDomainName: `${name}.s3.${r}.amazonaws.com`,
        };
        break;
      case 'AWS::Events::EventBus':
        refs[id] = name;
        attributes[id] = { Arn: `arn:aws:events:${r}:${a}:event-bus/${name}`, Name: name };
        break;
      case 'AWS::Events::Rule': {
        const bus = typeof props.EventBusName === 'object' ? busRefName(env, template, props.EventBusName) : props.EventBusName;
        refs[id] = name;
        const path = bus === undefined || bus === 'default' ? name : `${String(bus)}/${name}`;
        attributes[id] = { Arn: `arn:aws:events:${r}:${a}:rule/${path}` };
        break;
      }
      case 'AWS::Lambda::Function':
        refs[id] = name;
        attributes[id] = { Arn: `arn:aws:lambda:${r}:${a}:function:${name}` };
        break;
      case 'AWS::IAM::Role':
        refs[id] = name;
        attributes[id] = { Arn: `arn:aws:iam::${a}:role/${name}`, RoleId: `AROALOCAL${id.slice(0, 12).toUpperCase()}` };
        break;
      case 'AWS::Scheduler::ScheduleGroup':
        refs[id] = name;
        attributes[id] = { Arn: `arn:aws:scheduler:${r}:${a}:schedule-group/${name}` };
        break;
      case 'AWS::Scheduler::Schedule': {
        const group = typeof props.GroupName === 'string' ? props.GroupName : 'default';
        refs[id] = name;
        attributes[id] = { Arn: `arn:aws:scheduler:${r}:${a}:schedule/${group}/${name}` };
        break;
      }
      case 'AWS::Logs::LogGroup':
        refs[id] = name;
        attributes[id] = { Arn: `arn:aws:logs:${r}:${a}:log-group:${name}:*` };
        break;
      default:
        // Resources `up` does not run still answer Ref (policies and alarms name them).
        refs[id] = name;
        attributes[id] = { Arn: `arn:aws:cloudformation:${r}:${a}:resource/${env.stackName}/${id}` };
    }
  }
  return { refs, attributes };
}

function busRefName(env: LocalEnv, template: CfnTemplate, value: unknown): string | undefined {
  const ref = (value as { Ref?: unknown }).Ref;
  return typeof ref === 'string' && template.Resources[ref] !== undefined ? physicalName(env, ref, template) : undefined;
}

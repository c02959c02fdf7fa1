/**
 * Stack outputs → the environment keys of lib/config.ts, so the CLI reaches a deployed stack
 * with `--outputs cdk-outputs.json` (written by `cdk deploy --outputs-file cdk-outputs.json`)
 * as a Lambda does with the variables the stack sets.
 */
import { readFileSync } from 'node:fs';
import { ENV } from '../config';
import { notFound, usage } from './errors';

/**
 * Output keys read for each setting. CfnOutput ids are alphanumeric, may carry a construct
 * prefix, and CDK may append an 8-character hash to nested ones: keys are compared without case,
 * without such a hash, by suffix (`TaskRunnerTableName1A2B3C4D` is the table). The env key's own
 * name (`CELERIAC_TABLE` → `celeriactable`) is accepted too.
 */
export const OUTPUT_KEYS: Readonly<
  Record<
    keyof typeof ENV & ('app' | 'table' | 'bus' | 'queueUrls' | 'dlqUrls' | 'schedulerGroup' | 'schedulerRoleArn' | 'payloadBucket'),
    readonly string[]
  >
> = {
  // The names cdk/stack.ts outputs come first.
  app: ['appname', 'celeriacapp'],
  table: ['tablename', 'celeriactable'],
  bus: ['busname', 'eventbusname', 'celeriacbus'],
  queueUrls: ['queueurls', 'celeriacqueueurls'],
  dlqUrls: ['dlqurls', 'deadletterqueueurls', 'celeriacdlqurls'],
  schedulerGroup: ['schedulergroup', 'celeriacschedulergroup'],
  schedulerRoleArn: ['schedulerrolearn', 'celeriacschedulerrolearn'],
  payloadBucket: ['payloadbucketname', 'celeriacpayloadbucket'],
};

/** The output ids cdk/stack.ts gives these settings, as spelled there. */
const CANONICAL: ReadonlySet<string> = new Set([
  'AppName',
  'TableName',
  'BusName',
  'QueueUrls',
  'DlqUrls',
  'SchedulerGroup',
  'SchedulerRoleArn',
  'PayloadBucketName',
]);

/** Endpoint and region entries an outputs file of `celeriac up` carries, passed through as they are. */
const ENDPOINT_KEY = /^(AWS_ENDPOINT_URL(_[A-Z0-9]+)?|AWS_REGION)$/;

const stripHash = (k: string): string => k.replace(/[0-9A-F]{8}$/, '');
const normalise = (k: string): string =>
  stripHash(k)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');

/**
 * Reads a CDK outputs file (`{ "<Stack>": { "<OutputKey>": "<value>" } }`) and returns the env
 * entries it provides. With several stacks, `stack` picks one; with one, it is used.
 *
 * @throws CliError (not found) when the file is missing; (usage) when it is not an outputs file.
 */
export function envFromOutputs(file: string, stack?: string): Record<string, string> {
  let raw: string;
  try {
    raw = readFileSync(file, 'utf8');
  } catch {
    throw notFound(`stack outputs file ${file} not found; write it with \`cdk deploy --outputs-file ${file}\``);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw usage(`${file} is not JSON; expected the file \`cdk deploy --outputs-file\` writes`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw usage(`${file}: expected { "<stack>": { "<output>": "<value>" } }`);
  const stacks = Object.entries(parsed as Record<string, unknown>);
  const picked = stack === undefined ? (stacks.length === 1 ? stacks[0] : undefined) : stacks.find(([name]) => name === stack);
  if (picked === undefined) {
    throw usage(
      stack === undefined
        ? `${file} holds ${stacks.length} stacks (${stacks.map(([n]) => n).join(', ')}); pick one with --stack`
        : `${file} has no stack "${stack}" (it has: ${stacks.map(([n]) => n).join(', ')})`,
    );
  }
  const outputs = picked[1] as Record<string, unknown>;
  const env: Record<string, string> = {};
  // `celeriac up` adds the local endpoints under their variable names (no CfnOutput id has an
  // underscore, so they cannot clash with the stack's own outputs).
  for (const [key, value] of Object.entries(outputs)) {
    if (ENDPOINT_KEY.test(key) && typeof value === 'string') env[key] = value;
  }
  // Each output goes to the setting whose name it ends with, the longest name winning, so a
  // construct prefix (`TaskRunnerTableName…`) is fine and `DeadLetterQueueUrls` is not `QueueUrls`.
  const matchedBy = new Map<string, number>();
  for (const [key, value] of Object.entries(outputs)) {
    if (ENDPOINT_KEY.test(key)) continue;
    const nk = normalise(key);
    let best: { setting: keyof typeof OUTPUT_KEYS; length: number } | undefined;
    for (const [setting, names] of Object.entries(OUTPUT_KEYS) as [keyof typeof OUTPUT_KEYS, readonly string[]][]) {
      for (const name of names) {
        // The stack's own spelling beats a case-insensitive match, which beats a suffix match: the
        // per-queue output of a queue named "S" (`QueueUrlS`) must not shadow `QueueUrls`.
        const exact = nk === name;
        const score = exact && CANONICAL.has(stripHash(key)) ? 2_000 : exact ? 1_000 + name.length : nk.endsWith(name) ? name.length : -1;
        if (score >= 0 && (best === undefined || score > best.length)) best = { setting, length: score };
      }
    }
    if (best === undefined || (matchedBy.get(best.setting) ?? -1) >= best.length) continue;
    matchedBy.set(best.setting, best.length);
    env[ENV[best.setting]] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return env;
}

/**
 * Stack outputs → the environment keys of lib/config.ts, so the CLI reaches a deployed stack
 * with `--outputs cdk-outputs.json` (written by `cdk deploy --outputs-file cdk-outputs.json`)
 * as a Lambda does with the variables the stack sets.
 */
import { readFileSync } from 'node:fs';
import { ENV } from '../config';
import { notFound, usage } from './errors';

/**
 * Output keys read for each setting. CfnOutput ids are alphanumeric and CDK may append an
 * 8-character hash to nested ones, so keys are compared without case and without such a suffix;
 * the env key's own name (`CELERIAC_TABLE` → `celeriactable`) is accepted too.
 */
export const OUTPUT_KEYS: Readonly<Record<keyof typeof ENV & ('app' | 'table' | 'bus' | 'queueUrls' | 'dlqUrls'), readonly string[]>> = {
  app: ['appname', 'celeriacapp'],
  table: ['tablename', 'celeriactable'],
  bus: ['eventbusname', 'busname', 'celeriacbus'],
  queueUrls: ['queueurls', 'celeriacqueueurls'],
  dlqUrls: ['dlqurls', 'deadletterqueueurls', 'celeriacdlqurls'],
};

const normalise = (k: string): string =>
  k
    .replace(/[0-9A-F]{8}$/, '')
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
  const byKey = new Map(Object.entries(outputs).map(([k, v]) => [normalise(k), v]));
  const env: Record<string, string> = {};
  for (const [setting, keys] of Object.entries(OUTPUT_KEYS) as [keyof typeof OUTPUT_KEYS, readonly string[]][]) {
    for (const k of keys) {
      const v = byKey.get(k);
      if (v === undefined) continue;
      env[ENV[setting]] = typeof v === 'string' ? v : JSON.stringify(v);
      break;
    }
  }
  return env;
}

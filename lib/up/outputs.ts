/** The outputs file `celeriac up` writes: `cdk deploy --outputs-file`'s shape, plus the local endpoints. */
import { writeFileSync } from 'node:fs';
import type { RunningStack } from './index';

/**
 * `{ "<stack>": { ...outputs, AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_EVENTBRIDGE, AWS_REGION } }`:
 * what `celeriac … --outputs FILE` and the deployed suite read.
 */
export function outputsFileContent(
  stack: Pick<RunningStack, 'stackName' | 'outputs' | 'endpoints'>,
): Record<string, Record<string, string>> {
  return { [stack.stackName]: { ...stack.outputs, ...stack.endpoints } };
}

/** Writes {@link outputsFileContent} to `file`. */
export function writeOutputsFile(file: string, stack: Pick<RunningStack, 'stackName' | 'outputs' | 'endpoints'>): void {
  writeFileSync(file, `${JSON.stringify(outputsFileContent(stack), null, 2)}\n`);
}

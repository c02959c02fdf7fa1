/**
 * `celeriac up`: runs the synthesized stack (`cdk synth`'s cloud assembly) locally until Ctrl-C,
 * and writes its outputs file for the other commands (`--outputs FILE`).
 */
import { resolve } from 'node:path';
import { startStack } from '../../up/index';
import { writeOutputsFile } from '../../up/outputs';
import { err, out } from '../io';

export interface UpCommandOptions {
  readonly app: string;
  readonly stack?: string;
  readonly outputsFile: string;
  /** Stop when standard input closes (a parent process that runs `up` and may die). */
  readonly untilStdinCloses?: boolean;
}

/** The line printed once the stack runs and its outputs file is written. */
export const UP_READY = 'celeriac up: ready';

/** Runs until SIGINT/SIGTERM; resolves with the exit code after a clean stop. */
export async function upCommand(o: UpCommandOptions, cwd = process.cwd()): Promise<number> {
  const t0 = Date.now();
  const stack = await startStack({
    app: resolve(cwd, o.app),
    ...(o.stack === undefined ? {} : { stack: o.stack }),
    log: (line) => err(line),
  });
  const file = resolve(cwd, o.outputsFile);
  writeOutputsFile(file, stack);
  if (stack.skipped.length > 0) out(`not run: ${stack.skipped.map((s) => `${s.type} ×${s.count}`).join(', ')}`);
  out(`stack ${stack.stackName}: ${stack.functions.size} function(s) running; outputs in ${file}`);
  out(`${UP_READY} in ${Date.now() - t0} ms`);
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
    if (o.untilStdinCloses) {
      process.stdin.once('end', () => done());
      process.stdin.once('close', () => done());
      process.stdin.resume();
    }
  });
  // Never hang on exit if a component does not stop.
  setTimeout(() => process.exit(0), 5_000).unref();
  await stack.stop();
  return 0;
}

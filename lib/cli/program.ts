/**
 * The `celeriac` command line (commander). Each action returns an exit code; every failure the
 * user can fix is a {@link CliError}: one line on stderr and a meaningful code (see `--help`).
 */
import { Command, CommanderError, Option } from 'commander';
import { isCeleriacError } from '../errors';
import { DEFAULT_DASHBOARD_PORT } from '../local/dashboard/defaults';
import { DEFAULT_APP_MODULE } from './app-module';
import { parsePort, parseSeconds } from './args';
import type { CallOptions } from './commands/tasks';
import { openTarget, type TargetOptions } from './connect';
import { CliError, EXIT_CODES_HELP, ExitCodes } from './errors';
import type { Target } from './target';

/** What commands need from the outside world; tests may pass their own. */
export interface CliContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

const positiveInt = (option: string) => (raw: string) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new CliError(ExitCodes.USAGE, `${option} must be a positive integer, got "${raw}"`);
  return n;
};

const TARGET_HELP = `
Target: a running \`celeriac dev\` in this directory (found through .celeriac/dev.json) when it
answers, else the deployed stack named by CELERIAC_TABLE, CELERIAC_QUEUE_URLS, CELERIAC_DLQ_URLS,
CELERIAC_BUS, CELERIAC_APP (or --outputs cdk-outputs.json) with the usual AWS credentials;
AWS_ENDPOINT_URL points it at LocalStack.`;

/** Builds the program. `run` is what each action's code goes to. */
export function buildProgram(ctx: CliContext, run: (code: number) => void): Command {
  const program = new Command('celeriac')
    .description("Celery's task model on AWS: run an app locally, call tasks, read results, manage queues.")
    .version('0.1.0', '-V, --version')
    // One line per usage error, prefixed like every other CLI error.
    .configureOutput({ outputError: (str, write) => write(`celeriac: ${str.trim().replace(/^error: /, '')} (see --help)\n`) })
    .addHelpText('after', `${EXIT_CODES_HELP}\n${TARGET_HELP}`)
    .exitOverride();

  /** Options every command that talks to a target takes. */
  const targetOptions = (cmd: Command): Command =>
    cmd
      .addOption(new Option('--target <where>', 'where to act').choices(['auto', 'local', 'aws']).default('auto'))
      .option('--dev-url <url>', 'a celeriac dev server URL (instead of .celeriac/dev.json)')
      .option('--outputs <file>', 'stack outputs file from `cdk deploy --outputs-file` (AWS target)')
      .option('--stack <name>', 'stack to read in --outputs when it holds several')
      .option('--app <module>', `app module, for task names and queues on AWS (default ${DEFAULT_APP_MODULE} if present)`)
      .addHelpText('after', `${EXIT_CODES_HELP}\n${TARGET_HELP}`);

  /** Opens the target, runs the command, closes the target. */
  const withTarget =
    <A extends unknown[]>(fn: (target: Target, ...args: A) => Promise<number>) =>
    async (...args: A): Promise<void> => {
      const cmd = args[args.length - 1] as Command;
      const target = await openTarget(cmd.opts<TargetOptions>(), ctx.env, ctx.cwd);
      try {
        run(await fn(target, ...args));
      } finally {
        await target.close();
      }
    };

  program
    .command('init')
    .description('write a new project: an app with tasks, a worker, a subscriber, a test, a CDK app')
    .argument('<dir>', 'directory to create (new or empty)')
    .option('--name <name>', "the app's name (default: the directory's name)")
    .option('--celeriac <spec>', "celeriac's dependency spec in the new package.json (default: ^ this version)")
    .addHelpText('after', `${EXIT_CODES_HELP}\n\nThen: cd <dir> && npm install && npm test && npm run dev`)
    .action(async (dir: string, o: { name?: string; celeriac?: string }) => {
      const { initCommand } = await import('./commands/init');
      run(initCommand(dir, o, ctx.cwd));
    });

  program
    .command('dev')
    .description('run an app locally (pollers, event bus, schedules) with its dashboard, until Ctrl-C')
    .argument('[module]', 'module exporting the app', DEFAULT_APP_MODULE)
    .addOption(
      new Option('--mode <mode>', 'memory: in-process adapters; emulated: SQS and DynamoDB emulators')
        .choices(['memory', 'emulated'])
        .default('emulated'),
    )
    .option('--port <port>', `dashboard port (0: any free port)`, parsePort, DEFAULT_DASHBOARD_PORT)
    .option('-q, --quiet', 'do not print a line per finished task')
    .addHelpText('after', `${EXIT_CODES_HELP}\n\nThe dashboard address is written to .celeriac/dev.json; other commands run here use it.`)
    .action(async (module: string, o: { mode: 'memory' | 'emulated'; port: number; quiet?: boolean }) => {
      const { devCommand } = await import('./commands/dev');
      run(await devCommand(module, o, ctx.cwd));
    });

  program
    .command('up')
    .description("run the synthesized stack (cdk synth's cloud assembly) locally, as deployed, until Ctrl-C")
    .option('--app <dir>', 'the cloud assembly directory', 'cdk.out')
    .option('--stack <name>', 'the stack to run when the assembly holds several')
    .option('--outputs-file <file>', 'where to write the stack outputs and local endpoints', 'cdk-outputs.up.json')
    .option('--until-stdin-closes', 'also stop when standard input closes (for a parent process that runs up)')
    .addHelpText(
      'after',
      `${EXIT_CODES_HELP}\n\nThen: celeriac call <task> --outputs cdk-outputs.up.json (other commands take --outputs too).`,
    )
    .action(async (o: { app: string; stack?: string; outputsFile: string; untilStdinCloses?: boolean }) => {
      const { upCommand } = await import('./commands/up');
      run(await upCommand(o, ctx.cwd));
    });

  targetOptions(
    program
      .command('call')
      .description('call a task by name; args are JSON where they parse (2, true, {"a":1}), else strings')
      .argument('<task>', 'task name')
      .argument('[args...]', 'task arguments, one per positional parameter (more or fewer is refused)')
      .option('--countdown <seconds>', 'run no earlier than this many seconds from now', (v) => parseSeconds(v, '--countdown'))
      .option('--idempotency-key <key>', "call once: a later call with this key prints the first call's id and sends nothing")
      .option('-w, --wait', 'wait for the outcome: result on stdout, exit 1 if the task fails')
      .option('--timeout <seconds>', 'with --wait: give up after this long (exit 124)', (v) => parseSeconds(v, '--timeout'))
      .option('--json', 'print JSON (one object) instead of text'),
  )
    .action(
      withTarget(async (target, task: string, args: string[], o: CallOptions) => {
        const { callCommand } = await import('./commands/tasks');
        return callCommand(target, task, args, o);
      }),
    )
    .addHelpText(
      'after',
      `
Each argument is parsed as JSON where it parses: 2 → 2, true → true, null → null, '{"a":1}' → an
object, '"2"' → the string "2". Anything else is sent as a string: \`call greet ann\` → greet("ann"),
so \`call add a b\` sends two strings. An argument that starts like JSON ({ [ ") but does not parse is
refused. The task's own arity is checked before sending: too few or too many arguments exit 2.`,
    );

  targetOptions(
    program
      .command('apply')
      .description('apply a chain, group or chord written as JSON (or @file.json)')
      .argument('<canvas>', 'the canvas as JSON, or @path to a JSON file')
      .option('--countdown <seconds>', 'run no earlier than this many seconds from now', (v) => parseSeconds(v, '--countdown'))
      .option('--idempotency-key <key>', "call once: a later call with this key prints the first call's id and sends nothing")
      .option('-w, --wait', 'wait for the outcome: result on stdout (a group: the list), exit 1 if any task fails')
      .option('--timeout <seconds>', 'with --wait: give up after this long (exit 124)', (v) => parseSeconds(v, '--timeout'))
      .option('--json', 'print JSON (one object) instead of text'),
  )
    .action(
      withTarget(async (target, canvas: string, o: CallOptions) => {
        const { applyCommand } = await import('./commands/tasks');
        return applyCommand(target, canvas, o, ctx.cwd);
      }),
    )
    .addHelpText(
      'after',
      `
The JSON form (lib/canvas/json.ts), one object per primitive:
  {"task": "add", "args": [2, 3]}                       a signature ("immutable": true, "kwargs")
  {"chain": [<canvas>, <canvas>, ...]}                  each result is prepended to the next step
  {"group": [<canvas>, ...]}                            in parallel; results in member order
  {"chord": {"header": [<canvas>, ...], "body": <canvas>}}
Each also takes "options" (countdown, eta, expires, queue, timeLimit, softTimeLimit, ignoreResult,
headers, chordDeadline), "link" and "linkError" (lists of canvases). Example:
  celeriac apply '{"chain": [{"task": "add", "args": [2, 3]}, {"task": "add", "args": [4]}]}' --wait
Prints the result id (a chain: its last task; a chord: its body; a group: each member's id).`,
    );

  targetOptions(
    program
      .command('result')
      .description("print a task's state, or its result when it is done (exit 1 if it failed)")
      .argument('<id>', 'task id')
      .option('-w, --wait', 'wait until the task is done')
      .option('--timeout <seconds>', 'with --wait: give up after this long (exit 124)', (v) => parseSeconds(v, '--timeout'))
      .option('--json', 'print JSON instead of text'),
  ).action(
    withTarget(async (target, id: string, o: { wait?: boolean; timeout?: number; json?: boolean }) => {
      const { resultCommand } = await import('./commands/tasks');
      return resultCommand(target, id, o);
    }),
  );

  targetOptions(
    program
      .command('inspect')
      .description('show queues (depth, dead-letter queue) and recent tasks (state, duration)')
      .option('--limit <n>', 'recent tasks to show', positiveInt('--limit'), 20)
      .option('--json', 'print JSON instead of text'),
  ).action(
    withTarget(async (target, o: { limit: number; json?: boolean }) => {
      const { inspectCommand } = await import('./commands/queues');
      return inspectCommand(target, o);
    }),
  );

  targetOptions(
    program
      .command('purge')
      .description('delete every message waiting in a queue (or, with --dlq, in its dead-letter queue)')
      .argument('<queue>', 'queue name (as the app names it)')
      .option('--dlq', "purge the queue's dead-letter queue instead")
      .option('--json', 'print JSON instead of text'),
  ).action(
    withTarget(async (target, queue: string, o: { dlq?: boolean; json?: boolean }) => {
      const { purgeCommand } = await import('./commands/queues');
      return purgeCommand(target, queue, o);
    }),
  );

  targetOptions(
    program
      .command('redrive')
      .description("move a queue's dead-letter messages back to the queue")
      .argument('<queue>', 'queue name (as the app names it)')
      .option('--json', 'print JSON instead of text'),
  ).action(
    withTarget(async (target, queue: string, o: { json?: boolean }) => {
      const { redriveCommand } = await import('./commands/queues');
      return redriveCommand(target, queue, o);
    }),
  );

  targetOptions(
    program
      .command('events')
      .description('print recent task lifecycle events, or follow new ones')
      .option('-f, --follow', 'print new events as they happen, until Ctrl-C')
      .option('--limit <n>', 'without --follow: how many recent events', positiveInt('--limit'), 50)
      .option('--max <n>', 'with --follow: exit after this many events', positiveInt('--max'))
      .option('--timeout <seconds>', 'with --follow: exit 124 after this long', (v) => parseSeconds(v, '--timeout'))
      .option('--json', 'print one JSON event per line'),
  ).action(
    withTarget(async (target, o: { follow?: boolean; limit: number; max?: number; timeout?: number; json?: boolean }) => {
      const { eventsCommand } = await import('./commands/events');
      return eventsCommand(target, o);
    }),
  );

  return program;
}

/**
 * Runs the CLI on `argv` (without `node` and the script) and resolves with the exit code.
 * Errors are printed here, once: one line for what the user can fix, a stack for bugs.
 */
export async function runCli(argv: readonly string[], ctx: CliContext): Promise<number> {
  let code: number = ExitCodes.OK;
  const program = buildProgram(ctx, (c) => {
    code = c;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; commander already printed its own one-line error otherwise.
      return e.exitCode === 0 ? ExitCodes.OK : ExitCodes.USAGE;
    }
    if (e instanceof CliError) {
      process.stderr.write(`celeriac: ${e.message}\n`);
      return e.exitCode;
    }
    if (isCeleriacError(e)) {
      // The app refused the call before sending (invalid args, too large, bad options).
      process.stderr.write(`celeriac: ${e.message} (${e.code})\n`);
      return ExitCodes.USAGE;
    }
    process.stderr.write(`celeriac: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return ExitCodes.TASK_FAILED;
  }
}

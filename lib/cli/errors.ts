/**
 * Exit codes and the one error type CLI commands throw. Every failure the user can fix ends as
 * ONE line on stderr (what is wrong, then what to do) and one of these codes.
 */

/** Process exit codes; documented in every command's `--help`. */
export const ExitCodes = {
  /** Done; a waited-for task succeeded. */
  OK: 0,
  /** The task failed or was revoked (or an unexpected error). */
  TASK_FAILED: 1,
  /** Bad command line: unknown option or task, unparsable argument, bad app module, port in use. */
  USAGE: 2,
  /** Not found or not reachable: unknown task id or queue, no running `dev`, missing stack output. */
  NOT_FOUND: 3,
  /** `--wait` gave up after `--timeout` seconds (the task itself goes on). */
  TIMEOUT: 124,
} as const;

export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];

/** The exit codes as `--help` shows them. */
export const EXIT_CODES_HELP = `
Exit codes:
  0    ok (a waited-for task succeeded)
  1    the task failed or was revoked
  2    usage error: bad option or argument, unknown task, app module without an app, port in use
  3    not found or not reachable: unknown id or queue, no running \`celeriac dev\`, missing stack output
  124  timed out waiting (--timeout); the task itself goes on`;

/** A failure to report as one line and an exit code (no stack trace: it is not a bug). */
export class CliError extends Error {
  readonly exitCode: ExitCode;
  constructor(exitCode: ExitCode, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Shorthands for the common cases. */
export const usage = (message: string): CliError => new CliError(ExitCodes.USAGE, message);
export const notFound = (message: string): CliError => new CliError(ExitCodes.NOT_FOUND, message);

/** Output helpers: results on stdout (for pipes and `--json`), status and errors on stderr. */

export function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

export function err(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** One JSON document per line (NDJSON): what `--json` prints. */
export function outJson(value: unknown): void {
  out(JSON.stringify(value));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

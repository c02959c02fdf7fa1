import { usage } from './errors';

/**
 * Parses one task argument from the command line: JSON where it parses (`2` → 2, `true`,
 * `null`, `{"a":1}`, `"quoted"`), else the plain string (`hello` → "hello").
 *
 * A value that starts like a JSON object, array or string but does not parse is refused rather
 * than sent as a string: `{"a":1` is a typo, and a task receiving `'{"a":1'` fails far away.
 *
 * @param position 1-based position, for the error message.
 * @throws CliError (usage) for an unparsable JSON-looking argument.
 */
export function parseTaskArg(raw: string, position: number): unknown {
  try {
    return JSON.parse(raw);
  } catch (e) {
    const head = raw.trimStart()[0];
    if (head === '{' || head === '[' || head === '"') {
      throw usage(
        `argument ${position} (${clip(raw)}) looks like JSON but does not parse (${(e as Error).message}); fix it, or quote it as a JSON string`,
      );
    }
    return raw;
  }
}

/** Parses every task argument. */
export function parseTaskArgs(raw: readonly string[]): unknown[] {
  return raw.map((a, i) => parseTaskArg(a, i + 1));
}

/** Parses a non-negative number of seconds (`--countdown`, `--timeout`). */
export function parseSeconds(raw: string, option: string): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) throw usage(`${option} must be a non-negative number of seconds, got "${raw}"`);
  return n;
}

/** Parses a TCP port (0 = any free port). */
export function parsePort(raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw usage(`--port must be an integer 0…65535, got "${raw}"`);
  return n;
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

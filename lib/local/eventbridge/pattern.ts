/**
 * A local re-implementation of Amazon EventBridge event patterns, so that local mode routes an event
 * exactly where the deployed rule would.
 *
 * EventBridge matches with aws/event-ruler (`JsonRuleCompiler` + `rulesForJSONEvent`). This module
 * follows that engine where the user guide is silent or out of date, and says so at each such point:
 * - the user guide still says 300, 300.0 and 3.0e2 are different numbers, but the compiler adds a
 *   numeric-equality matcher for every number in a pattern, so numbers compare by value;
 * - matching into arrays is array-consistent: two fields only match together when they come from the
 *   same element of an array they share;
 * - `exists: false` is array-consistent too, and is evaluated in the engine's order (pattern keys in
 *   lexical order), so a field that is absent from one array element but present in another only
 *   counts as absent once an earlier key has pinned that element.
 *
 * Error messages reuse the engine's wording (the text after "Reason:" in an
 * InvalidEventPatternException), with the location inside the pattern appended.
 */

type JsonPrimitive = string | number | boolean | null;

/** An EventBridge event pattern: a JSON object (or its JSON text). */
export type EventPattern = { readonly [key: string]: unknown };

/** A compiled pattern: tells whether one event matches. */
export type EventMatcher = (event: unknown) => boolean;

/** Thrown for a pattern that PutRule / TestEventPattern would refuse. */
export class InvalidEventPatternError extends Error {
  override readonly name = 'InvalidEventPatternException';
  /** The engine's reason, as EventBridge words it. */
  readonly reason: string;
  /** Where in the pattern the problem is, e.g. `detail.state[0]`; empty for the pattern itself. */
  readonly location: string;

  constructor(reason: string, location: string) {
    super(`Event pattern is not valid. Reason: ${reason}${location ? ` (at ${location})` : ''}`);
    this.reason = reason;
    this.location = location;
  }
}

/**
 * Checks a pattern the way PutRule and TestEventPattern do, and throws an
 * {@link InvalidEventPatternError} naming the first problem found.
 */
export function validatePattern(pattern: unknown): void {
  compileRules(pattern);
}

/**
 * Compiles a pattern once (validating it) into a function that tests events. Prefer this over
 * {@link matchesPattern} when one rule sees many events.
 */
export function compilePattern(pattern: unknown): EventMatcher {
  const rules = compileRules(pattern);
  return (event) => {
    const fields = flattenEvent(event);
    return rules.some((rule) => matchRule(rule, fields));
  };
}

/**
 * Tells whether `event` matches the EventBridge event `pattern`. The pattern is validated first, so an
 * invalid pattern throws instead of silently matching or not matching.
 *
 * Both arguments may be given as objects or as JSON text. An object event is put through
 * `JSON.stringify` first, exactly as PutEvents would see it (so `undefined` fields are absent and
 * dates are strings).
 *
 * @example
 * ```ts
 * matchesPattern(
 *   { source: ['aws.ec2'], detail: { state: ['terminated'], 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } },
 *   { source: 'aws.ec2', detail: { state: 'terminated', 'c-count': 5 } },
 * ); // true
 * ```
 */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  return compilePattern(pattern)(event);
}

// ---------------------------------------------------------------------------------------------
// Compilation

type FieldMatcher = { readonly kind: 'absent' } | { readonly kind: 'value'; readonly test: (value: JsonPrimitive) => boolean };

interface CompiledField {
  /** The dot-joined field name, as the engine flattens both patterns and events. */
  readonly name: string;
  readonly matchers: readonly FieldMatcher[];
}

/** One branch of a pattern (a pattern with `$or` compiles to several), fields in lexical order. */
type SubRule = readonly CompiledField[];

type Branch = Map<string, readonly FieldMatcher[]>;

/** Field names the engine refuses inside `$or` objects: operators, and names it keeps for future ones. */
const RESERVED_IN_OR = new Set([
  'equals',
  'equals-ignore-case',
  'prefix',
  'suffix',
  'anything-but',
  'exists',
  'wildcard',
  'numeric',
  'cidr',
  '=',
  '<',
  '<=',
  '>',
  '>=',
  'regex',
  'not-wildcard',
  'not-equals-ignore-case',
  'date-after',
  'date-on-or-after',
  'date-before',
  'date-on-or-before',
  'in-date-range',
  'ip-address-in-range',
  'ip-address-not-in-range',
]);

function fail(reason: string, location: string): never {
  throw new InvalidEventPatternError(reason, location);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function compileRules(pattern: unknown): SubRule[] {
  const root = toJson(pattern, 'pattern');
  if (!isPlainObject(root)) fail('Filter is not an object', '');
  const branches = compileObject(root, [new Map()], '', '', false);
  return branches.map((branch) =>
    [...branch.entries()]
      // The engine walks a rule's fields in lexical (UTF-16) order; `exists: false` depends on it.
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, matchers]) => ({ name, matchers })),
  );
}

/** Parses JSON text, or round-trips an object through JSON so we see what AWS would receive. */
function toJson(value: unknown, what: 'pattern' | 'event'): unknown {
  if (typeof value === 'string') {
    try {
      return JSON.parse(value);
    } catch {
      if (what === 'pattern') fail('Filter is not valid JSON', '');
      throw new TypeError('event is not valid JSON');
    }
  }
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
}

function compileObject(
  obj: Record<string, unknown>,
  branches: Branch[],
  namePrefix: string,
  location: string,
  insideOr: boolean,
): Branch[] {
  const entries = Object.entries(obj);
  if (entries.length === 0) fail('Empty objects are not allowed', location);
  let current = branches;
  for (const [key, value] of entries) {
    const here = location ? `${location}.${key}` : key;
    if (key === '$or') {
      current = compileOr(value, current, namePrefix, here);
      continue;
    }
    if (insideOr && RESERVED_IN_OR.has(key)) fail(`${key} is Ruler reserved fieldName which cannot be used inside $or.`, here);
    const name = namePrefix ? `${namePrefix}.${key}` : key;
    if (Array.isArray(value)) {
      const matchers = compileLeaf(value, here);
      // A name already set (e.g. `{"a.b": [..], "a": {"b": [..]}}`) is overridden: the last one wins.
      current = current.map((branch) => new Map(branch).set(name, matchers));
    } else if (isPlainObject(value)) {
      current = compileObject(value, current, name, here, insideOr);
    } else {
      fail(`"${key}" must be an object or an array`, here);
    }
  }
  return current;
}

function compileOr(value: unknown, branches: Branch[], namePrefix: string, location: string): Branch[] {
  if (!Array.isArray(value)) fail('It must be an Array followed with $or.', location);
  const forked: Branch[] = [];
  value.forEach((alternative, i) => {
    if (!isPlainObject(alternative)) fail('Only JSON object is allowed in array of $or relationship.', `${location}[${i}]`);
    const copies = branches.map((branch) => new Map(branch));
    forked.push(...compileObject(alternative, copies, namePrefix, `${location}[${i}]`, true));
  });
  if (value.length < 2) fail('There must have at least 2 Objects in $or relationship.', location);
  return forked;
}

function compileLeaf(values: readonly unknown[], location: string): FieldMatcher[] {
  if (values.length === 0) fail('Empty arrays are not allowed', location);
  return values.map((value, i) => {
    const here = `${location}[${i}]`;
    if (isPlainObject(value)) return compileExpression(value, here);
    if (typeof value === 'string') {
      // The engine turns an IP-address literal into a one-address range, compared by address.
      const ip = parseIp(value);
      if (ip) return valueMatcher((v) => typeof v === 'string' && sameBytes(parseIp(v), ip));
      return valueMatcher((v) => v === value);
    }
    // Numbers compare by value (300 matches 3.0e2); booleans and null by identity; null is not "".
    if (typeof value === 'number' || typeof value === 'boolean' || value === null) return valueMatcher((v) => v === value);
    return fail('Match value must be String, number, true, false, or null', here);
  });
}

function valueMatcher(test: (value: JsonPrimitive) => boolean): FieldMatcher {
  return { kind: 'value', test };
}

/** Renders a JSON value the way the engine's parser names the token it choked on. */
function tokenText(value: unknown): string {
  if (value === undefined) return ']';
  if (Array.isArray(value)) return '[';
  if (isPlainObject(value)) return '{';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function compileExpression(expr: Record<string, unknown>, location: string): FieldMatcher {
  const keys = Object.keys(expr);
  const op = keys[0];
  if (op === undefined) return fail('Match expression name not found', location);
  const operand = expr[op];
  const here = `${location}.${op}`;
  const onlyOneKey = (reason = 'Only one key allowed in match expression'): void => {
    if (keys.length > 1) fail(reason, location);
  };

  switch (op) {
    // Undocumented in the user guide but accepted by the engine: `{"equals": "x"}` is `"x"`.
    case 'equals': {
      if (typeof operand !== 'string') fail('exact match pattern must be a string', here);
      onlyOneKey();
      return valueMatcher((v) => v === operand);
    }
    case 'prefix':
    case 'suffix': {
      const matcher = isPlainObject(operand)
        ? compileAffixIgnoreCase(op, operand, here)
        : typeof operand === 'string'
          ? valueMatcher(
              op === 'prefix' ? (v) => typeof v === 'string' && v.startsWith(operand) : (v) => typeof v === 'string' && v.endsWith(operand),
            )
          : fail(`${op} match pattern must be a string`, here);
      onlyOneKey();
      return matcher;
    }
    case 'equals-ignore-case': {
      if (typeof operand !== 'string') fail('equals-ignore-case match pattern must be a string', here);
      onlyOneKey();
      return valueMatcher((v) => typeof v === 'string' && equalsIgnoreCase(operand, v));
    }
    case 'wildcard': {
      if (typeof operand !== 'string') fail('wildcard match pattern must be a string', here);
      const regex = compileWildcard(operand, here);
      onlyOneKey();
      return valueMatcher((v) => typeof v === 'string' && regex.test(v));
    }
    case 'numeric': {
      if (!Array.isArray(operand)) fail('Value of numeric must be an array.', here);
      const range = compileNumeric(operand, here);
      onlyOneKey('Too many elements in numeric expression');
      return valueMatcher((v) => typeof v === 'number' && inRange(v, range));
    }
    case 'cidr': {
      // The engine reports a non-string CIDR with the prefix message.
      if (typeof operand !== 'string') fail('prefix match pattern must be a string', here);
      const { bottom, top } = compileCidr(operand, here);
      onlyOneKey();
      return valueMatcher((v) => {
        const ip = typeof v === 'string' ? parseIp(v) : undefined;
        return ip !== undefined && ip.length === bottom.length && compareBytes(ip, bottom) >= 0 && compareBytes(ip, top) <= 0;
      });
    }
    case 'exists': {
      if (typeof operand !== 'boolean') fail('exists match pattern must be either true or false.', here);
      onlyOneKey();
      // `exists: true` matches any leaf value, null included; objects and empty arrays are not leaves.
      return operand ? valueMatcher(() => true) : { kind: 'absent' };
    }
    case 'anything-but': {
      const matcher = compileAnythingBut(operand, here);
      // The engine shares its numeric parser's wording here; we keep it so messages match AWS's.
      onlyOneKey('Too many elements in numeric expression');
      return matcher;
    }
    default:
      return fail(`Unrecognized match type ${op}`, here);
  }
}

function compileAffixIgnoreCase(op: 'prefix' | 'suffix', operand: Record<string, unknown>, location: string): FieldMatcher {
  const keys = Object.keys(operand);
  const inner = keys[0];
  const label = op === 'prefix' ? 'Prefix' : 'Suffix';
  if (inner === undefined) fail(`${label} expression name not found`, location);
  if (inner !== 'equals-ignore-case') fail(`Unsupported ${op} pattern: ${inner}`, `${location}.${inner}`);
  const affix = operand[inner];
  if (typeof affix !== 'string') fail('equals-ignore-case match pattern must be a string', `${location}.${inner}`);
  if (keys.length > 1) fail('Only one key allowed in match expression', location);
  const affixPoints = [...affix];
  return valueMatcher((v) => {
    if (typeof v !== 'string') return false;
    const points = [...v];
    if (points.length < affixPoints.length) return false;
    const part = op === 'prefix' ? points.slice(0, affixPoints.length) : points.slice(points.length - affixPoints.length);
    return equalsIgnoreCasePoints(affixPoints, part);
  });
}

type AnythingButKind = 'values' | 'equals-ignore-case' | 'prefix' | 'suffix' | 'wildcard';

function compileAnythingBut(operand: unknown, location: string): FieldMatcher {
  let kind: AnythingButKind = 'values';
  let value = operand;
  let here = location;
  let innerKeys = 1;
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    const inner = keys[0];
    if (inner === undefined) fail('Anything-But expression name not found', location);
    if (inner !== 'equals-ignore-case' && inner !== 'prefix' && inner !== 'suffix' && inner !== 'wildcard') {
      fail(`Unsupported anything-but pattern: ${inner}`, `${location}.${inner}`);
    }
    kind = inner;
    value = operand[inner];
    here = `${location}.${inner}`;
    innerKeys = keys.length;
  }
  if (!Array.isArray(value) && typeof value !== 'string' && typeof value !== 'number') {
    fail('Value of anything-but must be an array or single string/number value.', here);
  }
  const listed: readonly unknown[] = Array.isArray(value) ? value : [value];
  let excluded: (v: JsonPrimitive) => boolean;

  if (kind === 'values') {
    const strings = new Set<string>();
    const numbers = new Set<bigint>();
    listed.forEach((item, i) => {
      if (typeof item === 'string') strings.add(item);
      else if (typeof item === 'number') numbers.add(comparableOrFail(item, Array.isArray(value) ? `${here}[${i}]` : here));
      else fail(`Inside anything${Array.isArray(value) ? ' but' : '-but'} list, start|null|boolean is not supported.`, `${here}[${i}]`);
    });
    if (strings.size > 0 === numbers.size > 0) {
      fail('Inside anything but list, either all values are number or string, mixed type is not supported', here);
    }
    excluded = (v) => {
      if (typeof v === 'string') return strings.has(v);
      const comparable = typeof v === 'number' ? toComparable(v) : undefined;
      return comparable !== undefined && numbers.has(comparable);
    };
  } else {
    const texts = listed.map((item, i) => {
      const itemHere = Array.isArray(value) ? `${here}[${i}]` : here;
      if (typeof item !== 'string') {
        if (kind === 'equals-ignore-case')
          fail('Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.', itemHere);
        if (kind === 'wildcard') fail('wildcard match pattern must be a string', itemHere);
        fail('prefix/suffix match pattern must be a string', itemHere);
      }
      if ((kind === 'prefix' || kind === 'suffix') && item === '') fail('Null prefix/suffix not allowed', itemHere);
      return item;
    });
    const tests: ((s: string) => boolean)[] = texts.map((text, i) => {
      switch (kind) {
        case 'equals-ignore-case':
          return (s: string) => equalsIgnoreCase(text, s);
        case 'prefix':
          return (s: string) => s.startsWith(text);
        case 'suffix':
          return (s: string) => s.endsWith(text);
        default: {
          const regex = compileWildcard(text, Array.isArray(value) ? `${here}[${i}]` : here);
          return (s: string) => regex.test(s);
        }
      }
    });
    // Only strings can be excluded: a number or null in the event passes any of these.
    excluded = (v) => typeof v === 'string' && tests.some((test) => test(v));
  }
  if (innerKeys > 1) fail('Too many elements in numeric expression', location);
  // A missing field never reaches this test: anything-but needs the field to be present.
  return valueMatcher((v) => !excluded(v));
}

// ---------------------------------------------------------------------------------------------
// Strings

function equalsIgnoreCase(pattern: string, value: string): boolean {
  return equalsIgnoreCasePoints([...pattern], [...value]);
}

/**
 * The engine folds case code point by code point (each pattern character also accepts its lower-
 * and upper-case forms), not by whole-string case mapping, so lengths must agree.
 */
function equalsIgnoreCasePoints(pattern: readonly string[], value: readonly string[]): boolean {
  if (pattern.length !== value.length) return false;
  return pattern.every((p, i) => {
    const v = value[i];
    return v === p || v === p.toLowerCase() || v === p.toUpperCase();
  });
}

/**
 * Wildcards: `*` matches any run of characters, empty included; `\*` is a literal asterisk and `\\`
 * a literal backslash; any other backslash, and two `*` in a row, are refused. Positions in the
 * messages are UTF-8 byte offsets into the quoted value, as the engine reports them.
 */
function compileWildcard(text: string, location: string): RegExp {
  let source = '';
  let bytePos = 1; // the engine parses the value with its opening quote
  const points = [...text];
  const encoder = new TextEncoder();
  for (let i = 0; i < points.length; i++) {
    const c = points[i] as string;
    if (c === '*') {
      if (points[i + 1] === '*') fail(`Consecutive wildcard characters at pos ${bytePos}`, location);
      source += '.*';
    } else if (c === '\\') {
      const next = points[i + 1];
      if (next !== '*' && next !== '\\') fail(`Invalid escape character at pos ${bytePos}`, location);
      source += escapeRegExp(next);
      i++;
      bytePos++;
    } else {
      source += escapeRegExp(c);
    }
    bytePos += encoder.encode(c).length;
  }
  return new RegExp(`^${source}$`, 'su');
}

/**
 * Escapes exactly the regular expression syntax characters. Under the `u` flag an escape of any
 * other character (`\-`, `\:`…) is a syntax error, so nothing else may be escaped.
 */
function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------
// Numbers

/**
 * The engine's numeric range: ±5e9, six decimal places (event-ruler's ComparableNumber and README).
 * The user guide still says ±1e9; newer engine releases accept any double. AWS does not say which
 * engine it runs, so we keep the documented engine limits: bounds outside them are refused.
 */
const FIVE_BILLION_SCALED = 5_000_000_000n * 1_000_000n;

interface Bound {
  readonly at: bigint;
  readonly open: boolean;
}

interface NumericRange {
  readonly lower?: Bound;
  readonly upper?: Bound;
}

/**
 * A number as the engine's ComparableNumber sees it: value × 10⁶ as an exact integer, or undefined
 * when it has more than six decimals or lies outside ±5e9 (such event values never match `numeric`).
 */
function toComparable(value: number): bigint | undefined {
  return scaleDecimal(String(value)).scaled;
}

function scaleDecimal(text: string): { scaled?: bigint; problem?: string } {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(text);
  if (!m) return { problem: `Not a decimal number: ${text}` };
  const [, sign = '', int = '', frac = '', exp = '0'] = m;
  let digits = `${int}${frac}`.replace(/^0+(?=\d)/, '');
  let power = Number(exp) - frac.length;
  while (digits.length > 1 && digits.endsWith('0')) {
    digits = digits.slice(0, -1);
    power++;
  }
  if (digits === '0') return { scaled: 0n };
  if (power + 6 < 0) return { problem: `Only values upto 6 decimals are supported: ${text}` };
  if (power > 30) return { problem: 'Value must be between -5000000000 and 5000000000, inclusive' };
  const scaled = BigInt(`${sign}${digits}`) * 10n ** BigInt(power + 6);
  if (scaled > FIVE_BILLION_SCALED || scaled < -FIVE_BILLION_SCALED) {
    return { problem: 'Value must be between -5000000000 and 5000000000, inclusive' };
  }
  return { scaled };
}

function comparableOrFail(value: number, location: string): bigint {
  const { scaled, problem } = scaleDecimal(String(value));
  if (scaled === undefined) return fail(problem ?? 'Value must be numeric', location);
  return scaled;
}

function compileNumeric(terms: readonly unknown[], location: string): NumericRange {
  const [op, first, op2, second] = terms;
  if (typeof op !== 'string') fail(`Invalid member in numeric match: ${tokenText(op)}`, `${location}[0]`);
  const bound = (value: unknown, operator: string, index: number): bigint => {
    if (typeof value !== 'number') fail(`Value of ${operator === '=' ? 'equals' : operator} must be numeric`, `${location}[${index}]`);
    return comparableOrFail(value, `${location}[${index}]`);
  };
  const tooMany = (): void => {
    if (terms.length > 2) fail('Too many elements in numeric expression', location);
  };
  switch (op) {
    case '=': {
      const at = bound(first, op, 1);
      tooMany();
      return { lower: { at, open: false }, upper: { at, open: false } };
    }
    case '<':
    case '<=': {
      const at = bound(first, op, 1);
      tooMany();
      return { upper: { at, open: op === '<' } };
    }
    case '>':
    case '>=': {
      if (typeof first !== 'number') fail(`Value of ${op} must be numeric`, `${location}[1]`);
      if (terms.length === 2) return { lower: { at: bound(first, op, 1), open: op === '>' } };
      if (typeof op2 !== 'string') fail(`Bad value in numeric range: ${tokenText(op2)}`, `${location}[2]`);
      if (op2 !== '<' && op2 !== '<=') fail(`Bad numeric range operator: ${op2}`, `${location}[2]`);
      if (typeof second !== 'number') fail(`Value of ${op2} must be numeric`, `${location}[3]`);
      if (terms.length > 4) fail('Too many terms in numeric range expression', location);
      const lower = bound(first, op, 1);
      const upper = bound(second, op2, 3);
      if (lower >= upper) fail('Bottom must be less than top', location);
      return { lower: { at: lower, open: op === '>' }, upper: { at: upper, open: op2 === '<' } };
    }
    default:
      return fail(`Unrecognized numeric range operator: ${op}`, `${location}[0]`);
  }
}

function inRange(value: number, range: NumericRange): boolean {
  const v = toComparable(value);
  if (v === undefined) return false;
  const { lower, upper } = range;
  if (lower && (lower.open ? v <= lower.at : v < lower.at)) return false;
  if (upper && (upper.open ? v >= upper.at : v > upper.at)) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------
// IP addresses

/** Parses an IPv4 or IPv6 literal to its bytes (IPv4-mapped IPv6 collapses to 4 bytes, as Java does). */
function parseIp(text: string): Uint8Array | undefined {
  if (text.includes(':')) return parseIpv6(text);
  return parseIpv4(text);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const bytes = m.slice(1).map(Number);
  return bytes.every((b) => b <= 255) ? Uint8Array.from(bytes) : undefined;
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return undefined;
  let tail: Uint8Array | undefined;
  let body = text;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tail = parseIpv4(text.slice(lastColon + 1));
    if (!tail) return undefined;
    body = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
    return groups.map((g) => Number.parseInt(g, 16));
  };
  const head = parseGroups(halves[0] ?? '');
  const rest = halves.length === 2 ? parseGroups(halves[1] ?? '') : [];
  if (!head || !rest) return undefined;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...rest];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  if (tail) bytes.set(tail, 12);
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? bytes.slice(12) : bytes;
}

function compileCidr(text: string, location: string): { bottom: Uint8Array; top: Uint8Array } {
  // Java's split drops trailing empty strings, so "10.0.0.0/" has no second part either.
  const parts = text.split('/');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length !== 2) fail("Malformed CIDR, one '/' required", location);
  const [address = '', maskText = ''] = parts;
  if (!/^[+-]?\d+$/.test(maskText) || Math.abs(Number(maskText)) > 2 ** 31 - 1)
    fail('Malformed CIDR, mask bits must be an integer', location);
  const mask = Number(maskText);
  if (mask < 0) fail('Malformed CIDR, mask bits must not be negative', location);
  const ip = parseIp(address);
  if (!ip) return fail(`Nonstandard IP address: ${address}`, location);
  // The engine refuses /32 and /128 (a single address is written without a mask).
  if (ip.length === 4 && mask > 31) fail('IPv4 mask bits must be < 32', location);
  if (ip.length === 16 && mask > 127) fail('IPv6 mask bits must be < 128', location);
  // As in the engine, the bottom of the range is the address as written (host bits are not cleared).
  const top = Uint8Array.from(ip);
  let hostBits = ip.length * 8 - mask;
  for (let i = top.length - 1; i >= 0 && hostBits > 0; i--, hostBits -= 8) {
    top[i] = (top[i] as number) | (hostBits >= 8 ? 0xff : (1 << hostBits) - 1);
  }
  return { bottom: ip, top };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && a.length === b.length && compareBytes(a, b) === 0;
}

// ---------------------------------------------------------------------------------------------
// Events and matching

/** Which element of which array a field came from: pairs of (array id, element index). */
type Membership = readonly (readonly [number, number])[];

interface EventField {
  readonly value: JsonPrimitive;
  readonly membership: Membership;
}

type Fields = ReadonlyMap<string, readonly EventField[]>;

/**
 * Flattens an event into dot-joined leaf fields, recording the array elements each came from.
 * Empty objects and empty arrays produce no field at all (so `exists: false` matches them).
 */
function flattenEvent(event: unknown): Fields {
  const root = toJson(event, 'event');
  if (!isPlainObject(root)) throw new TypeError('an EventBridge event must be a JSON object');
  const fields = new Map<string, EventField[]>();
  let nextArrayId = 0;
  const visit = (value: unknown, name: string, membership: Membership): void => {
    if (Array.isArray(value)) {
      const id = nextArrayId++;
      value.forEach((element, index) => {
        visit(element, name, [...membership, [id, index]]);
      });
    } else if (isPlainObject(value)) {
      for (const [key, child] of Object.entries(value)) visit(child, name ? `${name}.${key}` : key, membership);
    } else {
      const field = { value: value as JsonPrimitive, membership };
      const list = fields.get(name);
      if (list) list.push(field);
      else fields.set(name, [field]);
    }
  };
  visit(root, '', []);
  return fields;
}

/** Joins two memberships, or returns undefined when they disagree on an array's element. */
function joinMembership(a: Membership, b: Membership): Membership | undefined {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const joined = [...a];
  for (const [id, index] of b) {
    const seen = a.find(([otherId]) => otherId === id);
    if (!seen) joined.push([id, index]);
    else if (seen[1] !== index) return undefined;
  }
  return joined;
}

function matchRule(rule: SubRule, fields: Fields): boolean {
  const step = (i: number, membership: Membership): boolean => {
    const field = rule[i];
    if (!field) return true;
    const candidates = fields.get(field.name) ?? [];
    for (const matcher of field.matchers) {
      if (matcher.kind === 'absent') {
        const present = candidates.some((c) => joinMembership(membership, c.membership) !== undefined);
        if (!present && step(i + 1, membership)) return true;
        continue;
      }
      for (const candidate of candidates) {
        const joined = joinMembership(membership, candidate.membership);
        if (joined && matcher.test(candidate.value) && step(i + 1, joined)) return true;
      }
    }
    return false;
  };
  return step(0, []);
}

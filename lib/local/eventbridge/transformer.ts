/**
 * A local re-implementation of EventBridge input transformers (a target's `InputTransformer`), so that
 * a target in local mode receives the same payload text as the deployed target.
 *
 * Sources: the user guide page "Amazon EventBridge input transformation", the API reference for
 * `InputTransformer`, and AWS-recorded responses where the guide is vague. Choices made where AWS
 * documents nothing are marked "AWS is silent" below.
 */

/** A target's input transformer, as given to PutTargets (`InputPathsMap`, `InputTemplate`). */
export interface InputTransformer {
  /** Variable name → JSON path into the event, e.g. `{ instance: '$.detail.instance-id' }`. */
  readonly inputPathsMap?: Readonly<Record<string, string>>;
  /** The template, with `<variable>` placeholders. */
  readonly inputTemplate: string;
}

/** What the predefined `aws.events.*` variables are filled from. */
export interface TransformContext {
  readonly ruleName?: string;
  /** Defaults to the ARN EventBridge gives the rule, built from the event's region and account. */
  readonly ruleArn?: string;
  /** Used to build the default rule ARN; `default` when omitted. */
  readonly eventBusName?: string;
  /**
   * When EventBridge received the event (`<aws.events.event.ingestion-time>`): ISO 8601 in UTC,
   * to the second. A bus passes the time it took the event in, which is not the event's `time`
   * (the sender sets that); without one, the event's `time` stands in.
   */
  readonly ingestionTime?: string;
}

/**
 * An instant (epoch ms) as EventBridge writes event times: ISO 8601 in UTC, to the second. For the
 * local bus and `celeriac up` (not re-exported from `celeriac/local`).
 */
export function eventBridgeTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export interface ValidateInputTransformerOptions {
  /** The target id EventBridge names in its messages. */
  readonly targetId?: string;
}

export interface RenderInputTransformerOptions extends ValidateInputTransformerOptions {
  /**
   * How a string value is written inside a quoted placeholder (`"...<var>..."`) of a JSON template.
   * `false` (the default) inserts the value as is, which is what EventBridge does ("EventBridge
   * doesn't escape values extracted by Input Path"), so local mode sends the same (possibly broken)
   * payload a value containing `"` produces in AWS. `true` JSON-escapes quotes, backslashes and
   * control characters, so the output is always valid JSON (not what AWS sends).
   */
  readonly escapeQuotedValues?: boolean;
}

/** Thrown for an input transformer PutTargets would refuse. */
export class InvalidInputTransformerError extends Error {
  override readonly name = 'ValidationException';
}

/** At most this many variables (API reference: "Maximum number of 100 items"). */
export const MAX_INPUT_PATHS = 100;
/** InputTemplate length limit (API reference). */
export const MAX_INPUT_TEMPLATE_LENGTH = 8192;
const MAX_KEY_LENGTH = 256;
const MAX_PATH_LENGTH = 256;

const PREDEFINED = new Set([
  'aws.events.rule-arn',
  'aws.events.rule-name',
  'aws.events.event.ingestion-time',
  'aws.events.event',
  'aws.events.event.json',
]);

/**
 * Checks an input transformer as PutTargets does, and throws an {@link InvalidInputTransformerError}
 * naming the first problem: more than 100 variables, a variable name outside `[A-Za-z0-9_-]` or
 * starting with `AWS`, a path that is not a JSON path, a template longer than 8192 characters, a
 * placeholder naming no variable, or a placeholder used as an object key.
 */
export function validateInputTransformer(transformer: InputTransformer, options: ValidateInputTransformerOptions = {}): void {
  compileTransformer(transformer, options.targetId ?? 'local');
}

/**
 * Renders the payload EventBridge sends to a target with this input transformer.
 *
 * - A template that is JSON once its placeholders are filled (an object, an array, or one quoted
 *   string) is rendered as JSON and minified, as EventBridge does. An unquoted placeholder becomes the
 *   value as JSON (strings get their quotes); a quoted one becomes string content, and an object or
 *   array there loses its quotes (`{a:b}`), as the user guide describes.
 * - Any other template is plain text: values are inserted as text.
 * - A path that finds nothing yields nothing: an empty string inside text, and `""` where the value
 *   stood unquoted (recorded AWS behaviour; the guide says the variable "won't appear in the output").
 *
 * @example
 * ```ts
 * renderInputTransformer(
 *   { inputPathsMap: { instance: '$.detail.instance-id', state: '$.detail.state' },
 *     inputTemplate: '{"instance": <instance>, "status": "<instance> is <state>"}' },
 *   { detail: { 'instance-id': 'i-1', state: 'RUNNING' } },
 * ); // '{"instance":"i-1","status":"i-1 is RUNNING"}'
 * ```
 */
export function renderInputTransformer(
  transformer: InputTransformer,
  event: unknown,
  context: TransformContext = {},
  options: RenderInputTransformerOptions = {},
): string {
  const compiled = compileTransformer(transformer, options.targetId ?? 'local');
  const source = roundTrip(event);
  if (typeof source !== 'object' || source === null || Array.isArray(source)) {
    throw new TypeError('an EventBridge event must be a JSON object');
  }
  const eventObject = source as Record<string, unknown>;
  const variables = new Map<string, Found | undefined>();
  for (const [name, path] of compiled.paths) variables.set(name, evaluatePath(path, eventObject));
  for (const [name, value] of Object.entries(predefinedValues(eventObject, context))) variables.set(name, { value });

  const escapeValues = options.escapeQuotedValues ?? false;
  let out = '';
  for (const part of compiled.parts) {
    if (part.kind === 'text') {
      out += part.text;
      continue;
    }
    const found = variables.get(part.name);
    if (!compiled.json) out += plainText(found);
    else if (part.inString) out += escapeValues ? JSON.stringify(plainText(found)).slice(1, -1) : plainText(found);
    else out += found ? JSON.stringify(found.value) : '""';
  }
  if (!compiled.json) return out;
  try {
    return JSON.stringify(JSON.parse(out));
  } catch {
    // Only reachable with escapeQuotedValues: false, where AWS would send the broken text too.
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Compilation

type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'placeholder'; readonly name: string; readonly inString: boolean };

interface CompiledTransformer {
  readonly parts: readonly TemplatePart[];
  /** Whether the template is JSON (rendered as JSON) rather than free text. */
  readonly json: boolean;
  readonly paths: ReadonlyMap<string, readonly PathStep[]>;
}

function invalid(message: string): never {
  throw new InvalidInputTransformerError(message);
}

function compileTransformer(transformer: InputTransformer, targetId: string): CompiledTransformer {
  const template: unknown = transformer.inputTemplate;
  if (typeof template !== 'string' || template.length === 0) invalid(`InputTemplate for target ${targetId} must be a non-empty string.`);
  if (template.length > MAX_INPUT_TEMPLATE_LENGTH) {
    invalid(
      `InputTemplate for target ${targetId} is ${template.length} characters long; at most ${MAX_INPUT_TEMPLATE_LENGTH} are allowed.`,
    );
  }

  const entries = Object.entries(transformer.inputPathsMap ?? {});
  if (entries.length > MAX_INPUT_PATHS) {
    invalid(`InputPathsMap for target ${targetId} has ${entries.length} entries; at most ${MAX_INPUT_PATHS} are allowed.`);
  }
  const paths = new Map<string, readonly PathStep[]>();
  for (const [key, path] of entries) {
    if (key.length < 1 || key.length > MAX_KEY_LENGTH || !/^[A-Za-z0-9_-]+$/.test(key)) {
      invalid(
        `InputPathsMap key "${key}" for target ${targetId} is invalid: keys must match [A-Za-z0-9_-]+ and be 1 to ${MAX_KEY_LENGTH} characters.`,
      );
    }
    // The API reference says keys "can't start with AWS"; AWS is silent on case, we read it literally.
    if (key.startsWith('AWS')) invalid(`InputPathsMap key "${key}" for target ${targetId} is invalid: keys can't start with "AWS".`);
    if (typeof path !== 'string' || path.length > MAX_PATH_LENGTH) {
      invalid(`InputPathsMap value for key "${key}" of target ${targetId} must be a JSON path of at most ${MAX_PATH_LENGTH} characters.`);
    }
    const steps = parsePath(path);
    if (typeof steps === 'string') invalid(`InputPathsMap value for key "${key}" of target ${targetId} is not a valid JSON path: ${steps}`);
    paths.set(key, steps);
  }

  const { parts, keyPlaceholders } = scanTemplate(template);
  for (const part of parts) {
    if (part.kind === 'placeholder' && !paths.has(part.name) && !PREDEFINED.has(part.name)) {
      // Wording recorded from PutTargets.
      invalid(`InputTemplate for target ${targetId} contains invalid placeholder ${part.name}.`);
    }
  }
  const [keyPlaceholder] = keyPlaceholders;
  if (keyPlaceholder !== undefined && template.trim().startsWith('{')) {
    // AWS is silent on the wording; the restriction itself is in the API reference.
    invalid(`InputTemplate for target ${targetId} uses placeholder ${keyPlaceholder} as an object key, which is not allowed.`);
  }

  // The template is JSON when it parses with its placeholders stood in for: `null` where a value
  // goes, nothing inside a string. Deciding on the template, not the values, keeps it stable.
  const skeleton = parts.map((p) => (p.kind === 'text' ? p.text : p.inString ? '' : 'null')).join('');
  let json = true;
  try {
    JSON.parse(skeleton);
  } catch {
    json = false;
  }
  return { parts, json, paths };
}

/**
 * Splits a template into text and `<name>` placeholders, noting which sit inside a JSON string and
 * which are used as object keys. A `<` with no `>` before the next `<` is plain text.
 */
function scanTemplate(template: string): { parts: TemplatePart[]; keyPlaceholders: string[] } {
  const parts: TemplatePart[] = [];
  const keyPlaceholders: string[] = [];
  let text = '';
  let inString = false;
  let stringPlaceholders: string[] = [];
  const nextIsColon = (from: number): boolean => /^\s*:/.test(template.slice(from));
  const flush = (): void => {
    if (text) parts.push({ kind: 'text', text });
    text = '';
  };

  for (let i = 0; i < template.length; ) {
    const c = template[i] as string;
    if (c === '<') {
      const close = template.indexOf('>', i + 1);
      const name = close > i + 1 ? template.slice(i + 1, close) : '';
      if (name && !name.includes('<')) {
        flush();
        parts.push({ kind: 'placeholder', name, inString });
        if (inString) stringPlaceholders.push(name);
        else if (nextIsColon(close + 1)) keyPlaceholders.push(name);
        i = close + 1;
        continue;
      }
    }
    if (inString && c === '\\' && i + 1 < template.length) {
      text += c + template[i + 1];
      i += 2;
      continue;
    }
    if (c === '"') {
      if (inString) {
        if (stringPlaceholders.length > 0 && nextIsColon(i + 1)) keyPlaceholders.push(...stringPlaceholders);
        stringPlaceholders = [];
      }
      inString = !inString;
    }
    text += c;
    i++;
  }
  flush();
  return { parts, keyPlaceholders };
}

// ---------------------------------------------------------------------------------------------
// JSON paths

type PathStep =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'index'; readonly index: number }
  | { readonly kind: 'wildcard' };

/**
 * The JSON path subset the user guide lists: `$`, dot notation (names with dashes, underscores,
 * slashes...), array indices `[0]`, and wildcards (`.*`, `[*]`). Returns the steps or a reason.
 */
function parsePath(path: string): PathStep[] | string {
  if (!path.startsWith('$')) return 'it must start with "$"';
  const steps: PathStep[] = [];
  let i = 1;
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      const m = /^[^.[\]]+/.exec(path.slice(i + 1));
      if (!m) return `expected a field name at position ${i + 1}`;
      steps.push(m[0] === '*' ? { kind: 'wildcard' } : { kind: 'key', key: m[0] });
      i += 1 + m[0].length;
    } else if (c === '[') {
      const m = /^\[(\d+|\*)\]/.exec(path.slice(i));
      if (!m) return `only array indices ([0]) and [*] may follow "[" (position ${i}); use dot notation for fields`;
      steps.push(m[1] === '*' ? { kind: 'wildcard' } : { kind: 'index', index: Number(m[1]) });
      i += m[0].length;
    } else {
      return `unexpected "${c}" at position ${i}`;
    }
  }
  return steps;
}

interface Found {
  readonly value: unknown;
}

/** Evaluates a path; undefined when it finds nothing. A path with a wildcard yields the array of matches. */
function evaluatePath(steps: readonly PathStep[], event: Record<string, unknown>): Found | undefined {
  let current: unknown[] = [event];
  let indefinite = false;
  for (const step of steps) {
    const next: unknown[] = [];
    for (const value of current) {
      if (step.kind === 'key') {
        if (isObject(value) && Object.hasOwn(value, step.key)) next.push(value[step.key]);
      } else if (step.kind === 'index') {
        if (Array.isArray(value) && step.index < value.length) next.push(value[step.index]);
      } else {
        indefinite = true;
        if (Array.isArray(value)) next.push(...value);
        else if (isObject(value)) next.push(...Object.values(value));
      }
    }
    current = next;
  }
  // AWS is silent on wildcard results; we follow JSONPath: the list of matches, nothing if none.
  if (indefinite) return current.length > 0 ? { value: current } : undefined;
  return current.length === 1 ? { value: current[0] } : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------
// Values

function roundTrip(value: unknown): unknown {
  if (typeof value === 'string') return JSON.parse(value);
  const text = JSON.stringify(value);
  return text === undefined ? undefined : JSON.parse(text);
}

function predefinedValues(event: Record<string, unknown>, context: TransformContext): Record<string, unknown> {
  const ruleName = context.ruleName ?? context.ruleArn?.split('/').pop() ?? '';
  const bus = context.eventBusName ?? 'default';
  const region = typeof event.region === 'string' ? event.region : 'us-east-1';
  const account = typeof event.account === 'string' ? event.account : '000000000000';
  // EventBridge's rule ARN: rule/<name> on the default bus, rule/<bus>/<name> on a custom one.
  const ruleArn = context.ruleArn ?? `arn:aws:events:${region}:${account}:rule/${bus === 'default' ? '' : `${bus}/`}${ruleName}`;
  const ingestionTime = context.ingestionTime ?? (typeof event.time === 'string' ? event.time : eventBridgeTime(Date.now()));
  // `aws.events.event` is the envelope without `detail`, with `detail-type` renamed `detailType`
  // (recorded AWS output); `aws.events.event.json` is the whole event.
  const envelope: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (key !== 'detail') envelope[key === 'detail-type' ? 'detailType' : key] = value;
  }
  return {
    'aws.events.rule-arn': ruleArn,
    'aws.events.rule-name': ruleName,
    'aws.events.event.ingestion-time': ingestionTime,
    'aws.events.event': envelope,
    'aws.events.event.json': event,
  };
}

/**
 * A value as text inside a string: strings as they are, numbers/booleans/null as JSON, objects and
 * arrays as JSON with their quotes removed ("EventBridge removes any internal quotes to ensure a
 * valid string"), nothing for a missing value.
 */
function plainText(found: Found | undefined): string {
  if (!found) return '';
  const { value } = found;
  if (typeof value === 'string') return value;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  return unquoted(value);
}

function unquoted(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(unquoted).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.entries(value)
      .map(([k, v]) => `${k.replaceAll('"', '')}:${unquoted(v)}`)
      .join(',')}}`;
  }
  return typeof value === 'string' ? value.replaceAll('"', '') : JSON.stringify(value);
}

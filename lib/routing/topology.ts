/**
 * An app's topology as plain data: tasks and their queues, static links and error links,
 * subscribers, periodic tasks, and the EventBridge rules that wire links and subscribers.
 *
 * This is the one description both the CDK stack (cdk/) and local mode (lib/local) read, so the
 * rules tested locally are byte for byte the rules deployed. It is pure: no aws-cdk-lib, no AWS
 * SDK, no environment reads.
 */
import { CeleriacError, ErrorCodes } from '../errors';
import { ID_MAX_LENGTH } from '../protocol/ids';
import type { Json } from '../protocol/json';
import { EVENTS_MAX_PATTERN_CHARS } from '../protocol/limits';
import { type DetailType, DetailTypes, eventSource, type Outcome } from '../signals/events';
import { scheduleExpressionProblem } from './schedule';

/** The app's static topology, as `app.topology()` returns it (the contract with lib/task). */
export interface AppTopologyInput {
  readonly app: string;
  readonly tasks: readonly { readonly name: string; readonly queue: string; readonly events: boolean }[];
  readonly links: readonly { readonly from: string; readonly to: string; readonly kind: 'success' | 'error' }[];
  readonly subscribers: readonly {
    readonly name: string;
    readonly entry?: string;
    readonly tasks?: readonly string[];
    readonly outcomes?: readonly ('success' | 'failure' | 'retry' | 'revoked')[];
  }[];
  readonly periodic: readonly {
    readonly name: string;
    readonly task: string;
    readonly schedule: string;
    readonly args?: readonly unknown[];
  }[];
  readonly queues: readonly ({ readonly name: string } & QueueSettings)[];
}

/** Settings of one queue, for the CDK stack and local pollers (defaults filled by buildTopology). */
export interface QueueSettings {
  readonly batchSize?: number;
  readonly maxBatchingWindowSeconds?: number;
  readonly maxConcurrency?: number;
  readonly functionTimeoutSeconds?: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly maxReceiveCount?: number;
  readonly memoryMb?: number;
}

/** Defaults filled in by `buildTopology` for settings a queue leaves out. */
export const QUEUE_DEFAULTS = {
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  functionTimeoutSeconds: 30,
  /** The visibility timeout defaults to this many times the function timeout (AWS's advice for SQS event sources). */
  visibilityTimeoutFactor: 6,
  maxReceiveCount: 5,
  memoryMb: 1024,
} as const;

/** Length of the ids celeriac generates (UUIDs), used to bound the ids of linked calls. */
const GENERATED_ID_LENGTH = 36;
/** EventBridge's limit on a rule's description. */
const MAX_RULE_DESCRIPTION = 512;

/** Names follow the rules lib/task enforces, narrowed where the name reaches an AWS resource. */
const NAME_RULES = {
  app: { re: /^[A-Za-z0-9_-]{1,64}$/, says: '1-64 letters, digits, "-" or "_"' },
  task: { re: /^[A-Za-z0-9_.:-]{1,200}$/, says: '1-200 letters, digits, "_", ".", ":" or "-"' },
  queue: { re: /^[A-Za-z0-9_-]{1,64}$/, says: '1-64 letters, digits, "-" or "_" (an SQS queue name)' },
  subscriber: { re: /^[A-Za-z0-9_-]{1,64}$/, says: '1-64 letters, digits, "-" or "_" (a Lambda function name)' },
  periodic: { re: /^[A-Za-z0-9_.-]{1,64}$/, says: '1-64 letters, digits, "_", "." or "-" (a Scheduler schedule name)' },
} as const;

/** EventBridge rule names: the topology's rule names are valid ones, so any consumer may use them as is. */
const RULE_NAME_RE = /^[.\-_A-Za-z0-9]{1,64}$/;

export interface TaskInfo {
  readonly name: string;
  readonly queue: string;
  /** Whether the task publishes lifecycle events (links and subscribers need them). */
  readonly events: boolean;
}

/** A queue with every setting resolved. One worker function consumes each queue. */
export interface QueueInfo {
  readonly name: string;
  /** The tasks declared on this queue, in declaration order. */
  readonly tasks: readonly string[];
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** Cap on concurrent worker invocations for this queue; undefined = no cap. */
  readonly maxConcurrency: number | undefined;
  readonly functionTimeoutSeconds: number;
  readonly visibilityTimeoutSeconds: number;
  readonly maxReceiveCount: number;
  readonly memoryMb: number;
}

export interface LinkInfo {
  readonly from: string;
  readonly to: string;
  readonly kind: 'success' | 'error';
}

export interface SubscriberInfo {
  readonly name: string;
  /** The handler's entry file, relative to the project root; undefined when the deployer supplies the function. */
  readonly entry: string | undefined;
  /** Task names to receive events of; undefined = every task. */
  readonly tasks: readonly string[] | undefined;
  /** Outcomes to receive; all four when the subscriber did not filter (a "postrun" subscriber). */
  readonly outcomes: readonly Outcome[];
}

export interface PeriodicInfo {
  readonly name: string;
  readonly task: string;
  /** The task's queue: where the schedule sends its call. */
  readonly queue: string;
  readonly schedule: string;
  readonly args: readonly Json[];
  /** The message body the schedule sends: a minimal call `{"task": …, "args": […]}`. */
  readonly input: string;
}

/** An EventBridge event pattern, in EventBridge's own JSON shape. */
export interface EventPattern {
  readonly source: readonly string[];
  readonly 'detail-type': readonly string[];
  readonly detail?: { readonly task: readonly string[] };
}

/** An EventBridge input transformer, in EventBridge's own shape. */
export interface InputTransformer {
  readonly inputPathsMap: Readonly<Record<string, string>>;
  readonly inputTemplate: string;
}

export type RuleTarget =
  | { readonly kind: 'queue'; readonly queue: string; readonly task: string }
  | { readonly kind: 'subscriber'; readonly subscriber: string };

/** One EventBridge rule: a pattern on the app's lifecycle events and one target. */
export interface TopologyRule {
  /** A valid EventBridge rule name, unique in the topology and stable across deploys. */
  readonly name: string;
  readonly description: string;
  readonly eventPattern: EventPattern;
  readonly target: RuleTarget;
  /** How the matched event becomes the target's input; absent = the whole event. */
  readonly inputTransformer?: InputTransformer;
}

/** A validated topology with every default filled in. */
export interface Topology {
  readonly app: string;
  /** The EventBridge `source` of the app's lifecycle events. */
  readonly source: string;
  readonly tasks: readonly TaskInfo[];
  readonly queues: readonly QueueInfo[];
  readonly links: readonly LinkInfo[];
  readonly subscribers: readonly SubscriberInfo[];
  readonly periodic: readonly PeriodicInfo[];
  readonly rules: readonly TopologyRule[];
  /** Whether any task publishes lifecycle events (when none does, nothing needs the bus). */
  readonly eventsEnabled: boolean;
  /** The queue a task lives on. Throws TASK_NOT_REGISTERED for a task the topology does not declare. */
  queueOf(task: string): string;
  /**
   * Queue → its task, for queues that hold exactly one task: the worker passes a body that is not
   * a celeriac call (an S3 notification, an EventBridge event, any JSON) to that task.
   */
  queueOwners(): Readonly<Record<string, string>>;
}

/**
 * What a static link's call carries on from the event of the task that fired it: its trace
 * context (one workflow, one trace) and its fairness key. An event without them leaves their
 * slots empty, which the worker's decoder reads as none (MINIMAL_CALL in lib/protocol/wire.ts).
 */
const CARRIED_PATHS = {
  traceparent: '$.detail.traceparent',
  tracestate: '$.detail.tracestate',
  fairnessKey: '$.detail.fairnessKey',
} as const;
const CARRIED_SLOTS = '"traceparent":<traceparent>,"tracestate":<tracestate>,"fairnessKey":<fairnessKey>';

/** The deterministic id of the call a static link makes when `sourceId` succeeds. */
export const linkCallId = (sourceId: string, to: string): string => `${sourceId}.link.${to}`;
/** The deterministic id of the call a static error link makes when `sourceId` fails. */
export const errbackCallId = (sourceId: string, errback: string): string => `${sourceId}.errback.${errback}`;

/**
 * Validates an app's topology and fills its defaults. Every problem is reported at once, in one
 * CeleriacError (code CONFIG_INVALID) whose `details.problems` lists them.
 * The rules it builds are held to EventBridge's limits too (an event pattern of at most 2,048
 * characters); being built from the rest, they are checked once the rest is valid.
 *
 * Defaults: batch size 10, batching window 0 s, function timeout 30 s, visibility timeout
 * 6 × the function timeout, maxReceiveCount 5, memory 1024 MB. A queue a task names but
 * `queues` omits gets every default.
 *
 * @example
 * ```ts
 * const topology = buildTopology(app.topology());
 * topology.queueOf('add');   // 'default'
 * topology.rules;            // EventBridge rules for links and subscribers, as plain data
 * ```
 */
export function buildTopology(input: AppTopologyInput): Topology {
  const problems: string[] = [];
  const problem = (msg: string): void => {
    problems.push(msg);
  };

  if (typeof input !== 'object' || input === null) {
    throw invalid('?', ['the topology must be an object']);
  }
  const app = typeof input.app === 'string' ? input.app : '';
  checkName('app', app, 'app name', problem);
  const tasksIn = arrayOf(input.tasks, 'tasks', problem);
  const linksIn = arrayOf(input.links, 'links', problem);
  const subscribersIn = arrayOf(input.subscribers, 'subscribers', problem);
  const periodicIn = arrayOf(input.periodic, 'periodic', problem);
  const queuesIn = arrayOf(input.queues, 'queues', problem);

  // ── tasks ──────────────────────────────────────────────────────────────────────────────
  const tasks = new Map<string, TaskInfo>();
  if (tasksIn.length === 0) problem('the app declares no tasks; there is nothing to deploy');
  for (const t of tasksIn) {
    if (!checkName('task', t?.name, 'task name', problem)) continue;
    if (tasks.has(t.name)) {
      problem(`task "${t.name}" is declared twice`);
      continue;
    }
    if (!checkName('queue', t.queue, `queue of task "${t.name}"`, problem)) continue;
    if (typeof t.events !== 'boolean') {
      problem(`task "${t.name}": events must be true or false`);
      continue;
    }
    tasks.set(t.name, { name: t.name, queue: t.queue, events: t.events });
  }

  // ── queues ─────────────────────────────────────────────────────────────────────────────
  const queueSettings = new Map<string, AppTopologyInput['queues'][number]>();
  for (const q of queuesIn) {
    if (!checkName('queue', q?.name, 'queue name', problem)) continue;
    if (queueSettings.has(q.name)) {
      problem(`queue "${q.name}" is declared twice`);
      continue;
    }
    queueSettings.set(q.name, q);
  }
  // Queues named only by tasks get every default: declaring a queue is optional.
  const queueNames = [...queueSettings.keys()];
  for (const t of tasks.values()) if (!queueSettings.has(t.queue) && !queueNames.includes(t.queue)) queueNames.push(t.queue);
  const queues: QueueInfo[] = queueNames.map((name) =>
    resolveQueue(
      name,
      queueSettings.get(name) ?? { name },
      [...tasks.values()].filter((t) => t.queue === name).map((t) => t.name),
      problem,
    ),
  );

  // ── links ──────────────────────────────────────────────────────────────────────────────
  const links: LinkInfo[] = [];
  const linkKeys = new Set<string>();
  for (const l of linksIn) {
    const kind = l?.kind;
    if (kind !== 'success' && kind !== 'error') {
      problem(`link ${JSON.stringify(l?.from)} → ${JSON.stringify(l?.to)}: kind must be "success" or "error"`);
      continue;
    }
    const what = kind === 'success' ? 'link' : 'error link';
    const from = tasks.get(l.from);
    const to = tasks.get(l.to);
    if (!from) problem(`${what} ${l.from} → ${l.to}: unknown task "${l.from}"`);
    if (!to) problem(`${what} ${l.from} → ${l.to}: unknown task "${l.to}"`);
    if (!from || !to) continue;
    const key = `${kind}\u0000${l.from}\u0000${l.to}`;
    if (linkKeys.has(key)) {
      problem(`${what} ${l.from} → ${l.to} is declared twice`);
      continue;
    }
    linkKeys.add(key);
    if (!from.events) {
      const event = kind === 'success' ? DetailTypes.success : DetailTypes.failure;
      problem(`${what} ${l.from} → ${l.to}: task "${l.from}" has events off, so no ${event} event reaches the bus; turn its events on`);
      continue;
    }
    links.push({ from: l.from, to: l.to, kind });
  }
  const cycle = findCycle(links);
  if (cycle) problem(`links form a cycle (${cycle.join(' → ')}): each call would trigger the next forever`);
  else {
    const longest = longestLinkedId(links);
    if (longest && longest.length > ID_MAX_LENGTH) {
      problem(
        `the linked call ${longest.path.join(' → ')} would get a ${longest.length}-character id (limit ${ID_MAX_LENGTH}); shorten the task names or the chain of links`,
      );
    }
  }

  // ── subscribers ────────────────────────────────────────────────────────────────────────
  const subscribers: SubscriberInfo[] = [];
  const allOutcomes = Object.keys(DetailTypes) as Outcome[];
  for (const s of subscribersIn) {
    if (!checkName('subscriber', s?.name, 'subscriber name', problem)) continue;
    if (subscribers.some((x) => x.name === s.name)) {
      problem(`subscriber "${s.name}" is declared twice`);
      continue;
    }
    let ok = true;
    if (s.entry !== undefined && (typeof s.entry !== 'string' || s.entry.trim() === '')) {
      problem(`subscriber "${s.name}": entry must be a non-empty path`);
      ok = false;
    }
    let outcomes = allOutcomes;
    if (s.outcomes !== undefined) {
      const unknown = arrayOf(s.outcomes, `subscriber "${s.name}" outcomes`, problem).filter((o) => !allOutcomes.includes(o as Outcome));
      if (unknown.length > 0) {
        problem(
          `subscriber "${s.name}": unknown outcome ${unknown.map((o) => JSON.stringify(o)).join(', ')} (use ${allOutcomes.join(', ')})`,
        );
        ok = false;
      } else if (s.outcomes.length === 0) {
        problem(`subscriber "${s.name}": outcomes is empty, so it would receive nothing; omit it to receive every outcome`);
        ok = false;
      } else {
        // Keep EventBridge's pattern in the canonical order whatever order the app used.
        outcomes = allOutcomes.filter((o) => s.outcomes?.includes(o));
      }
    }
    let subTasks: string[] | undefined;
    if (s.tasks !== undefined) {
      const names = arrayOf(s.tasks, `subscriber "${s.name}" tasks`, problem);
      if (names.length === 0) {
        problem(`subscriber "${s.name}": tasks is empty, so it would receive nothing; omit it to receive every task`);
        ok = false;
      }
      for (const n of names) {
        const t = tasks.get(n);
        if (!t) {
          problem(`subscriber "${s.name}": unknown task "${n}"`);
          ok = false;
        } else if (!t.events) {
          problem(`subscriber "${s.name}": task "${n}" has events off, so the subscriber would never hear of it; turn its events on`);
          ok = false;
        }
      }
      subTasks = [...new Set(names)];
    } else if (tasks.size > 0 && ![...tasks.values()].some((t) => t.events)) {
      problem(`subscriber "${s.name}": every task has events off, so it would never receive an event`);
      ok = false;
    }
    if (ok) subscribers.push({ name: s.name, entry: s.entry, tasks: subTasks, outcomes });
  }

  // ── periodic tasks ─────────────────────────────────────────────────────────────────────
  const periodic: PeriodicInfo[] = [];
  for (const p of periodicIn) {
    if (!checkName('periodic', p?.name, 'periodic task name', problem)) continue;
    if (periodic.some((x) => x.name === p.name)) {
      problem(`periodic task "${p.name}" is declared twice`);
      continue;
    }
    const task = tasks.get(p.task);
    if (!task) {
      problem(`periodic task "${p.name}": unknown task "${p.task}"`);
      continue;
    }
    const scheduleProblem = scheduleExpressionProblem(p.schedule);
    if (scheduleProblem) {
      problem(`periodic task "${p.name}": schedule ${JSON.stringify(p.schedule)} ${scheduleProblem}`);
      continue;
    }
    const args = jsonArgs(p.args);
    if (args === undefined) {
      problem(`periodic task "${p.name}": args must be an array of plain JSON values`);
      continue;
    }
    periodic.push({
      name: p.name,
      task: p.task,
      queue: task.queue,
      schedule: p.schedule,
      args,
      input: JSON.stringify({ task: p.task, args }),
    });
  }

  if (problems.length > 0) throw invalid(app || '?', problems);

  const source = eventSource(app);
  const rules = buildRules(app, source, links, subscribers, tasks);
  // Sizes are known only once the rules are built; a rule over the limit would pass local mode
  // (whose matcher has no such limit) and then fail the deploy's PutRule.
  for (const r of rules) {
    const size = JSON.stringify(r.eventPattern).length;
    if (size <= EVENTS_MAX_PATTERN_CHARS) continue;
    const fix =
      r.target.kind === 'subscriber'
        ? `subscribe subscriber "${r.target.subscriber}" to fewer tasks, or split it into several subscribers`
        : 'shorten the task names';
    problem(`rule "${r.name}" has a ${size}-character event pattern (EventBridge's limit is ${EVENTS_MAX_PATTERN_CHARS}); ${fix}`);
  }
  if (problems.length > 0) throw invalid(app, problems);
  const owners: Record<string, string> = {};
  for (const q of queues) if (q.tasks.length === 1) owners[q.name] = q.tasks[0] as string;
  Object.freeze(owners);

  return deepFreeze({
    app,
    source,
    tasks: [...tasks.values()],
    queues,
    links,
    subscribers,
    periodic,
    rules,
    eventsEnabled: [...tasks.values()].some((t) => t.events),
    queueOf(task: string): string {
      const t = tasks.get(task);
      if (!t) throw new CeleriacError(ErrorCodes.TASK_NOT_REGISTERED, `task "${task}" is not in app "${app}"'s topology`);
      return t.queue;
    },
    queueOwners(): Readonly<Record<string, string>> {
      return owners;
    },
  });
}

// ── rules ──────────────────────────────────────────────────────────────────────────────────

/**
 * Input template placeholders follow EventBridge's rules: an unquoted `<x>` in a JSON template is
 * replaced by the value as JSON (a string gets its quotes and escapes, an object stays an object),
 * which is what lets `args: [<result>]` carry any result; a `<x>` inside quotes is spliced in raw,
 * used only to derive the deterministic id from the source id.
 */
function buildRules(
  app: string,
  source: string,
  links: readonly LinkInfo[],
  subscribers: readonly SubscriberInfo[],
  tasks: ReadonlyMap<string, TaskInfo>,
): TopologyRule[] {
  const rules: TopologyRule[] = [];
  const names = new Set<string>();
  const uniqueName = (base: string): string => {
    let name = RULE_NAME_RE.test(base) ? base : hashedName(base);
    if (names.has(name)) name = hashedName(`${base}\u0000${names.size}`);
    names.add(name);
    return name;
  };

  for (const l of links) {
    const queue = (tasks.get(l.to) as TaskInfo).queue;
    if (l.kind === 'success') {
      rules.push({
        name: uniqueName(`link-${l.from}-${l.to}`),
        description: describe(`celeriac ${app}: when ${l.from} succeeds, call ${l.to} with its result (static link)`),
        eventPattern: { source: [source], 'detail-type': [DetailTypes.success], detail: { task: [l.from] } },
        target: { kind: 'queue', queue, task: l.to },
        inputTransformer: {
          inputPathsMap: { result: '$.detail.result', id: '$.detail.id', rootId: '$.detail.rootId', ...CARRIED_PATHS },
          inputTemplate: `{"task":${JSON.stringify(l.to)},"args":[<result>],"id":"${linkCallId('<id>', l.to)}","parentId":<id>,"rootId":<rootId>,${CARRIED_SLOTS}}`,
        },
      });
    } else {
      rules.push({
        name: uniqueName(`errlink-${l.from}-${l.to}`),
        description: describe(`celeriac ${app}: when ${l.from} fails, call ${l.to} with the failed task's id (static error link)`),
        eventPattern: { source: [source], 'detail-type': [DetailTypes.failure], detail: { task: [l.from] } },
        target: { kind: 'queue', queue, task: l.to },
        inputTransformer: {
          inputPathsMap: { id: '$.detail.id', rootId: '$.detail.rootId', ...CARRIED_PATHS },
          inputTemplate: `{"task":${JSON.stringify(l.to)},"args":[<id>],"id":"${errbackCallId('<id>', l.to)}","parentId":<id>,"rootId":<rootId>,${CARRIED_SLOTS}}`,
        },
      });
    }
  }

  for (const s of subscribers) {
    const detailTypes: DetailType[] = s.outcomes.map((o) => DetailTypes[o]);
    rules.push({
      name: uniqueName(`subscriber-${s.name}`),
      description: describe(
        `celeriac ${app}: ${s.outcomes.length === 4 ? 'every outcome' : s.outcomes.join(', ')} of ${s.tasks ? s.tasks.join(', ') : 'every task'} to subscriber ${s.name}`,
      ),
      eventPattern: { source: [source], 'detail-type': detailTypes, ...(s.tasks ? { detail: { task: s.tasks } } : {}) },
      target: { kind: 'subscriber', subscriber: s.name },
    });
  }
  return rules;
}

function describe(text: string): string {
  return text.length <= MAX_RULE_DESCRIPTION ? text : `${text.slice(0, MAX_RULE_DESCRIPTION - 3)}...`;
}

/** A readable prefix plus a short hash of the full name: valid, stable and unique. */
function hashedName(base: string): string {
  const readable = base.replace(/[^.\-_A-Za-z0-9]/g, '_').slice(0, 55);
  return `${readable}-${fnv1a(base)}`;
}

function fnv1a(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

// ── validation helpers ─────────────────────────────────────────────────────────────────────

function invalid(app: string, problems: readonly string[]): CeleriacError {
  const list = problems.map((p) => `  - ${p}`).join('\n');
  return new CeleriacError(
    ErrorCodes.CONFIG_INVALID,
    `invalid topology for app "${app}" (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${list}`,
    { details: { problems: [...problems] } },
  );
}

function checkName(kind: keyof typeof NAME_RULES, name: unknown, what: string, problem: (m: string) => void): name is string {
  const rule = NAME_RULES[kind];
  if (typeof name === 'string' && rule.re.test(name)) return true;
  problem(`${what} ${JSON.stringify(name)} is not valid: use ${rule.says}`);
  return false;
}

function arrayOf<T>(value: readonly T[] | undefined, what: string, problem: (m: string) => void): readonly T[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  problem(`${what} must be an array`);
  return [];
}

function resolveQueue(
  name: string,
  q: AppTopologyInput['queues'][number],
  tasks: readonly string[],
  problem: (m: string) => void,
): QueueInfo {
  const at = `queue "${name}"`;
  const int = (value: number | undefined, key: string, min: number, max: number, dflt: number): number => {
    if (value === undefined) return dflt;
    if (!Number.isInteger(value) || value < min || value > max) {
      problem(`${at}: ${key} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
      return dflt;
    }
    return value;
  };
  const batchSize = int(q.batchSize, 'batchSize', 1, 10_000, QUEUE_DEFAULTS.batchSize);
  const maxBatchingWindowSeconds = int(
    q.maxBatchingWindowSeconds,
    'maxBatchingWindowSeconds',
    0,
    300,
    QUEUE_DEFAULTS.maxBatchingWindowSeconds,
  );
  const maxConcurrency = q.maxConcurrency === undefined ? undefined : int(q.maxConcurrency, 'maxConcurrency', 2, 1_000, 2);
  const functionTimeoutSeconds = int(q.functionTimeoutSeconds, 'functionTimeoutSeconds', 1, 900, QUEUE_DEFAULTS.functionTimeoutSeconds);
  const visibilityTimeoutSeconds = int(
    q.visibilityTimeoutSeconds,
    'visibilityTimeoutSeconds',
    0,
    43_200,
    Math.min(functionTimeoutSeconds * QUEUE_DEFAULTS.visibilityTimeoutFactor, 43_200),
  );
  const maxReceiveCount = int(q.maxReceiveCount, 'maxReceiveCount', 1, 1_000, QUEUE_DEFAULTS.maxReceiveCount);
  const memoryMb = int(q.memoryMb, 'memoryMb', 128, 10_240, QUEUE_DEFAULTS.memoryMb);

  if (batchSize > 10 && maxBatchingWindowSeconds < 1) {
    problem(`${at}: a batch size of ${batchSize} (over 10) needs maxBatchingWindowSeconds of at least 1, as SQS event sources require`);
  }
  const minVisibility = functionTimeoutSeconds * QUEUE_DEFAULTS.visibilityTimeoutFactor;
  if (q.visibilityTimeoutSeconds !== undefined && visibilityTimeoutSeconds < minVisibility) {
    problem(
      `${at}: visibility timeout ${visibilityTimeoutSeconds} s is shorter than ${QUEUE_DEFAULTS.visibilityTimeoutFactor} × the function timeout (${functionTimeoutSeconds} s) = ${minVisibility} s; a message would reappear while its batch is still running or being retried`,
    );
  }
  return {
    name,
    tasks,
    batchSize,
    maxBatchingWindowSeconds,
    maxConcurrency,
    functionTimeoutSeconds,
    visibilityTimeoutSeconds,
    maxReceiveCount,
    memoryMb,
  };
}

function jsonArgs(args: readonly unknown[] | undefined): Json[] | undefined {
  if (args === undefined) return [];
  if (!Array.isArray(args)) return undefined;
  try {
    const round: unknown = JSON.parse(JSON.stringify(args));
    // JSON.stringify silently turns undefined, functions, NaN and Dates into something else.
    return isSameJson(args, round) ? (round as Json[]) : undefined;
  } catch {
    return undefined;
  }
}

function isSameJson(a: unknown, b: unknown): boolean {
  if (a === null || typeof a === 'string' || typeof a === 'boolean') return a === b;
  if (typeof a === 'number') return Number.isFinite(a) && a === b;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => isSameJson(x, b[i]));
  if (typeof a === 'object' && Object.getPrototypeOf(a) === Object.prototype) {
    if (typeof b !== 'object' || b === null || Array.isArray(b)) return false;
    const ka = Object.keys(a as object);
    return (
      ka.length === Object.keys(b).length &&
      ka.every((k) => isSameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
    );
  }
  return false;
}

function findCycle(links: readonly LinkInfo[]): string[] | undefined {
  const next = new Map<string, string[]>();
  for (const l of links) next.set(l.from, [...(next.get(l.from) ?? []), l.to]);
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const n of next.get(node) ?? []) {
      const found = visit(n);
      if (found) return found;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const l of links) {
    const found = visit(l.from);
    if (found) return found;
  }
  return undefined;
}

/** The longest id a chain of links derives from a generated id (the link graph is acyclic here). */
function longestLinkedId(links: readonly LinkInfo[]): { length: number; path: string[] } | undefined {
  const memo = new Map<string, { length: number; path: string[] }>();
  const longestFrom = (task: string): { length: number; path: string[] } => {
    const cached = memo.get(task);
    if (cached) return cached;
    let best = { length: 0, path: [task] };
    for (const l of links) {
      if (l.from !== task) continue;
      const suffix = (l.kind === 'success' ? linkCallId('', l.to) : errbackCallId('', l.to)).length;
      const rest = longestFrom(l.to);
      if (suffix + rest.length > best.length) best = { length: suffix + rest.length, path: [task, ...rest.path] };
    }
    memo.set(task, best);
    return best;
  };
  let worst: { length: number; path: string[] } | undefined;
  for (const l of links) {
    const r = longestFrom(l.from);
    if (!worst || r.length > worst.length) worst = r;
  }
  return worst && { length: worst.length + GENERATED_ID_LENGTH, path: worst.path };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

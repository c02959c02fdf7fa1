/**
 * The id rules, defined once. Every id a message names (task id, rootId, parentId, groupId, plan
 * and join ids) must satisfy them before it reaches a store key, an event or a rule template:
 *
 * - 1 to {@link ID_MAX_LENGTH} characters;
 * - no `"`, no `\` and no control characters (U+0000–U+001F): EventBridge input transformers
 *   splice a value into a quoted template slot WITHOUT escaping, so any of these would let an id
 *   rewrite the call a static link sends;
 * - not in a reserved namespace ({@link RESERVED_ID_PREFIXES}): the runtime keeps its own
 *   create-once claims (a chord's fire claim, an inline errback's claim) as records beside the
 *   results, so a sender-chosen id in `join:…`, `errback:…`, `ignored:…` (the guard record of a
 *   result nobody keeps) or `replaced:…` (the guard record of a replaced task) could otherwise
 *   stand on one.
 *
 * Lone surrogates are refused by the JSON checks (INVALID_UNICODE) before ids are looked at.
 */
import { createHash } from 'node:crypto';

/** Longest id accepted (DynamoDB keys hold 2 KB; a derived link id adds a suffix to this). */
export const ID_MAX_LENGTH = 256;

/** Record-id prefixes only the runtime writes (see lib/adapters/aws/KEYS.md, "namespaces"). */
export const RESERVED_ID_PREFIXES: readonly string[] = ['join:', 'errback:', 'ignored:', 'replaced:'];

/** Allowed characters and length of an id (the reserved prefixes are checked by {@link isId}). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to refuse control characters in ids
export const TASK_ID_PATTERN = /^[^"\\\u0000-\u001f]{1,256}$/;

/** What an id must be, in words (error messages name it). */
export const ID_RULE =
  'an id is 1-256 characters without quotes, backslashes or control characters, not starting with "join:", "errback:", "ignored:" or "replaced:"';

/** True when `x` is an id by the rules above. */
export function isId(x: unknown): x is string {
  if (typeof x !== 'string' || !TASK_ID_PATTERN.test(x)) return false;
  // Checked by first character: nearly every id (a UUID) is out at once.
  const c = x.charCodeAt(0);
  return !(
    (c === 106 /* j */ && x.startsWith('join:')) ||
    (c === 101 /* e */ && x.startsWith('errback:')) ||
    (c === 105 /* i */ && x.startsWith('ignored:')) ||
    (c === 114 /* r */ && x.startsWith('replaced:'))
  );
}

/**
 * `x` when it is a valid id, else a stable id derived from it (`msg-<sha1 hex>`): what the worker
 * stores and publishes for a transport id it does not control.
 */
export function safeId(x: string): string {
  return isId(x) ? x : `msg-${createHash('sha1').update(x).digest('hex')}`;
}

/** The record id of a join's create-once fire claim (reserved namespace: no task id can equal it). */
export const joinClaimKey = (joinId: string): string => `join:${joinId}`;

/** The record id of an inline errback's create-once claim for one failed task (reserved namespace). */
export const errbackClaimKey = (failedId: string, errback: number): string => `errback:${failedId}:${errback}`;

/** The record id of the guard record of a success whose result is ignored (reserved namespace). */
export const ignoredResultKey = (taskId: string): string => `ignored:${taskId}`;

/**
 * The record id of the guard record of a task that replaced itself (`ctx.replace`), for the call
 * of replacement nesting `nesting - 1` (reserved namespace): it holds where the replacement
 * starts, so a redelivery of the replaced call finishes publishing it instead of running again.
 */
export const replacedKey = (taskId: string, nesting: number): string => `replaced:${taskId}:${nesting}`;

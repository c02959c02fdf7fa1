/**
 * The one owner of sizes: the AWS service limits every adapter enforces (so a workload that
 * passes in memory mode does not first fail on AWS; values are the documented hard limits), the
 * byte counting they are checked with, and the offload decision (which values go to the payload
 * store instead of travelling inline). The codec, the adapters, the worker and the stores all ask
 * here; none counts bytes its own way.
 */
import { CeleriacError, ErrorCodes } from '../errors';
import type { OutgoingMessage } from '../ports';
import { FAIRNESS_KEY_RULE, isFairnessKey } from './fairness';
import type { Json } from './json';

/** SQS: largest message body (SendMessage and each SendMessageBatch entry), bytes. */
export const SQS_MAX_MESSAGE_BYTES = 1_048_576;
/** SQS: largest SendMessageBatch request (sum of bodies), bytes. */
export const SQS_MAX_BATCH_BYTES = 1_048_576;
/** SQS: entries per SendMessageBatch / DeleteMessageBatch / ReceiveMessage. */
export const SQS_MAX_BATCH_ENTRIES = 10;
/** SQS: DelaySeconds upper bound. */
export const SQS_MAX_DELAY_SECONDS = 900;
/** SQS: VisibilityTimeout upper bound (12 hours). */
export const SQS_MAX_VISIBILITY_SECONDS = 43_200;
/** DynamoDB: largest item (attribute names + values), bytes. */
export const DYNAMO_MAX_ITEM_BYTES = 409_600;
/** EventBridge: entries per PutEvents request. */
export const EVENTS_MAX_BATCH_ENTRIES = 10;
/** EventBridge: largest PutEvents request (sum of entry sizes), bytes. */
export const EVENTS_MAX_BATCH_BYTES = 262_144;
/**
 * EventBridge: largest event pattern of a rule, in characters of its JSON text (PutRule refuses a
 * longer one, so the topology checks its rules against it before anything is deployed or run).
 */
export const EVENTS_MAX_PATTERN_CHARS = 2048;

/** EventBridge Scheduler: largest target input (a delayed message's body), bytes. */
export const SCHEDULE_INPUT_MAX_BYTES = 262_144;
/** Default bound on a stored result (bytes): a DynamoDB item, less room for the record's other attributes. */
export const DEFAULT_MAX_RESULT_BYTES = 350_000;
/**
 * Results larger than this travel in events as `result: null, resultTruncated: true` when they
 * are not offloaded (no payload store): an event must fit a PutEvents request.
 */
export const EVENT_RESULT_BYTES = 200_000;

/**
 * Default offload threshold (bytes): a value (an argument, the kwargs, a result, an error's
 * details) larger than this is stored once in the payload store and travels as a reference.
 * 64 KiB is a quarter of the smallest limit it guards (a Scheduler input and a PutEvents request,
 * 256 KiB), so a message or record holding a few values just under it still fits everywhere;
 * and a value this size stored in DynamoDB would cost 64 write units per write, more than an S3
 * PUT and GET together, so from here on a reference is also the cheaper way.
 */
export const DEFAULT_PAYLOAD_THRESHOLD_BYTES = 65_536;

/**
 * The share of a worker function's memory one call's large arguments may take when they are read
 * before its body runs (README, "Large payloads"): a quarter, as a value read from S3 is held
 * about three times while it is decoded and parsed, and the body still needs room of its own.
 */
const PAYLOAD_READ_MEMORY_SHARE = 4;

/** The read budget of a call (bytes) in a function of `memoryMb` MiB; unbounded without one (local modes). */
export function payloadReadBudget(memoryMb: number | undefined): number {
  return memoryMb !== undefined && memoryMb > 0 ? Math.floor((memoryMb * 1_048_576) / PAYLOAD_READ_MEMORY_SHARE) : Number.POSITIVE_INFINITY;
}

/** UTF-8 byte length. */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * The UTF-8 size of `s` when it is larger than `limit` bytes, else undefined. Counts bytes only
 * when the cheap bound (a UTF-16 unit is at most 3 UTF-8 bytes) says it might be: the one place
 * this heuristic is written.
 */
export function bytesOver(s: string, limit: number): number | undefined {
  if (s.length * 3 <= limit) return undefined;
  const bytes = utf8Bytes(s);
  return bytes > limit ? bytes : undefined;
}

/**
 * A JSON value's text and size when that text is larger than `limit` bytes, else undefined.
 * Scalars other than strings never are (a number is at most 24 characters); strings are measured
 * as JSON text (quotes and escapes included).
 */
export function jsonOver(value: Json, limit: number): { readonly text: string; readonly bytes: number } | undefined {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return undefined;
  // A string's JSON text is at most 6 bytes per UTF-16 unit (a `\\uXXXX` escape) plus its quotes.
  if (typeof value === 'string' && value.length * 6 + 2 <= limit) return undefined;
  const text = JSON.stringify(value);
  const bytes = bytesOver(text, limit);
  return bytes === undefined ? undefined : { text, bytes };
}

/** Where a value that did not fit goes, for the error's hint. */
const OFFLOAD_HINT =
  'configure a payload bucket (CELERIAC_PAYLOAD_BUCKET; the stack sets it) so that large values are stored once in S3 and travel as a reference, or pass a reference (an S3 key) yourself';

/**
 * Characters SQS refuses besides lone surrogates (allowed: tab, LF, CR, U+0020–U+D7FF,
 * U+E000–U+FFFD, U+10000–U+10FFFF). A positive class scans about 3× faster than the negated
 * `u`-flag class; surrogates are checked natively by `isWellFormed`.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const SQS_FORBIDDEN = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** `String.prototype.isWellFormed` (ES2024; Node ≥ 20) — the tsconfig's lib is ES2023. */
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/**
 * Validates messages before anything is sent, so one bad message rejects the whole call instead
 * of leaving it half sent. Returns each body's byte size (for batch packing).
 */
export function checkOutgoing(messages: readonly OutgoingMessage[]): number[] {
  const sizes = new Array<number>(messages.length);
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as OutgoingMessage;
    if (typeof m.queue !== 'string' || m.queue === '') {
      throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `message ${m.id} has no queue`);
    }
    const delay = m.delaySeconds ?? 0;
    if (!Number.isInteger(delay) || delay < 0 || delay > SQS_MAX_DELAY_SECONDS) {
      throw new CeleriacError(
        ErrorCodes.INVALID_OPTIONS,
        `message ${m.id}: delaySeconds must be an integer 0…${SQS_MAX_DELAY_SECONDS} (SQS DelaySeconds), got ${delay}; longer delays are re-delayed in hops`,
      );
    }
    if (m.body.length === 0)
      throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `message ${m.id} has an empty body; SQS needs at least one character`);
    const bad = SQS_FORBIDDEN.exec(m.body) ?? (isWellFormed(m.body) ? null : LONE_SURROGATE.exec(m.body));
    if (bad !== null) {
      const cp = bad[0].codePointAt(0) ?? 0;
      throw new CeleriacError(
        ErrorCodes.INVALID_UNICODE,
        `message ${m.id} contains U+${cp.toString(16).toUpperCase().padStart(4, '0')} at offset ${bad.index}, which SQS does not accept (allowed: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF)`,
        { details: { id: m.id, queue: m.queue, offset: bad.index } },
      );
    }
    if (m.groupId !== undefined && !isFairnessKey(m.groupId)) {
      throw new CeleriacError(
        ErrorCodes.INVALID_OPTIONS,
        `message ${m.id}: its group id ${JSON.stringify(m.groupId)} is refused: ${FAIRNESS_KEY_RULE}`,
        {
          details: { id: m.id, queue: m.queue },
        },
      );
    }
    const size = utf8Bytes(m.body);
    if (size > SQS_MAX_MESSAGE_BYTES) throw messageTooLarge(`message ${m.id} for queue "${m.queue}"`, size, { id: m.id, queue: m.queue });
    sizes[i] = size;
  }
  return sizes;
}

/** The error for a message over SQS's limit (`what` names it). */
export function messageTooLarge(
  what: string,
  bytes: number,
  details: Record<string, Json> = {},
  limit = SQS_MAX_MESSAGE_BYTES,
): CeleriacError {
  return new CeleriacError(
    ErrorCodes.MESSAGE_TOO_LARGE,
    `${what} is ${bytes} bytes; the queue limit is ${limit} bytes (1 MiB): ${OFFLOAD_HINT}`,
    {
      details: { ...details, bytes, limit },
    },
  );
}

/** The error for a result (or a whole record, `what`) over the bound on stored results. */
export function resultTooLarge(id: string, bytes: number, limit: number = DYNAMO_MAX_ITEM_BYTES, what = 'result record'): CeleriacError {
  return new CeleriacError(
    ErrorCodes.RESULT_TOO_LARGE,
    `${what} of task ${id} is ${bytes} bytes; at most ${limit} bytes are stored in a record (a DynamoDB item holds ${DYNAMO_MAX_ITEM_BYTES} bytes): ${OFFLOAD_HINT}`,
    { details: { id, bytes, limit } },
  );
}

/** An event's PutEvents entry size, as EventBridge computes it (Time counts 14 bytes). */
export function eventEntryBytes(source: string, detailType: string, detailJson: string, resources: readonly string[] | undefined): number {
  let size = 14 + utf8Bytes(source) + utf8Bytes(detailType) + utf8Bytes(detailJson);
  if (resources !== undefined) for (const r of resources) size += utf8Bytes(r);
  return size;
}

/** The error for one event that no PutEvents request can carry. */
export function eventTooLarge(detailType: string, bytes: number, id: unknown): CeleriacError {
  return new CeleriacError(
    ErrorCodes.MESSAGE_TOO_LARGE,
    `event "${detailType}"${typeof id === 'string' ? ` for task ${id}` : ''} is ${bytes} bytes; EventBridge accepts at most ${EVENTS_MAX_BATCH_BYTES} bytes (256 KB) per PutEvents request`,
    { details: { detailType, bytes, limit: EVENTS_MAX_BATCH_BYTES } },
  );
}

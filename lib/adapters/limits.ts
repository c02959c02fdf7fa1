/**
 * AWS service limits that every adapter enforces, so a workload that passes in memory mode does
 * not first fail on AWS. Values are the documented hard limits.
 */
import { CeleriacError, ErrorCodes } from '../errors';
import type { OutgoingMessage } from '../ports';
import { FAIRNESS_KEY_RULE, isFairnessKey } from '../protocol/fairness';

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

/** UTF-8 byte length. */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** True when `s` may be longer than `limit` bytes (cheap pre-check before counting). */
export function mayExceed(s: string, limit: number): boolean {
  return s.length * 3 > limit;
}

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
    if (size > SQS_MAX_MESSAGE_BYTES) {
      throw new CeleriacError(
        ErrorCodes.MESSAGE_TOO_LARGE,
        `message ${m.id} for queue "${m.queue}" is ${size} bytes; SQS accepts at most ${SQS_MAX_MESSAGE_BYTES} bytes (1 MiB)`,
        { details: { id: m.id, queue: m.queue, bytes: size, limit: SQS_MAX_MESSAGE_BYTES } },
      );
    }
    sizes[i] = size;
  }
  return sizes;
}

/** The error for a result record that cannot be stored in one DynamoDB item. */
export function resultTooLarge(id: string, bytes: number): CeleriacError {
  return new CeleriacError(
    ErrorCodes.RESULT_TOO_LARGE,
    `result record for task ${id} is ${bytes} bytes; a DynamoDB item holds at most ${DYNAMO_MAX_ITEM_BYTES} bytes (400 KB). Return a reference (an S3 key) instead of the data`,
    { details: { id, bytes, limit: DYNAMO_MAX_ITEM_BYTES } },
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

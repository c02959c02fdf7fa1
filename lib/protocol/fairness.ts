/**
 * The fairness key rule, defined once. A fairness key names the tenant a message belongs to; on
 * AWS it is the message's SQS `MessageGroupId` on a standard queue, which turns on SQS fair
 * queues (README, "Fairness"). So it follows SQS's rule for `MessageGroupId`: 1 to 128
 * characters, each a letter, a digit or ASCII punctuation (`!"#$%&'()*+,-./:;<=>?@[\]^_\`{|}~`) —
 * that is, printable ASCII without the space. A key SQS would refuse is refused before anything
 * is sent, with this rule in the error.
 */
import { CeleriacError, ErrorCodes } from '../errors';

/** Longest fairness key (SQS `MessageGroupId`). */
export const FAIRNESS_KEY_MAX_LENGTH = 128;

/** Printable ASCII without the space (U+0021–U+007E), 1 to 128 characters. */
export const FAIRNESS_KEY_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** What a fairness key must be, in words (error messages name it). */
export const FAIRNESS_KEY_RULE =
  'a fairness key (SQS MessageGroupId) is 1-128 characters, each a letter, a digit or ASCII punctuation (no spaces, no other characters)';

/** True when `x` is a fairness key by the rule above. */
export function isFairnessKey(x: unknown): x is string {
  return typeof x === 'string' && FAIRNESS_KEY_PATTERN.test(x);
}

/** Throws INVALID_OPTIONS naming `where` and the rule when `key` is not a fairness key. */
export function checkFairnessKey(key: unknown, where: string): asserts key is string {
  if (isFairnessKey(key)) return;
  const got =
    typeof key === 'string' ? `${JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key)} (${key.length} characters)` : typeof key;
  throw new CeleriacError(ErrorCodes.INVALID_OPTIONS, `${where}: got ${got}; ${FAIRNESS_KEY_RULE}`, {
    details: { rule: FAIRNESS_KEY_RULE },
  });
}

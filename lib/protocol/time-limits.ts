/**
 * The one rule for a pair of time limits, wherever they are given (a task's options, a call's):
 * a soft limit is a warning before the hard one, so it cannot come after it (Celery refuses
 * `soft_time_limit > time_limit` with a ValueError at publish).
 */
import { CeleriacError, ErrorCodes } from '../errors';

/**
 * Refuses a soft limit longer than the hard one given with it.
 * @throws CeleriacError INVALID_OPTIONS
 */
export function checkTimeLimits(hard: number | null | undefined, soft: number | null | undefined, where = 'options'): void {
  if (hard != null && soft != null && soft > hard) {
    throw new CeleriacError(
      ErrorCodes.INVALID_OPTIONS,
      `${where}: softTimeLimit (${soft} s) is longer than timeLimit (${hard} s); the soft limit warns before the hard one`,
    );
  }
}

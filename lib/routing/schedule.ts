/**
 * EventBridge Scheduler expressions for periodic tasks, checked before deploy: a typo would
 * otherwise surface as a CloudFormation failure minutes into a deployment, and local mode must
 * refuse what AWS refuses.
 *
 * Periodic tasks take `rate(value unit)` and `cron(minutes hours day-of-month month day-of-week year)`.
 * One-time `at(...)` expressions are refused: a one-off call is `applyAsync({ countdown | eta })`.
 */

const RATE_RE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON_RE = /^cron\((.*)\)$/;

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface CronField {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Names accepted in place of numbers (index + min = value). */
  readonly names?: readonly string[];
  /** Tokens only this field accepts: `?`, `L`, `W`, `#`. */
  readonly question?: boolean;
  readonly last?: boolean;
  readonly weekday?: boolean;
  readonly nth?: boolean;
}

const CRON_FIELDS: readonly CronField[] = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31, question: true, last: true, weekday: true },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day-of-week', min: 1, max: 7, names: DAYS, question: true, last: true, nth: true },
  { name: 'year', min: 1970, max: 2199 },
];

/** The problem with a periodic schedule expression, or undefined when EventBridge Scheduler accepts it. */
export function scheduleExpressionProblem(expression: string): string | undefined {
  if (typeof expression !== 'string' || expression.length === 0) return 'is empty; use rate(value unit) or cron(fields)';
  if (expression.startsWith('at(')) {
    return 'is a one-time at(...) expression; a periodic task needs rate(...) or cron(...) (for a one-off call use applyAsync with countdown or eta)';
  }
  if (expression.startsWith('rate(')) {
    const m = RATE_RE.exec(expression);
    if (!m) return 'is not rate(value unit) with a positive integer value and a unit of minute(s), hour(s) or day(s)';
    const value = Number(m[1]);
    const unit = m[2] as string;
    if (value < 1) return 'has a rate value below 1';
    const plural = unit.endsWith('s');
    if (value === 1 && plural) return `uses "${unit}" with a value of 1; write rate(1 ${unit.slice(0, -1)})`;
    if (value > 1 && !plural) return `uses "${unit}" with a value of ${value}; write rate(${value} ${unit}s)`;
    return undefined;
  }
  const cron = CRON_RE.exec(expression);
  if (!cron) return 'is neither rate(value unit) nor cron(fields)';
  const fields = (cron[1] as string).trim().split(/\s+/);
  if (fields.length !== 6) {
    return `has ${fields.length} cron fields; EventBridge Scheduler needs 6 (minutes hours day-of-month month day-of-week year)`;
  }
  for (let i = 0; i < CRON_FIELDS.length; i++) {
    const problem = cronFieldProblem(fields[i] as string, CRON_FIELDS[i] as CronField);
    if (problem) return problem;
  }
  const dom = fields[2] as string;
  const dow = fields[4] as string;
  if ((dom === '?') === (dow === '?')) {
    return 'must use "?" in exactly one of day-of-month and day-of-week (EventBridge cannot combine them)';
  }
  return undefined;
}

function cronFieldProblem(field: string, spec: CronField): string | undefined {
  const bad = `has an invalid ${spec.name} field "${field}"`;
  if (field === '?') return spec.question ? undefined : `${bad}: "?" is only allowed in day-of-month and day-of-week`;
  if (field === 'L' && spec.last) return undefined;
  if (field === 'LW' && spec.weekday) return undefined;
  for (const item of field.split(',')) {
    if (!cronItemOk(item, spec)) return bad;
  }
  return undefined;
}

function cronItemOk(item: string, spec: CronField): boolean {
  if (item === '*') return true;
  if (spec.weekday && /^\d{1,2}W$/.test(item)) return valueOk(item.slice(0, -1), spec);
  if (spec.last && spec.nth && /^\w+L$/.test(item)) return valueOk(item.slice(0, -1), spec);
  if (spec.nth && item.includes('#')) {
    const [day, nth] = item.split('#');
    return valueOk(day ?? '', spec) && /^[1-5]$/.test(nth ?? '');
  }
  const [range, step, ...rest] = item.split('/');
  if (rest.length > 0 || range === undefined) return false;
  if (step !== undefined && !/^\d+$/.test(step)) return false;
  if (range === '*') return step !== undefined;
  const bounds = range.split('-');
  if (bounds.length > 2) return false;
  return bounds.every((b) => valueOk(b, spec));
}

function valueOk(token: string, spec: CronField): boolean {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    return n >= spec.min && n <= spec.max;
  }
  return spec.names?.includes(token.toUpperCase()) ?? false;
}

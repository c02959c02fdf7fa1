/**
 * When a periodic task fires next, for EventBridge Scheduler expressions: `rate(value unit)` and
 * `cron(minutes hours day-of-month month day-of-week year)`, evaluated in UTC (the Scheduler
 * default time zone). Local mode uses this to fire the topology's `periodic` entries; which
 * expressions are valid at all is decided by lib/routing, the check the CDK stack runs too.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;

const RATE_RE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON_RE = /^cron\((.*)\)$/;
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** A parsed schedule: `next(after)` is the first fire time strictly after `after` (epoch ms), or undefined if none. */
export interface Schedule {
  readonly expression: string;
  next(after: number): number | undefined;
}

/**
 * Parses a periodic schedule expression. A rate schedule is anchored at `anchor` (epoch ms; the
 * moment the schedule was "created", i.e. when local mode started): it fires at
 * `anchor + k × rate`. Throws a `RangeError` for an expression it cannot evaluate.
 *
 * @example
 * ```ts
 * parseSchedule('cron(0 12 * * ? *)').next(Date.UTC(2024, 0, 1)); // Date.UTC(2024, 0, 1, 12)
 * ```
 */
export function parseSchedule(expression: string, anchor = 0): Schedule {
  const rate = RATE_RE.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    const unit = rate[2] as string;
    const period = n * (unit.startsWith('minute') ? MINUTE : unit.startsWith('hour') ? 60 * MINUTE : DAY);
    if (period <= 0) throw new RangeError(`schedule "${expression}": the rate must be positive`);
    return {
      expression,
      next: (after) => {
        if (after < anchor) return anchor + period;
        return anchor + (Math.floor((after - anchor) / period) + 1) * period;
      },
    };
  }
  const cron = CRON_RE.exec(expression);
  if (!cron) throw new RangeError(`schedule "${expression}" is neither rate(value unit) nor cron(fields)`);
  const fields = (cron[1] as string).trim().split(/\s+/);
  if (fields.length !== 6) throw new RangeError(`schedule "${expression}" needs 6 cron fields`);
  const [minF, hourF, domF, monF, dowF, yearF] = fields as [string, string, string, string, string, string];
  const minutes = parseSet(minF, 0, 59, undefined, expression);
  const hours = parseSet(hourF, 0, 23, undefined, expression);
  const months = parseSet(monF, 1, 12, MONTHS, expression);
  const years = parseSet(yearF, 1970, 2199, undefined, expression);
  const dayMatches = dayPredicate(domF, dowF, expression);
  const sortedHours = [...hours].sort((a, b) => a - b);
  const sortedMinutes = [...minutes].sort((a, b) => a - b);
  return {
    expression,
    next: (after) => {
      // Scan day by day (at most a few years of days), then the first hour:minute of the day.
      const start = Math.floor(after / MINUTE) * MINUTE + MINUTE;
      let day = Math.floor(start / DAY) * DAY;
      for (let i = 0; i < 366 * 8; i++, day += DAY) {
        const d = new Date(day);
        const year = d.getUTCFullYear();
        if (year > 2199) return undefined;
        if (!years.has(year) || !months.has(d.getUTCMonth() + 1) || !dayMatches(d)) continue;
        for (const h of sortedHours) {
          for (const m of sortedMinutes) {
            const t = day + h * 60 * MINUTE + m * MINUTE;
            if (t >= start) return t;
          }
        }
      }
      return undefined;
    },
  };
}

function parseSet(field: string, min: number, max: number, names: readonly string[] | undefined, expr: string): Set<number> {
  const out = new Set<number>();
  const value = (token: string): number => {
    const named = names?.indexOf(token.toUpperCase()) ?? -1;
    const n = named >= 0 ? named + min : Number(token);
    if (!Number.isInteger(n) || n < min || n > max) throw new RangeError(`schedule "${expr}": "${token}" is out of range ${min}-${max}`);
    return n;
  };
  for (const item of field.split(',')) {
    if (item === '*' || item === '?') {
      for (let i = min; i <= max; i++) out.add(i);
      continue;
    }
    const [range, stepText] = item.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new RangeError(`schedule "${expr}": bad step in "${item}"`);
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = min;
      hi = max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      lo = value(a);
      hi = value(b);
    } else {
      lo = value(range);
      // `5/15` means "from 5 every 15"; a bare `5` is just 5.
      hi = stepText === undefined ? lo : max;
    }
    for (let i = lo; i <= hi; i += step) out.add(i);
  }
  return out;
}

/** Day-of-month and day-of-week (one of them is `?`), with `L`, `W`, `LW`, `nL` and `n#k`. */
function dayPredicate(dom: string, dow: string, expr: string): (d: Date) => boolean {
  if (dom !== '?') {
    if (dom === 'L') return (d) => d.getUTCDate() === lastDay(d);
    if (dom === 'LW') return (d) => d.getUTCDate() === nearestWeekday(d, lastDay(d));
    if (/^\d{1,2}W$/.test(dom)) {
      const target = Number(dom.slice(0, -1));
      return (d) => d.getUTCDate() === nearestWeekday(d, Math.min(target, lastDay(d)));
    }
    const days = parseSet(dom, 1, 31, undefined, expr);
    return (d) => days.has(d.getUTCDate());
  }
  // Day-of-week: 1 = SUN … 7 = SAT.
  const weekday = (d: Date): number => d.getUTCDay() + 1;
  if (dow === 'L') return (d) => weekday(d) === 7;
  const nameOrNumber = (t: string): number => {
    const i = DAYS.indexOf(t.toUpperCase());
    const n = i >= 0 ? i + 1 : Number(t);
    if (!Number.isInteger(n) || n < 1 || n > 7) throw new RangeError(`schedule "${expr}": bad day-of-week "${t}"`);
    return n;
  };
  if (/^\w+L$/.test(dow)) {
    const wd = nameOrNumber(dow.slice(0, -1));
    return (d) => weekday(d) === wd && d.getUTCDate() + 7 > lastDay(d);
  }
  if (dow.includes('#')) {
    const [day, nth] = dow.split('#') as [string, string];
    const wd = nameOrNumber(day);
    const k = Number(nth);
    return (d) => weekday(d) === wd && Math.ceil(d.getUTCDate() / 7) === k;
  }
  const days = parseSet(dow, 1, 7, DAYS, expr);
  return (d) => days.has(weekday(d));
}

function lastDay(d: Date): number {
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
}

/** The weekday (Mon–Fri) nearest to day `target` of d's month, never leaving the month (Quartz `W`). */
function nearestWeekday(d: Date, target: number): number {
  const wd = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), target)).getUTCDay();
  if (wd === 6) return target === 1 ? 3 : target - 1;
  if (wd === 0) return target === lastDay(d) ? target - 2 : target + 1;
  return target;
}

import { describe, expect, it } from 'vitest';
import { scheduleExpressionProblem } from '../../../lib/routing';

describe('scheduleExpressionProblem', () => {
  it.each([
    'rate(1 minute)',
    'rate(5 minutes)',
    'rate(1 hour)',
    'rate(12 hours)',
    'rate(1 day)',
    'rate(7 days)',
    'cron(0 12 * * ? *)',
    'cron(15 10 ? * 6L 2030-2035)',
    'cron(0/15 * * * ? *)',
    'cron(0 8 1 JAN,JUL ? *)',
    'cron(0 9 ? * MON-FRI *)',
    'cron(0 18 ? * 3#2 *)',
    'cron(0 0 L * ? *)',
    'cron(0 0 15W * ? *)',
    'cron(5,35 14 * * ? *)',
  ])('accepts %s', (expression) => {
    expect(scheduleExpressionProblem(expression)).toBeUndefined();
  });

  it.each([
    ['', 'is empty; use rate(value unit) or cron(fields)'],
    ['rate(0 minutes)', 'has a rate value below 1'],
    ['rate(5 minute)', 'uses "minute" with a value of 5; write rate(5 minutes)'],
    ['rate(1 hours)', 'uses "hours" with a value of 1; write rate(1 hour)'],
    ['rate(5 seconds)', 'is not rate(value unit) with a positive integer value and a unit of minute(s), hour(s) or day(s)'],
    ['rate(-1 day)', 'is not rate(value unit) with a positive integer value and a unit of minute(s), hour(s) or day(s)'],
    ['cron(0 12 * * * *)', 'must use "?" in exactly one of day-of-month and day-of-week (EventBridge cannot combine them)'],
    ['cron(0 12 ? * ? *)', 'must use "?" in exactly one of day-of-month and day-of-week (EventBridge cannot combine them)'],
    ['cron(60 12 * * ? *)', 'has an invalid minutes field "60"'],
    ['cron(0 24 * * ? *)', 'has an invalid hours field "24"'],
    ['cron(0 12 32 * ? *)', 'has an invalid day-of-month field "32"'],
    ['cron(0 12 * 13 ? *)', 'has an invalid month field "13"'],
    ['cron(0 12 ? * 8 *)', 'has an invalid day-of-week field "8"'],
    ['cron(0 12 * * ? 1969)', 'has an invalid year field "1969"'],
    ['cron(? 12 * * ? *)', 'has an invalid minutes field "?": "?" is only allowed in day-of-month and day-of-week'],
    ['cron(0 12 * * ? * *)', 'has 7 cron fields; EventBridge Scheduler needs 6 (minutes hours day-of-month month day-of-week year)'],
    [
      'at(2030-01-01T00:00:00)',
      'is a one-time at(...) expression; a periodic task needs rate(...) or cron(...) (for a one-off call use applyAsync with countdown or eta)',
    ],
    ['0 12 * * ?', 'is neither rate(value unit) nor cron(fields)'],
  ])('refuses %j: %s', (expression, problem) => {
    expect(scheduleExpressionProblem(expression)).toBe(problem);
  });
});

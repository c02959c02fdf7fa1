import { describe, expect, it } from 'vitest';
import { parseSchedule } from '../../../lib/local/schedule';

const at = (iso: string): number => Date.parse(iso);
const next = (expr: string, after: string, anchor = 0): string | undefined => {
  const t = parseSchedule(expr, anchor).next(at(after));
  return t === undefined ? undefined : new Date(t).toISOString();
};

describe('periodic schedules, as EventBridge Scheduler evaluates them (UTC)', () => {
  it('rate(...) fires every period from its anchor (when local mode started)', () => {
    const anchor = at('2024-01-01T00:00:30Z');
    expect(next('rate(5 minutes)', '2024-01-01T00:00:30Z', anchor)).toBe('2024-01-01T00:05:30.000Z');
    expect(next('rate(5 minutes)', '2024-01-01T00:05:30Z', anchor)).toBe('2024-01-01T00:10:30.000Z');
    expect(next('rate(1 hour)', '2024-01-01T03:00:00Z', anchor)).toBe('2024-01-01T03:00:30.000Z');
    expect(next('rate(2 days)', '2024-01-02T00:00:00Z', anchor)).toBe('2024-01-03T00:00:30.000Z');
  });

  it('cron(...) fires at the next matching minute, strictly after the given time', () => {
    expect(next('cron(0 12 * * ? *)', '2024-01-01T11:59:00Z')).toBe('2024-01-01T12:00:00.000Z');
    expect(next('cron(0 12 * * ? *)', '2024-01-01T12:00:00Z')).toBe('2024-01-02T12:00:00.000Z');
    expect(next('cron(0/15 * * * ? *)', '2024-01-01T10:07:00Z')).toBe('2024-01-01T10:15:00.000Z');
    expect(next('cron(5,35 8-9 * * ? *)', '2024-01-01T09:36:00Z')).toBe('2024-01-02T08:05:00.000Z');
  });

  it('day-of-week is 1-7 = SUN-SAT, with names, ranges, L and #', () => {
    // 2024-01-01 is a Monday.
    expect(next('cron(0 9 ? * MON-FRI *)', '2024-01-05T10:00:00Z')).toBe('2024-01-08T09:00:00.000Z');
    expect(next('cron(0 9 ? * 1 *)', '2024-01-01T00:00:00Z')).toBe('2024-01-07T09:00:00.000Z');
    expect(next('cron(0 0 ? * 6#3 *)', '2024-01-01T00:00:00Z')).toBe('2024-01-19T00:00:00.000Z');
    expect(next('cron(0 0 ? * 2L *)', '2024-01-01T00:00:00Z')).toBe('2024-01-29T00:00:00.000Z');
  });

  it('day-of-month supports L, W and LW; months and years narrow it down', () => {
    expect(next('cron(0 0 L * ? *)', '2024-02-01T00:00:00Z')).toBe('2024-02-29T00:00:00.000Z');
    // 2024-06-15 is a Saturday: the nearest weekday is Friday the 14th.
    expect(next('cron(0 0 15W * ? *)', '2024-06-01T00:00:00Z')).toBe('2024-06-14T00:00:00.000Z');
    // 2024-03-31 is a Sunday: the last weekday is Friday the 29th.
    expect(next('cron(0 0 LW * ? *)', '2024-03-01T00:00:00Z')).toBe('2024-03-29T00:00:00.000Z');
    expect(next('cron(0 0 1 JAN ? 2026)', '2024-03-01T00:00:00Z')).toBe('2026-01-01T00:00:00.000Z');
    expect(next('cron(0 0 1 JAN ? 2023)', '2024-03-01T00:00:00Z')).toBeUndefined();
  });

  it('refuses what it cannot evaluate', () => {
    expect(() => parseSchedule('at(2024-01-01T00:00:00)')).toThrow(RangeError);
    expect(() => parseSchedule('cron(0 12 * * ?)')).toThrow(/6 cron fields/);
    expect(() => parseSchedule('cron(61 12 * * ? *)')).toThrow(/out of range/);
  });
});

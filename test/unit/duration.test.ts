/** The CLI's and the API's durations and times (src/cli/duration.ts), and the scope check every start of a story run makes. */
import { parseDuration, parseTime } from '../../src/cli/duration';
import { UsageError } from '../../src/cli/temporal-client';
import { DAY_MS, scopeProblem } from '../../src/shared/stories';

describe('parseTime', () => {
  it.each([
    ['2026-11-25', '2026-11-25T00:00:00.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['2026-11-25T08:00Z', '2026-11-25T08:00:00.000Z'],
    ['2026-11-25T08:00:30.25Z', '2026-11-25T08:00:30.250Z'],
    ['2026-11-25T08:00+01:00', '2026-11-25T07:00:00.000Z'],
    ['2026-11-25T08:00-0230', '2026-11-25T10:30:00.000Z'],
    ['0050-01-01', '0050-01-01T00:00:00.000Z'],
  ])('reads %s', (raw, iso) => {
    expect(new Date(parseTime('from', raw)).toISOString()).toBe(iso);
  });

  it('reads a date-time without a zone as local time', () => {
    expect(parseTime('from', '2026-11-25T08:00')).toBe(new Date(2026, 10, 25, 8, 0).getTime());
  });

  it.each([
    ['2026-02-31', ': no such date'],
    ['2025-02-29', ': no such date'],
    ['2026-13-01', ': no such date'],
    ['2026-11-25T24:00Z', ': no such time'],
    ['2026-11-25T08:60Z', ': no such time'],
    ['2026-11-25T08:00+25:00', ': no such zone offset'],
    ['1', ''],
    ['March 7', ''],
    ['2026-3-7', ''],
    ['26-03-07', ''],
    ['2026-03-07 08:00', ''],
    ['2026-03-07Z', ''],
    ['', ''],
  ])('refuses %j naming the option and the value', (raw, why) => {
    expect(() => parseTime('from', raw)).toThrow(UsageError);
    expect(() => parseTime('from', raw)).toThrow(
      `--from takes an ISO 8601 date or date-time (2026-11-25, 2026-11-25T08:00Z or 2026-11-25T08:00+01:00); got "${raw}"${why}`,
    );
  });
});

describe('parseDuration', () => {
  it.each([
    ['90s', 90_000],
    ['30m', 1_800_000],
    ['1.5h', 5_400_000],
    ['7d', 7 * DAY_MS],
    ['3650000d', 3_650_000 * DAY_MS],
  ])('reads %s', (raw, ms) => {
    expect(parseDuration('since', raw)).toBe(ms);
  });

  it.each(['99999999999d', '3650001d', `${'9'.repeat(400)}d`])('refuses %s as too long, naming the option', (raw) => {
    expect(() => parseDuration('since', raw)).toThrow(UsageError);
    expect(() => parseDuration('since', raw)).toThrow(`--since takes a duration of at most 3650000d (10,000 years); got "${raw}"`);
  });

  it.each(['0h', '0s', '0.0d'])('refuses %s as zero, saying so', (raw) => {
    expect(() => parseDuration('since', raw)).toThrow(`--since must be more than 0 (a duration like 30m, 24h or 7d); got "${raw}"`);
  });

  it.each(['forever', '-1h', '24'])('refuses %s', (raw) => {
    expect(() => parseDuration('since', raw)).toThrow(`--since takes a duration like 30m, 24h or 7d; got "${raw}"`);
  });
});

describe('scopeProblem', () => {
  const now = Date.UTC(2026, 10, 25, 12);

  it('accepts a scope that covers some time', () => {
    expect(scopeProblem({ sinceMs: DAY_MS }, now)).toBeUndefined();
    expect(scopeProblem({ fromMs: now - DAY_MS }, now)).toBeUndefined();
    expect(scopeProblem({ fromMs: Date.UTC(2026, 2, 2), toMs: Date.UTC(2026, 2, 3) }, now)).toBeUndefined();
  });

  it('refuses a from after now with no to, and a from after the to', () => {
    expect(scopeProblem({ fromMs: Date.UTC(2026, 10, 26) }, now)).toBe(
      'the scope covers no time: it starts at 2026-11-26T00:00:00.000Z, not before its end (now, 2026-11-25T12:00:00.000Z)',
    );
    expect(scopeProblem({ fromMs: Date.UTC(2026, 2, 3), toMs: Date.UTC(2026, 2, 2) }, now)).toBe(
      'the scope covers no time: it starts at 2026-03-03T00:00:00.000Z, not before its end 2026-03-02T00:00:00.000Z',
    );
  });

  it('refuses a since reaching back before year 0', () => {
    expect(scopeProblem({ sinceMs: 3_650_000 * DAY_MS }, now)).toBe('since 3650000d reaches back before 0000-01-01, the earliest a scope can start');
  });
});

import { DAY_MS } from '../shared/stories';
import { UsageError } from './temporal-client';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: DAY_MS };

/** The longest duration taken: 10,000 years (a Temporal interval and a scope both end there). */
export const MAX_DURATION_MS = 3_650_000 * DAY_MS;

/** "90s", "30m", "24h", "7d" (at most 3650000d) → milliseconds; a UsageError naming the option otherwise. */
export function parseDuration(option: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhd])$/i.exec(raw.trim());
  if (!m) throw new UsageError(`--${option} takes a duration like 30m, 24h or 7d; got "${raw}"`);
  // A well-formed zero is told as such, not as a malformed duration.
  if (Number(m[1]) <= 0) throw new UsageError(`--${option} must be more than 0 (a duration like 30m, 24h or 7d); got "${raw}"`);
  const ms = Math.round(Number(m[1]) * UNITS[m[2].toLowerCase()]);
  if (!(ms <= MAX_DURATION_MS)) throw new UsageError(`--${option} takes a duration of at most 3650000d (10,000 years); got "${raw}"`);
  return ms;
}

/** YYYY-MM-DD, optionally THH:MM[:SS[.fff]] and then optionally Z or ±HH:MM (±HHMM). */
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|([+-])(\d{2}):?(\d{2}))?)?$/i;

const isLeapYear = (y: number) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const daysInMonth = (y: number, month: number) => (month === 2 ? (isLeapYear(y) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31);

/**
 * An ISO 8601 date (UTC midnight) or date-time (local time without a zone) → ms; a UsageError
 * naming the option otherwise. Strict: every field must exist as written (no 2026-02-31, no
 * 25:00), and nothing but these forms is read ("1", "March 7" are refused, not guessed).
 */
export function parseTime(option: string, raw: string): number {
  const refuse = (why = '') =>
    new UsageError(`--${option} takes an ISO 8601 date or date-time (2026-11-25, 2026-11-25T08:00Z or 2026-11-25T08:00+01:00); got "${raw}"${why}`);
  const m = ISO_DATE_TIME.exec(raw.trim());
  if (!m) throw refuse();
  const [year, month, day, hour = 0, minute = 0, second = 0] = m.slice(1, 7).map((f) => (f === undefined ? undefined : Number(f))) as number[];
  const millis = m[7] ? Number(m[7].slice(0, 3).padEnd(3, '0')) : 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) throw refuse(': no such date');
  if (hour > 23 || minute > 59 || second > 59) throw refuse(': no such time');
  const date = new Date(0);
  if (m[4] === undefined || m[8]) {
    // A date alone is UTC midnight; a zone (Z or an offset) is applied below.
    date.setUTCFullYear(year, month - 1, day);
    date.setUTCHours(hour, minute, second, millis);
  } else {
    date.setFullYear(year, month - 1, day);
    date.setHours(hour, minute, second, millis);
  }
  if (!m[9]) return date.getTime();
  const offsetHours = Number(m[10]);
  const offsetMinutes = Number(m[11]);
  if (offsetHours > 23 || offsetMinutes > 59) throw refuse(': no such zone offset');
  return date.getTime() - (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
}

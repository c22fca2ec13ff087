import { UsageError } from './temporal-client';

/**
 * A numeric option's value: an integer from `min` to `max` in decimal digits, `fallback` when
 * the option is not given. Anything else (a fraction, a word, `1e2`, a number out of range
 * however large) is a UsageError naming the option and the range (exit 2), before any
 * connection is opened.
 */
export function intOption(option: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  // Decimal digits only: Number() would also take "1e2", "0x10", "5.0" and " 5".
  const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${option} must be an integer from ${min} to ${max}; got "${raw}"`);
  return n;
}

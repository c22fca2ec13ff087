import { UsageError } from './temporal-client';

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** "90s", "30m", "24h", "7d" → milliseconds; a UsageError naming the option otherwise. */
export function parseDuration(option: string, raw: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([smhd])$/i.exec(raw.trim());
  if (!m || Number(m[1]) <= 0) throw new UsageError(`--${option} takes a duration like 30m, 24h or 7d; got "${raw}"`);
  return Math.round(Number(m[1]) * UNITS[m[2].toLowerCase()]);
}

/** An ISO date or date-time → ms; a UsageError naming the option otherwise. */
export function parseTime(option: string, raw: string): number {
  const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(raw) ? `${raw}T00:00:00Z` : raw);
  if (!Number.isFinite(ms)) throw new UsageError(`--${option} takes an ISO date or date-time (2026-11-25 or 2026-11-25T08:00Z); got "${raw}"`);
  return ms;
}

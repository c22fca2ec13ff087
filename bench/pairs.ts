/**
 * Repeated measurements, judged on the median: one run's timing is within the machine's
 * run-to-run spread. S1 runs storyloom against its peer in pairs on the same script (so on the
 * same drawn latencies) and judges the median pair; S3 judges its median run.
 */
export interface WallPair {
  storyloomMs: number;
  peerMs: number;
}

/** The median of storyloom − peer over the pairs, and in how many storyloom was faster. */
export function comparePairs(pairs: readonly WallPair[]): { medianDiffMs: number; storyloomFaster: number } {
  if (!pairs.length) throw new Error('no pairs to compare');
  const diffs = pairs.map((p) => p.storyloomMs - p.peerMs);
  return { medianDiffMs: median(diffs), storyloomFaster: diffs.filter((d) => d < 0).length };
}

/** The middle value (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (!values.length) throw new Error('no values to take the median of');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** The item whose `value` is the median (for an even count, the lower of the middle two). */
export function medianItem<T>(items: readonly T[], value: (item: T) => number): T {
  if (!items.length) throw new Error('no items to take the median of');
  const sorted = [...items].sort((a, b) => value(a) - value(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** "+0.05 s", "−0.12 s". */
export const signedSeconds = (ms: number): string => `${ms < 0 ? '−' : '+'}${(Math.abs(ms) / 1000).toFixed(2)} s`;

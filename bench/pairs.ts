/**
 * Storyloom against its peer, run in pairs on the same script (so on the same drawn latencies):
 * one pair's difference is within the machine's run-to-run spread, so the verdict is the
 * median pair's.
 */
export interface WallPair {
  storyloomMs: number;
  peerMs: number;
}

/** The median of storyloom − peer over the pairs, and in how many storyloom was faster. */
export function comparePairs(pairs: readonly WallPair[]): { medianDiffMs: number; storyloomFaster: number } {
  if (!pairs.length) throw new Error('no pairs to compare');
  const diffs = pairs.map((p) => p.storyloomMs - p.peerMs).sort((a, b) => a - b);
  const mid = Math.floor(diffs.length / 2);
  const medianDiffMs = diffs.length % 2 ? diffs[mid] : (diffs[mid - 1] + diffs[mid]) / 2;
  return { medianDiffMs, storyloomFaster: diffs.filter((d) => d < 0).length };
}

/** "+0.05 s", "−0.12 s". */
export const signedSeconds = (ms: number): string => `${ms < 0 ? '−' : '+'}${(Math.abs(ms) / 1000).toFixed(2)} s`;

/** S2's bound comes from the work its scripts define and the latencies the simulator drew, not from the calls the app made. */
import { SEED_LATENCY, type Work } from '../../bench/bounds';
import { s2Bound } from '../../bench/scenarios/s2';
import type { Provider } from '../../src/shared/llm-routing';

const script: Work = { summaries: 4, outline: 1, sheets: 2, embeddings: 4 };
const draw = (purpose: string, ms: number, provider: Provider = 'anthropic') => ({ provider, purpose, ms });
// Two scripts' worth of chat calls: 8 summaries, 2 outlines, 4 sheets, all 1,000 ms.
const defined = [
  ...Array.from({ length: 8 }, () => draw('summary', 1_000)),
  ...Array.from({ length: 2 }, () => draw('outline', 1_000)),
  ...Array.from({ length: 4 }, () => draw('sheet', 1_000)),
];
// A scale at which one script's own bound is far below the drawn total ÷ the cap.
const ts = 0.0001;

describe('s2Bound', () => {
  it('is the drawn chat time of the defined calls ÷ the concurrency limit', () => {
    expect(s2Bound(SEED_LATENCY, [script, script], defined, 2, ts)).toBe(7_000);
  });

  it('does not grow when the app makes calls the scripts do not need', () => {
    const extra = [...defined, ...Array.from({ length: 6 }, () => draw('sheet', 1_000)), draw('summary', 5_000)];
    expect(s2Bound(SEED_LATENCY, [script, script], extra, 2, ts)).toBe(7_000);
  });

  it('ignores the other provider (embeddings) and counts a defined call the app never made at the mean', () => {
    const withEmbeds = [...defined.slice(1), draw('embedding', 9_000, 'openai')];
    const mean = SEED_LATENCY.summary.fixedMs * ts;
    expect(s2Bound(SEED_LATENCY, [script, script], withEmbeds, 2, ts)).toBeCloseTo((13_000 + mean) / 2, 6);
  });
});

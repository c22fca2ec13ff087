/** latest.md keeps one section per scenario: a run of some scenarios leaves the others' tables alone. */
import { drawnByPurpose, drawnIngestionBound, drawnStoriesBound, makespan, SEED_LATENCY } from '../../bench/bounds';
import { mergeLatest, parseSections } from '../../bench/latest';

describe('latest.md sections', () => {
  it('replaces the sections of the scenarios run and keeps the others, in scenario order', () => {
    const first = mergeLatest('', new Map([['S2', '## S2\nold S2\n'], ['S1', '## S1\nold S1\n']]));
    const second = mergeLatest(first, new Map([['S2', '## S2\nnew S2\n'], ['S10', '## S10\nten\n']]));
    const sections = parseSections(second);
    expect([...sections.keys()]).toEqual(['S1', 'S2', 'S10']);
    expect(sections.get('S1')).toBe('## S1\nold S1\n');
    expect(sections.get('S2')).toBe('## S2\nnew S2\n');
    expect(second.indexOf('old S2')).toBe(-1);
  });
});

describe('bounds from drawn latencies', () => {
  it('schedules jobs greedily on free slots', () => {
    expect(makespan([], 3)).toBe(0);
    expect(makespan([5, 1, 1], 10)).toBe(5);
    expect(makespan([3, 1, 1, 1], 2)).toBe(3); // slot 2 takes the three 1s while slot 1 runs the 3
    expect(makespan([3, 1, 1, 1, 1], 2)).toBe(4);
    expect(makespan([1, 2, 3], 1)).toBe(6);
  });

  it('fills calls the app never made with the model mean and counts them', () => {
    const b = drawnIngestionBound(
      SEED_LATENCY,
      { summary: [2100, 1900, 2500], outline: [4000], sheet: [3300], embedding: [], synthesis: [] },
      { summaries: 3, outline: 1, sheets: 2, embeddings: 3 },
      { summaries: 2, sheets: 5, batchEmbeddings: true, parallelPhase2: true },
      1,
    );
    expect(b.summariesMs).toBe(4400); // 2100 | 1900 + 2500
    expect(b.phase2Ms).toBe(4000); // max(outline 4000, sheets max(3300, 3000), embeddings 545)
    expect(b.missing).toEqual({ summary: 0, outline: 0, sheet: 1, embedding: 1 });
  });

  describe('stories (S4)', () => {
    const lat = { embedding: SEED_LATENCY.embedding, synthesis: { fixedMs: 17_500 } };
    const draws = (purpose: string, ms: number[]) => ms.map((m) => ({ purpose, ms: m }));

    it('is the embedding request, then the drawn syntheses through the window in the order they were admitted', () => {
      const drawn = drawnByPurpose([...draws('embedding', [2900]), ...draws('synthesis', [17_000, 19_000, 16_000, 18_000, 15_000, 20_000, 17_500])]);
      const work = { embeddingInputs: 150, syntheses: 7 };
      // Slots of 5: the 20 s call takes the slot freed at 15 s (ends 35 s), the 17.5 s one the slot freed at 16 s (33.5 s).
      const windowed = drawnStoriesBound(lat, drawn, work, 5, 1);
      expect(windowed).toEqual({ ms: 2900 + 35_000, embeddingMs: 2900, synthesisMs: 35_000, missing: { embedding: 0, synthesis: 0 } });
      // One at a time: their sum.
      expect(drawnStoriesBound(lat, drawn, work, 1, 1).synthesisMs).toBe(17_000 + 19_000 + 16_000 + 18_000 + 15_000 + 20_000 + 17_500);
      // The same latencies in another order schedule differently: the 20 s call first ends first in its slot.
      const reordered = drawnByPurpose(draws('synthesis', [20_000, 19_000, 16_000, 18_000, 15_000, 17_000, 17_500]));
      expect(drawnStoriesBound(lat, reordered, { embeddingInputs: 0, syntheses: 7 }, 5, 1).synthesisMs).toBe(33_500);
    });

    it('is ceil(syntheses / window) rounds of the mean without draws, and fills calls never made with the mean', () => {
      expect(drawnStoriesBound(lat, drawnByPurpose([]), { embeddingInputs: 150, syntheses: 10 }, 5, 0.1).ms).toBeCloseTo((500 + 15 * 150 + 2 * 17_500) * 0.1, 9);
      // Draws beyond the defined work (a retry, another row's call) are not the bound's.
      const b = drawnStoriesBound(lat, drawnByPurpose(draws('synthesis', [1600, 1900, 1700])), { embeddingInputs: 1, syntheses: 2 }, 5, 0.1);
      expect(b.synthesisMs).toBe(1900);
      expect(b.embeddingMs).toBeCloseTo(51.5, 9);
      expect(b.missing).toEqual({ embedding: 1, synthesis: 0 });
    });
  });
});

/** latest.md keeps one section per scenario: a run of some scenarios leaves the others' tables alone. */
import { drawnIngestionBound, makespan, SEED_LATENCY } from '../../bench/bounds';
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
      { summary: [2100, 1900, 2500], outline: [4000], sheet: [3300], embedding: [] },
      { summaries: 3, outline: 1, sheets: 2, embeddings: 3 },
      { summaries: 2, sheets: 5, batchEmbeddings: true, parallelPhase2: true },
      1,
    );
    expect(b.summariesMs).toBe(4400); // 2100 | 1900 + 2500
    expect(b.phase2Ms).toBe(4000); // max(outline 4000, sheets max(3300, 3000), embeddings 545)
    expect(b.missing).toEqual({ summary: 0, outline: 0, sheet: 1, embedding: 1 });
  });
});

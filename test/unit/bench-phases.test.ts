import { comparePhases, phaseSpans, runSpan, signedMs, slotHandoffs, type PhaseSpans } from '../../bench/phases';

const draw = (purpose: string, atMs: number, ms: number) => ({ purpose, atMs, ms });

describe('phaseSpans (bench S1: where a run is slower than its peer)', () => {
  // Summaries 2 at a time: 1010–1510 and 1012–1812, then 1530–2030; phase 2 from 2040.
  const draws = [
    draw('summary', 1010, 500),
    draw('summary', 1012, 800),
    draw('summary', 1530, 500),
    draw('outline', 2040, 900),
    draw('sheet', 2041, 300),
    draw('embedding', 2045, 100),
  ];

  it('splits the wall at the first and last calls of each phase', () => {
    expect(phaseSpans(draws, { startMs: 1000, endMs: 2960 }, ['summary'])).toEqual({
      toFirstCall: 10,
      phase1: 1020, // 1010 → 2030
      handover: 10, // 2030 → 2040
      phase2: 900, // 2040 → 2940
      toResult: 20,
    });
  });

  it('adds up to the wall, whatever order the draws come in', () => {
    const spans = phaseSpans([...draws].reverse(), { startMs: 1000, endMs: 2960 }, ['summary']);
    expect(Object.values(spans).reduce((a, b) => a + b, 0)).toBe(1960);
  });

  it('has an empty phase 2 when every call is a phase-1 call', () => {
    const spans = phaseSpans(draws.slice(0, 3), { startMs: 1000, endMs: 2050 }, ['summary']);
    expect(spans).toEqual({ toFirstCall: 10, phase1: 1020, handover: 0, phase2: 0, toResult: 20 });
  });

  it('refuses a run without a phase-1 call', () => {
    expect(() => phaseSpans(draws.slice(3), { startMs: 1000, endMs: 3000 }, ['summary'])).toThrow(/no summary request/);
  });
});

describe('comparePhases', () => {
  const spans = (phase1: number, toResult: number): PhaseSpans => ({ toFirstCall: 50, phase1, handover: 80, phase2: 7000, toResult });

  it('takes the median difference of each phase on its own', () => {
    const pairs = [
      { a: spans(22_200, 40), b: spans(22_000, 30) },
      { a: spans(22_150, 60), b: spans(22_000, 30) },
      { a: spans(22_400, 20), b: spans(22_000, 30) },
    ];
    expect(comparePhases(pairs)).toEqual({ toFirstCall: 0, phase1: 200, handover: 0, phase2: 0, toResult: 10 });
  });

  it('refuses no pairs', () => {
    expect(() => comparePhases([])).toThrow(/no pairs/);
  });
});

describe('signedMs', () => {
  it('signs and rounds', () => {
    expect(signedMs(207.4)).toBe('+207 ms');
    expect(signedMs(-29.6)).toBe('−30 ms');
    expect(signedMs(0)).toBe('+0 ms');
  });
});

describe('runSpan', () => {
  it('puts performance.now() readings on the epoch clock the simulator records', () => {
    expect(runSpan(10, 25)).toEqual({ startMs: performance.timeOrigin + 10, endMs: performance.timeOrigin + 25 });
  });
});

describe('slotHandoffs (bench S1: how long a freed slot waits for its next request)', () => {
  it('pairs each answer with the first request after it that no earlier answer took', () => {
    // Two slots: answers at 1500 and 1600; their refills start at 1512 and 1605; the last two answers end the run.
    const draws = [
      draw('summary', 1000, 500),
      draw('summary', 1000, 600),
      draw('summary', 1605, 300), // 1905
      draw('summary', 1512, 200), // 1712
      draw('outline', 1920, 900),
    ];
    expect(slotHandoffs(draws, ['summary'])).toEqual([12, 5]);
  });

  it('gives a refill to one answer only, even when two answers end before it', () => {
    // Both slots free at 1500 and 1501; one refill at 1530, the next at 1540.
    const draws = [draw('summary', 1000, 500), draw('summary', 1000, 501), draw('summary', 1530, 100), draw('summary', 1540, 100)];
    expect(slotHandoffs(draws, ['summary'])).toEqual([30, 39]);
  });

  it('has none for a run whose calls all start together', () => {
    expect(slotHandoffs([draw('summary', 1000, 500), draw('summary', 1001, 400)], ['summary'])).toEqual([]);
  });
});

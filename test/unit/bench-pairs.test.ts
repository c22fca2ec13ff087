import { comparePairs, median, medianItem, signedSeconds } from '../../bench/pairs';

describe('comparePairs (bench S1: storyloom against the DBOS peer)', () => {
  it('judges on the median pair, not the first', () => {
    // The first pair alone says "slower"; two of three say "faster".
    const pairs = [
      { storyloomMs: 28_840, peerMs: 28_790 },
      { storyloomMs: 28_700, peerMs: 28_810 },
      { storyloomMs: 28_750, peerMs: 28_780 },
    ];
    expect(comparePairs(pairs)).toEqual({ medianDiffMs: -30, storyloomFaster: 2 });
  });

  it('takes the mean of the middle two for an even count', () => {
    const pairs = [
      { storyloomMs: 100, peerMs: 90 },
      { storyloomMs: 100, peerMs: 120 },
      { storyloomMs: 100, peerMs: 96 },
      { storyloomMs: 100, peerMs: 101 },
    ];
    // Differences sorted: −20, −1, +4, +10.
    expect(comparePairs(pairs)).toEqual({ medianDiffMs: 1.5, storyloomFaster: 2 });
  });

  it('refuses an empty comparison', () => {
    expect(() => comparePairs([])).toThrow('no pairs');
  });

  it('signs the difference', () => {
    expect(signedSeconds(-120)).toBe('−0.12 s');
    expect(signedSeconds(50)).toBe('+0.05 s');
  });
});

describe('median and medianItem (bench S3: judged on the median run)', () => {
  it('takes the middle value, or the mean of the middle two', () => {
    expect(median([1.52, 1.36, 1.47])).toBe(1.47);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow('no values');
  });

  it('picks the run whose ratio is the median, not the first or the best', () => {
    const runs = [
      { run: 1, ratio: 1.6 },
      { run: 2, ratio: 1.35 },
      { run: 3, ratio: 1.48 },
    ];
    expect(medianItem(runs, (r) => r.ratio).run).toBe(3);
    // An even count: the lower of the middle two.
    expect(medianItem([...runs, { run: 4, ratio: 1.4 }], (r) => r.ratio).run).toBe(4);
    expect(() => medianItem([], (r: number) => r)).toThrow('no items');
  });
});

/** The bench report: a scenario that fails midway keeps what it measured, and an unmeasured target is a miss, never "?". */
import { limitUseTarget } from '../../bench/scenarios/s2';
import { declareTargets, markdownTable, runScenario, settleTarget, targetLines, type Row } from '../../bench/table';

const row = (id: string): Row => ({
  id, label: 'measured', wallMs: 29_700, boundMs: 29_200, llmCalls: 112, rateLimited: 0, dbQueries: 28, dbCommits: 17, historyEvents: 715, notes: [],
});

describe('a scenario that throws midway', () => {
  it('keeps the row it measured, then a FAILED row, and reports its declared targets as missed with the failure as the reason', async () => {
    const { report, error } = await runScenario('S9', async (progress) => {
      declareTargets(progress.targets, [
        { row: 'S9.1', what: 'wall ≤ 1.03 × bound' },
        { row: 'S9.2', what: 'not slower than the peer' },
      ]);
      progress.rows.push(row('S9.1'));
      progress.profile.push('S9.1: profile');
      throw new Error('the peer failed in pair 3');
    });
    expect(error).toContain('the peer failed in pair 3');
    expect(report.rows.map((r) => [r.id, r.label])).toEqual([['S9.1', 'measured'], ['S9', 'FAILED (see JSON)']]);
    expect(report.rows[1].notes).toEqual(['Error: the peer failed in pair 3']);
    expect(markdownTable(report.rows)).toContain('| S9.1 | measured | 29.7 | 29.2 | 1.02× |');
    expect(report.profile).toEqual(['S9.1: profile']);
    expect(targetLines(report.targets, true)).toBe(
      [
        '- ❌ **S9.1** wall ≤ 1.03 × bound: not measured (S9 failed first: the peer failed in pair 3)',
        '- ❌ **S9.2** not slower than the peer: not measured (S9 failed first: the peer failed in pair 3)',
      ].join('\n'),
    );
    expect(report.targets.every((t) => t.met === false)).toBe(true);
  });

  it('keeps a target it measured before failing as measured', async () => {
    const { report } = await runScenario('S9', async (progress) => {
      declareTargets(progress.targets, [{ row: 'S9.1', what: 'zero 429s' }, { row: 'S9.2', what: 'wall ≤ 1.1 × bound' }]);
      settleTarget(progress.targets, { row: 'S9.1', what: 'zero 429s', value: '0', met: true });
      throw new Error('boom');
    });
    expect(targetLines(report.targets, false)).toBe(['  [met] S9.1 zero 429s: 0', '  [MISSED] S9.2 wall ≤ 1.1 × bound: not measured (S9 failed first: boom)'].join('\n'));
  });

  it('reports a scenario that completes as it returned it, with no error', async () => {
    const targets = [{ row: 'S9', what: 'zero 429s', value: '0', met: true }];
    const { report, error } = await runScenario('S9', async () => ({ rows: [row('S9')], targets, profile: [], details: { x: 1 } }));
    expect(error).toBeUndefined();
    expect(report.rows.map((r) => r.id)).toEqual(['S9']);
    expect(report.targets).toEqual(targets);
  });
});

describe('a target that was not measured', () => {
  it('renders as missed (❌ / MISSED) with why, not "?"', () => {
    const t = { row: 'S2', what: '≥ 90% of the Anthropic limit used', value: 'n/a', met: null };
    expect(targetLines([t], true)).toBe('- ❌ **S2** ≥ 90% of the Anthropic limit used: n/a (not measured)');
    expect(targetLines([t], false)).toBe('  [MISSED] S2 ≥ 90% of the Anthropic limit used: n/a (not measured)');
  });

  it('left unmeasured by a scenario that completes, is missed', async () => {
    const { report } = await runScenario('S9', async () => ({ rows: [], targets: [{ row: 'S9', what: 'x', value: '', met: null }], profile: [], details: {} }));
    expect(report.targets).toEqual([{ row: 'S9', what: 'x', value: 'not measured (the scenario never measured it)', met: false }]);
  });

  it('S2: when the summaries never all complete, "≥ 90 % of the limit used" is missed and says why', () => {
    const t = limitUseTarget({ utilWindow: undefined, rpmWindow: undefined, summariesAnswered: 970, summariesDefined: 1000 });
    expect(t.met).toBe(false);
    expect(t.value).toBe('not measured: the summaries never all completed (970 of 1000 answered), so there is no summaries window');
    expect(limitUseTarget({ utilWindow: 0.975, rpmWindow: 0.887, summariesAnswered: 1000, summariesDefined: 1000 })).toMatchObject({ value: '97.5% (concurrency 97.5%, RPM 88.7%)', met: true });
  });
});

/** Bench S5 and S6: latencies drawn with --jitter, and bounds from what the simulator drew and sent, not from what the app reports. */
import { startBenchApp, type BenchEnv } from '../../bench/env';
import { runS5, s5Bound } from '../../bench/scenarios/s5';
import { runS6, turnBound } from '../../bench/scenarios/s6';
import type { ScenarioCtx } from '../../bench/scenarios/common';
import { runScenario, targetLines } from '../../bench/table';

jest.mock('../../bench/env', () => ({ ...jest.requireActual('../../bench/env'), startBenchApp: jest.fn() }));
const startApp = startBenchApp as jest.MockedFunction<typeof startBenchApp>;

const ctx: ScenarioCtx = { env: {} as BenchEnv, timeScale: 0.1, jitter: 0.27, pairs: 3, repeat: 3, runTag: 't', log: () => undefined };

describe('S5 and S6 run with the jitter they are labelled with', () => {
  beforeEach(() => startApp.mockReset().mockRejectedValue(new Error('no simulator in a unit test')));

  it('S5 starts its simulator with --jitter, and a failure there reports every S5 target as missed', async () => {
    const { report, error } = await runScenario('S5', (progress) => runS5({ ...ctx, progress }));
    expect(startApp.mock.calls[0][2]).toMatchObject({ timeScale: 0.1, jitter: 0.27 });
    expect(error).toContain('no simulator in a unit test');
    expect(report.targets.map((t) => t.row)).toEqual(['S5.2', 'S5.2', 'S5.2', 'S5.2', 'S5.3']);
    expect(targetLines(report.targets, true).split('\n').every((l) => l.startsWith('- ❌ ') && l.endsWith('not measured (S5 failed first: no simulator in a unit test)'))).toBe(true);
  });

  it('S6 starts its simulator with --jitter', async () => {
    const { report } = await runScenario('S6', (progress) => runS6({ ...ctx, progress }));
    expect(startApp.mock.calls[0][2]).toMatchObject({ timeScale: 0.1, jitter: 0.27 });
    expect(report.targets).toHaveLength(6);
  });
});

describe('S5 bound', () => {
  const draw = (purpose: string, ms: number, meanMs: number) => ({ purpose, ms, meanMs });

  it('is the persona query, the drawn count request, then the drawn generations through the window of variants', () => {
    // Three variants drawn at 12 s, 15 s and 13 s (the tokens the simulator sent at its rate, × each draw), in flight together.
    const draws = [draw('screenplay.count', 6, 5), draw('screenplay', 12_000, 14_000), draw('screenplay', 15_000, 14_000), draw('screenplay', 13_000, 14_000)];
    const b = s5Bound(draws, 3, 40, 0.1);
    expect(b).toEqual({ ms: 40 + 6 + 15_000, countMs: 6, generationMs: 15_000, firstByteMs: 80 * (12_000 / 14_000), missing: { count: 0, screenplay: 0 } });
  });

  it('counts only the defined generations (a further call is the app\'s) and fills ones never made with the first byte', () => {
    expect(s5Bound([draw('screenplay', 9_000, 10_000), draw('screenplay', 20_000, 10_000)], 1, 0, 1).ms).toBe(50 + 9_000);
    expect(s5Bound([], 1, 10, 1)).toMatchObject({ ms: 10 + 50 + 800, missing: { count: 1, screenplay: 1 } });
  });
});

describe('S6 turn bound', () => {
  const tools = [
    { kind: 'read_only', durationMs: 100 },
    { kind: 'read_only', durationMs: 250 },
    { kind: 'read_only', durationMs: 80 },
    { kind: 'write', durationMs: 40 },
    { kind: 'write', durationMs: 60 },
  ];

  it('is the turn\'s two LLM calls as drawn, not the model mean, plus the slowest read and the writes in sequence (the app\'s tool times)', () => {
    const draws = [{ purpose: 'session', ms: 1200 }, { purpose: 'embedding', ms: 150 }, { purpose: 'session', ms: 2100 }];
    expect(turnBound(draws, tools, 1500)).toEqual({ boundMs: 1200 + 2100 + 250 + 100, llmMs: 3300, slowestReadMs: 250, writesMs: 100, missingLlmCalls: 0 });
  });

  it('ignores LLM calls beyond the two defined and fills ones never made with the mean', () => {
    expect(turnBound([1000, 1100, 5000].map((ms) => ({ purpose: 'session', ms })), [], 1500).llmMs).toBe(2100);
    expect(turnBound([{ purpose: 'session', ms: 1000 }], [], 1500)).toMatchObject({ llmMs: 2500, missingLlmCalls: 1 });
  });
});

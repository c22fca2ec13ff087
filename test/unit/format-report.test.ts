/** The printed run report (`storyloom report`): what it shows and in what order. */
import { computeRunReport, type RunReport } from '../../src/reporting/run-report';
import { formatReport } from '../../src/reporting/format-report';

it("lists a stories run's phases in the order they run, whatever order the stored report's keys came back in", () => {
  // Postgres JSONB orders keys by length, then bytes: writing, synthesis, clustering.
  const report = computeRunReport({
    workflowId: 'wf', runIds: ['r'], kind: 'generateStories', scriptId: null, status: 'completed', wallMs: 10_000,
    phasesMs: { writing: 300, synthesis: 6_000, clustering: 1_200 },
    calls: [], prices: {}, db: null, historyEvents: null,
  });
  expect(formatReport(report)).toMatch(/Phases: clustering 1\.20 s, synthesis 6\.00 s, writing 0\.30 s/);
});

it('gives each LLM line p50, p95 and p99 latencies (seed 001 tracks all three); a report stored before p99 says n/a', () => {
  const calls = Array.from({ length: 100 }, (_, i) => ({
    purpose: 'synthesis', provider: 'anthropic', model: 'm', outcome: 'ok', errorType: null, latencyMs: i + 1, inputTokens: 1, outputTokens: 1, attempt: 1,
  }));
  const report = computeRunReport({
    workflowId: 'wf', runIds: ['r'], kind: 'generateStories', scriptId: null, status: 'completed', wallMs: 1000,
    phasesMs: {}, calls, prices: {}, db: null, historyEvents: null,
  });
  expect(report.llm[0]).toMatchObject({ p50Ms: 50, p95Ms: 95, p99Ms: 99, maxMs: 100 });
  const printed = formatReport(report);
  expect(printed).toMatch(/p50\s+p95\s+p99\s+max/);
  expect(printed).toMatch(/50 ms\s+95 ms\s+99 ms\s+100 ms/);
  const { p99Ms: _dropped, ...older } = report.llm[0];
  expect(formatReport({ ...report, llm: [older] })).toMatch(/95 ms\s+n\/a\s+100 ms/);
});

const report = (over: Partial<RunReport>): RunReport => ({
  workflowId: 'screenplay-1',
  runIds: ['r1'],
  kind: 'generateScreenplay',
  scriptId: null,
  status: 'completed',
  wallMs: 1000,
  phasesMs: { preparing: 100, generating: 900 },
  criticalPath: { steps: [], lowerBoundMs: 0, overheadMs: 1000 },
  llm: [],
  totals: { calls: 0, providerCalls: 0, cacheHits: 0, retries: 0, rateLimited: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, unpricedModels: [] },
  db: null,
  history: null,
  ...over,
});
const figures = { storyId: 'c0ffee00-0000-4000-8000-000000000000', variants: 1, variantsInFlight: 1, truncated: 0, saveCommits: 0 };

it('a run cancelled before it saved anything says so: the story id names nothing saved, the error that it was cancelled', () => {
  const text = formatReport(report({ status: 'cancelled', error: { type: 'CancelledFailure', message: '' }, screenplay: { ...figures, versions: [] } }));
  expect(text).toContain('Error: CancelledFailure (the run was cancelled)');
  expect(text).not.toMatch(/CancelledFailure: $/m);
  expect(text).toContain('Screenplay: story id c0ffee00-0000-4000-8000-000000000000, nothing saved under it by this run, 0 of 1 variant(s) saved (no version saved; 1 at a time)');
});

it('a run that saved names its story and versions, and an error with a message says it', () => {
  const text = formatReport(report({ status: 'failed', error: { type: 'InvalidScreenplay', message: 'no scene heading' }, screenplay: { ...figures, versions: [3], saveCommits: 1 } }));
  expect(text).toContain('Error: InvalidScreenplay: no scene heading');
  expect(text).toContain('Screenplay: story c0ffee00-0000-4000-8000-000000000000, 1 of 1 variant(s) saved (version(s) 3; 1 at a time)');
});
